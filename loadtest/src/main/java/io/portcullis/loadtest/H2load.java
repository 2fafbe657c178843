package io.portcullis.loadtest;

import io.envoyproxy.envoy.service.auth.v3.CheckRequest;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Debian's {@code h2load} (nghttp2-client) as an independent client of the gRPC Check endpoint: the
 * body is one gRPC message (a 5-byte prefix, uncompressed flag and big-endian length, then the
 * serialized {@code CheckRequest}), sent with {@code content-type: application/grpc} and {@code te:
 * trailers}. h2load is closed-loop ({@code -c} connections, {@code -m} streams each) and only
 * counts HTTP statuses, so the gRPC status is verified on the server: its count of OK answers must
 * grow by exactly the number of requests h2load completed.
 */
final class H2load {
  /**
   * @param requests requests sent ({@code -n})
   * @param succeeded HTTP 2xx answers h2load counted
   * @param failed failed or errored requests
   * @param seconds h2load's "finished in"
   * @param rate h2load's req/s
   * @param meanMs mean time for request
   * @param maxMs max time for request
   * @param serverOk the server's own count of OK answers during the run
   */
  record Result(
      long requests,
      long succeeded,
      long failed,
      double seconds,
      double rate,
      double meanMs,
      double maxMs,
      long serverOk,
      double loadAverage) {
    boolean verified() {
      return failed == 0 && succeeded == requests && serverOk == requests;
    }

    String line(String target) {
      return String.format(
          "h2load %-14s %8.0f req/s  mean %.3f ms max %.3f ms  %d/%d 2xx, server counted %d"
              + " grpc-status OK (%s)  load %.2f",
          target,
          rate,
          meanMs,
          maxMs,
          succeeded,
          requests,
          serverOk,
          verified() ? "verified" : "MISMATCH",
          loadAverage);
    }
  }

  private H2load() {}

  static boolean available() {
    try {
      Process p = new ProcessBuilder("h2load", "--version").redirectErrorStream(true).start();
      p.getInputStream().readAllBytes();
      return p.waitFor(10, TimeUnit.SECONDS) && p.exitValue() == 0;
    } catch (IOException | InterruptedException e) {
      return false;
    }
  }

  /** Writes {@code check} as one length-prefixed gRPC message. */
  static Path body(CheckRequest check, Path file) throws IOException {
    byte[] msg = check.toByteArray();
    ByteBuffer b = ByteBuffer.allocate(5 + msg.length);
    b.put((byte) 0).putInt(msg.length).put(msg);
    Files.write(file, b.array());
    return file;
  }

  /** The h2load command line (also printed into the report). */
  static List<String> command(Path body, int port, long requests, int connections, int streams) {
    List<String> cmd = new ArrayList<>();
    cmd.addAll(
        List.of(
            "h2load",
            "-t",
            "1",
            "-c",
            Integer.toString(connections),
            "-m",
            Integer.toString(streams),
            "-n",
            Long.toString(requests),
            "-d",
            body.toString(),
            "-H",
            "content-type: application/grpc",
            "-H",
            "te: trailers",
            "http://127.0.0.1:" + port + "/envoy.service.auth.v3.Authorization/Check"));
    return cmd;
  }

  static Result run(ServiceProcess server, List<String> cmd, Path log)
      throws IOException, InterruptedException {
    ServerStats.Snapshot before = server.snapshot();
    Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
    String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    if (!p.waitFor(5, TimeUnit.MINUTES)) {
      p.destroyForcibly();
      throw new IOException("h2load did not finish");
    }
    ServerStats.Snapshot after = server.snapshot();
    Files.writeString(log, String.join(" ", cmd) + "\n\n" + out);
    long requests = Long.parseLong(cmd.get(cmd.indexOf("-n") + 1));
    return new Result(
        requests,
        group(out, "(\\d+) succeeded", 0),
        group(out, "(\\d+) failed", 0) + group(out, "(\\d+) errored", 0),
        millis(out, "finished in ([0-9.]+(?:ms|us|s)),") / 1000,
        decimal(out, "finished in \\S+, ([0-9.]+) req/s"),
        millis(out, "time for request:\\s+\\S+\\s+\\S+\\s+(\\S+)"),
        millis(out, "time for request:\\s+\\S+\\s+(\\S+)"),
        after.okAnswers() - before.okAnswers(),
        MachineInfo.loadAverage1());
  }

  private static long group(String s, String regex, long otherwise) {
    Matcher m = Pattern.compile(regex).matcher(s);
    return m.find() ? Long.parseLong(m.group(1)) : otherwise;
  }

  private static double decimal(String s, String regex) {
    Matcher m = Pattern.compile(regex).matcher(s);
    return m.find() ? Double.parseDouble(m.group(1)) : Double.NaN;
  }

  /** h2load prints times as {@code 123us}, {@code 4.56ms} or {@code 1.2s}. */
  private static double millis(String s, String regex) {
    Matcher m = Pattern.compile(regex).matcher(s);
    if (!m.find()) {
      return Double.NaN;
    }
    String v = m.group(1);
    if (v.endsWith("us")) {
      return Double.parseDouble(v.substring(0, v.length() - 2)) / 1000;
    }
    if (v.endsWith("ms")) {
      return Double.parseDouble(v.substring(0, v.length() - 2));
    }
    if (v.endsWith("s")) {
      return Double.parseDouble(v.substring(0, v.length() - 1)) * 1000;
    }
    return Double.parseDouble(v);
  }
}
