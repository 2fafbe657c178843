package io.portcullis.loadtest;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.lang.management.ManagementFactory;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.URI;
import java.nio.charset.StandardCharsets;

/**
 * CPU time of this process (the generator and the limiter clients in it) and of the Redis server
 * ({@code INFO cpu}: {@code used_cpu_sys + used_cpu_user}), read at the start and end of a
 * measurement window: the cost per decision, which neighbours on shared cores disturb far less than
 * the wall-clock rate. Redis's figure covers every client of that server, so it is only the
 * limiter's own while nothing else uses the same Redis.
 */
final class CpuMeter {
  /** CPU used so far: this process in nanoseconds, Redis in microseconds. */
  record Reading(long processNanos, long redisMicros) {}

  /** CPU per decision over a window, in microseconds; {@code NaN} when nothing was decided. */
  record Cost(double clientMicros, double redisMicros) {
    static final Cost UNKNOWN = new Cost(Double.NaN, Double.NaN);

    static Cost between(Reading a, Reading b, long decisions) {
      if (decisions <= 0) {
        return UNKNOWN;
      }
      return new Cost(
          (b.processNanos() - a.processNanos()) / 1000.0 / decisions,
          (double) (b.redisMicros() - a.redisMicros()) / decisions);
    }
  }

  private final String host;
  private final int port;

  CpuMeter(String redisUri) {
    URI u = URI.create(redisUri);
    this.host = u.getHost();
    this.port = u.getPort() < 0 ? 6379 : u.getPort();
  }

  Reading read() {
    long process =
        ((com.sun.management.OperatingSystemMXBean) ManagementFactory.getOperatingSystemMXBean())
            .getProcessCpuTime();
    return new Reading(process, redisCpuMicros());
  }

  /** {@code INFO cpu} over a plain socket, so that no client library's threads are measured. */
  private long redisCpuMicros() {
    try (Socket s = new Socket()) {
      s.connect(new InetSocketAddress(host, port), 2000);
      s.setSoTimeout(2000);
      OutputStream out = s.getOutputStream();
      out.write("INFO cpu\r\n".getBytes(StandardCharsets.US_ASCII));
      out.flush();
      InputStream in = s.getInputStream();
      String header = line(in); // $<length>
      if (!header.startsWith("$")) {
        throw new IOException("unexpected INFO reply " + header);
      }
      byte[] body = in.readNBytes(Integer.parseInt(header.substring(1)));
      double seconds = 0;
      for (String l : new String(body, StandardCharsets.US_ASCII).split("\r\n")) {
        if (l.startsWith("used_cpu_sys:") || l.startsWith("used_cpu_user:")) {
          seconds += Double.parseDouble(l.substring(l.indexOf(':') + 1));
        }
      }
      return Math.round(seconds * 1e6);
    } catch (IOException e) {
      throw new UncheckedIOException("INFO cpu from " + host + ":" + port, e);
    }
  }

  private static String line(InputStream in) throws IOException {
    StringBuilder b = new StringBuilder();
    int c;
    while ((c = in.read()) >= 0 && c != '\n') {
      if (c != '\r') {
        b.append((char) c);
      }
    }
    return b.toString();
  }
}
