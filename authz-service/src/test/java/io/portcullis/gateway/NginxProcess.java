package io.portcullis.gateway;

import static org.awaitility.Awaitility.await;

import io.portcullis.testing.RepoRoot;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.concurrent.TimeUnit;

/**
 * Debian's nginx ({@value #BINARY}) running {@code examples/nginx/nginx.conf} as a child process,
 * with the template's placeholders replaced by the given ports and everything it writes (pid file,
 * temp directories, error and access log) under one prefix directory.
 *
 * <p>Run as root (as here and in CI), nginx starts its workers as {@code nobody}: the example has
 * no {@code user} directive, and the test does not add one. The prefix is therefore made
 * traversable ({@code 0755}); nginx creates {@code tmp/*} itself and hands them to the worker user.
 * Unprivileged users run the same command unchanged.
 */
final class NginxProcess implements AutoCloseable {
  static final String BINARY = "/usr/sbin/nginx";
  static final String PACKAGE = "nginx";

  private static final Duration STARTUP = Duration.ofSeconds(20);
  private static final Duration SHUTDOWN = Duration.ofSeconds(20);

  private final Process process;
  private final Path prefix;
  private final int port;

  private NginxProcess(Process process, Path prefix, int port) {
    this.process = process;
    this.prefix = prefix;
    this.port = port;
  }

  /**
   * Starts nginx and returns once it accepts connections on its listen port.
   *
   * @throws AssertionError if the binary is missing or nginx exits or does not listen in time
   */
  static NginxProcess start(Path prefix, int portcullisPort, int upstreamPort) throws IOException {
    if (!Files.isExecutable(Path.of(BINARY))) {
      throw new AssertionError(
          BINARY
              + " not found: install Debian's '"
              + PACKAGE
              + "' package (apt-get install "
              + PACKAGE
              + "; .ci/run does)");
    }
    int listen = freePort();
    String conf =
        Files.readString(RepoRoot.resolve("examples/nginx/nginx.conf"))
            .replace("__LISTEN_PORT__", String.valueOf(listen))
            .replace("__PORTCULLIS_PORT__", String.valueOf(portcullisPort))
            .replace("__UPSTREAM_PORT__", String.valueOf(upstreamPort));
    Files.writeString(prefix.resolve("nginx.conf"), conf);
    Files.createDirectories(prefix.resolve("tmp"));
    for (Path dir : new Path[] {prefix, prefix.resolve("tmp")}) {
      Files.setPosixFilePermissions(dir, PosixFilePermissions.fromString("rwxr-xr-x"));
    }
    Process p =
        new ProcessBuilder(
                BINARY,
                "-p",
                prefix.toString(),
                "-c",
                "nginx.conf",
                "-e",
                "stderr",
                "-g",
                "daemon off;")
            .redirectOutput(prefix.resolve("access.log").toFile())
            .redirectError(prefix.resolve("error.log").toFile())
            .start();
    NginxProcess nginx = new NginxProcess(p, prefix, listen);
    try {
      await()
          .atMost(STARTUP)
          .pollInterval(Duration.ofMillis(50))
          .until(
              () -> {
                if (!p.isAlive()) {
                  throw new AssertionError(
                      "nginx exited with " + p.exitValue() + ":\n" + nginx.errorLog());
                }
                return nginx.pidFileNamesThisProcess() && accepts(listen);
              });
    } catch (RuntimeException | Error e) {
      p.destroyForcibly();
      throw e;
    }
    return nginx;
  }

  int port() {
    return port;
  }

  String errorLog() {
    return read(prefix.resolve("error.log"));
  }

  String accessLog() {
    return read(prefix.resolve("access.log"));
  }

  /**
   * Graceful shutdown (SIGQUIT: finish open requests, then exit), then waits for the master to
   * exit; kills it if it does not.
   *
   * @return nginx's exit status
   * @throws AssertionError if nginx did not exit in time
   */
  int quit() throws IOException, InterruptedException {
    if (process.isAlive()) {
      Process kill =
          new ProcessBuilder("kill", "-QUIT", Long.toString(process.pid()))
              .redirectErrorStream(true)
              .start();
      kill.getInputStream().readAllBytes();
      kill.waitFor(10, TimeUnit.SECONDS);
    }
    if (!process.waitFor(SHUTDOWN.toMillis(), TimeUnit.MILLISECONDS)) {
      process.destroyForcibly();
      throw new AssertionError("nginx did not exit within " + SHUTDOWN + " of SIGQUIT");
    }
    return process.exitValue();
  }

  @Override
  public void close() {
    process.destroyForcibly();
  }

  private boolean pidFileNamesThisProcess() {
    Path pid = prefix.resolve("nginx.pid");
    return Files.isRegularFile(pid) && read(pid).trim().equals(Long.toString(process.pid()));
  }

  private static boolean accepts(int port) {
    try (Socket s = new Socket()) {
      s.connect(new InetSocketAddress("127.0.0.1", port), 200);
      return true;
    } catch (IOException e) {
      return false;
    }
  }

  private static String read(Path file) {
    try {
      return Files.isRegularFile(file) ? Files.readString(file, StandardCharsets.UTF_8) : "";
    } catch (IOException e) {
      return "(cannot read " + file + ": " + e + ")";
    }
  }

  static int freePort() throws IOException {
    try (ServerSocket s = new ServerSocket(0)) {
      return s.getLocalPort();
    }
  }
}
