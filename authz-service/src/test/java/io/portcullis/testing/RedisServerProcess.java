package io.portcullis.testing;

import static org.awaitility.Awaitility.await;

import java.io.IOException;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import org.jspecify.annotations.Nullable;

/**
 * A private {@code redis-server} on a free port for tests that stop and restart Redis (the shared
 * server must never be broken). Started with {@code --save '' --appendonly no}; killed by {@link
 * #close()}.
 */
public final class RedisServerProcess implements AutoCloseable {
  private final int port;
  private final Path dir;
  private @Nullable Process process;

  private RedisServerProcess(int port, Path dir) {
    this.port = port;
    this.dir = dir;
  }

  /** Starts a server on a free port and waits until it answers PING. */
  public static RedisServerProcess start() throws IOException {
    int port;
    try (ServerSocket s = new ServerSocket(0)) {
      port = s.getLocalPort();
    }
    RedisServerProcess p =
        new RedisServerProcess(port, Files.createTempDirectory("portcullis-redis"));
    p.startAgain();
    return p;
  }

  public int port() {
    return port;
  }

  /** {@code redis://127.0.0.1:<port>}. */
  public String url() {
    return "redis://127.0.0.1:" + port;
  }

  /** (Re)starts the server on the same port and waits until it answers PING. */
  public void startAgain() throws IOException {
    if (process != null && process.isAlive()) {
      return;
    }
    process =
        new ProcessBuilder(
                "redis-server",
                "--port",
                Integer.toString(port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                dir.toString())
            .redirectErrorStream(true)
            .redirectOutput(dir.resolve("redis.log").toFile())
            .start();
    await().atMost(Duration.ofSeconds(10)).until(this::answersPing);
  }

  /** Kills the server (as a crash would) and waits until the port is closed. */
  public void stop() {
    Process p = process;
    if (p == null) {
      return;
    }
    p.destroyForcibly();
    await().atMost(Duration.ofSeconds(10)).until(() -> !p.isAlive() && !answersPing());
    process = null;
  }

  /**
   * Sends one command on a connection of its own and returns the reply: a simple or error line as
   * it came ({@code +OK}, {@code -ERR ...}), an integer as its digits, a bulk string's content. For
   * administration in tests ({@code CLIENT PAUSE}, {@code INFO commandstats}).
   */
  public String command(String... args) throws IOException {
    try (Socket s = new Socket()) {
      s.connect(new InetSocketAddress("127.0.0.1", port), 1000);
      s.setSoTimeout(5000);
      StringBuilder req = new StringBuilder("*").append(args.length).append("\r\n");
      for (String a : args) {
        req.append('$').append(a.getBytes(StandardCharsets.UTF_8).length).append("\r\n");
        req.append(a).append("\r\n");
      }
      OutputStream out = s.getOutputStream();
      out.write(req.toString().getBytes(StandardCharsets.UTF_8));
      out.flush();
      java.io.DataInputStream in = new java.io.DataInputStream(s.getInputStream());
      String line = readLine(in);
      if (line.startsWith(":")) {
        return line.substring(1);
      }
      if (!line.startsWith("$")) {
        return line;
      }
      byte[] body = new byte[Integer.parseInt(line.substring(1))];
      in.readFully(body);
      return new String(body, StandardCharsets.UTF_8);
    }
  }

  /** How often the server ran {@code command} (lower case), from {@code INFO commandstats}. */
  public long calls(String command) throws IOException {
    for (String line : command("INFO", "commandstats").split("\r\n")) {
      if (line.startsWith("cmdstat_" + command + ":calls=")) {
        String rest = line.substring(("cmdstat_" + command + ":calls=").length());
        return Long.parseLong(rest.substring(0, rest.indexOf(',')));
      }
    }
    return 0;
  }

  private static String readLine(java.io.DataInputStream in) throws IOException {
    StringBuilder b = new StringBuilder();
    int c;
    while ((c = in.read()) != -1 && c != '\n') {
      if (c != '\r') {
        b.append((char) c);
      }
    }
    return b.toString();
  }

  @Override
  public void close() {
    stop();
  }

  private boolean answersPing() {
    try (Socket s = new Socket()) {
      s.connect(new InetSocketAddress("127.0.0.1", port), 200);
      s.setSoTimeout(500);
      OutputStream out = s.getOutputStream();
      out.write("PING\r\n".getBytes(StandardCharsets.US_ASCII));
      out.flush();
      byte[] buf = new byte[7];
      int n = s.getInputStream().read(buf);
      return n > 0 && new String(buf, 0, n, StandardCharsets.US_ASCII).startsWith("+PONG");
    } catch (IOException e) {
      return false;
    }
  }
}
