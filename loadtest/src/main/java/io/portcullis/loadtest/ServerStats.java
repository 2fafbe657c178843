package io.portcullis.loadtest;

import org.jspecify.annotations.Nullable;

/** Server-side figures of a service under load (a child JVM), sampled around a measurement. */
interface ServerStats {

  /** The current figures, or {@code null} when there is no separate server to ask. */
  @Nullable Snapshot snapshot();

  ServerStats NONE = () -> null;

  /**
   * @param nanoTime the server's monotonic clock when sampled
   * @param cpuNanos the server process's CPU time so far
   * @param gcCount collections so far
   * @param gcMillis time spent collecting so far
   * @param heapUsed heap in use now
   * @param heapCommitted heap committed now
   * @param maxHeapAfterGc the largest heap occupancy right after a collection since the last reset
   *     (the live set plus what survived)
   * @param okAnswers answers the server itself counted as OK (the empty server's counter, or
   *     Portcullis's allow decisions), for checking an external client's results
   * @param allocatedBytes heap bytes allocated by all the server's threads so far (virtual threads
   *     count on their carriers): per request, a figure the neighbours' load does not change
   * @param threads CPU time so far of the audit log's, the JIT's and the GC's threads
   */
  record Snapshot(
      long nanoTime,
      long cpuNanos,
      long gcCount,
      long gcMillis,
      long heapUsed,
      long heapCommitted,
      long maxHeapAfterGc,
      long okAnswers,
      long allocatedBytes,
      ThreadGroupsCpu.Times threads) {

    String encode() {
      return "STATS "
          + nanoTime
          + " "
          + cpuNanos
          + " "
          + gcCount
          + " "
          + gcMillis
          + " "
          + heapUsed
          + " "
          + heapCommitted
          + " "
          + maxHeapAfterGc
          + " "
          + okAnswers
          + " "
          + allocatedBytes
          + " "
          + threads.auditNanos()
          + " "
          + threads.jitNanos()
          + " "
          + threads.gcNanos();
    }

    static Snapshot decode(String line) {
      String[] p = line.trim().split(" ");
      if (p.length != 13 || !p[0].equals("STATS")) {
        throw new IllegalArgumentException("not a stats line: " + line);
      }
      return new Snapshot(
          Long.parseLong(p[1]),
          Long.parseLong(p[2]),
          Long.parseLong(p[3]),
          Long.parseLong(p[4]),
          Long.parseLong(p[5]),
          Long.parseLong(p[6]),
          Long.parseLong(p[7]),
          Long.parseLong(p[8]),
          Long.parseLong(p[9]),
          new ThreadGroupsCpu.Times(
              Long.parseLong(p[10]), Long.parseLong(p[11]), Long.parseLong(p[12])));
    }
  }

  /** What changed between two snapshots. */
  record Delta(
      double seconds,
      long cpuNanos,
      long gcCount,
      long gcMillis,
      long heapCommitted,
      long maxHeapAfterGc,
      long okAnswers,
      long allocatedBytes,
      ThreadGroupsCpu.Times threads) {

    /** Server CPU microseconds per answer at {@code rate} answers per second. */
    double cpuMicrosPerRequest(double rate) {
      return rate <= 0 ? 0 : cpuNanos / 1000.0 / (rate * seconds);
    }

    /** Server heap bytes allocated per answer at {@code rate} answers per second. */
    double allocatedBytesPerRequest(double rate) {
      return rate <= 0 ? 0 : allocatedBytes / (rate * seconds);
    }

    /** Server CPU cores busy on average. */
    double cores() {
      return cpuNanos / 1e9 / seconds;
    }

    /** Microseconds per answer of {@code nanos} CPU time at {@code rate} answers per second. */
    double microsPerRequest(long nanos, double rate) {
      return rate <= 0 ? 0 : nanos / 1000.0 / (rate * seconds);
    }

    String describe(double rate) {
      return String.format(
          "server %.2f cores, %.1f µs CPU/req (audit %.1f, JIT %.1f, GC %.1f), %.1f KB"
              + " allocated/req, %d GCs (%d ms), heap after GC max %.0f MB of %.0f MB",
          cores(),
          cpuMicrosPerRequest(rate),
          microsPerRequest(threads.auditNanos(), rate),
          microsPerRequest(threads.jitNanos(), rate),
          microsPerRequest(threads.gcNanos(), rate),
          allocatedBytesPerRequest(rate) / 1024.0,
          gcCount,
          gcMillis,
          maxHeapAfterGc / 1048576.0,
          heapCommitted / 1048576.0);
    }
  }

  static @Nullable Delta delta(@Nullable Snapshot a, @Nullable Snapshot b) {
    if (a == null || b == null) {
      return null;
    }
    return new Delta(
        (b.nanoTime() - a.nanoTime()) / 1e9,
        b.cpuNanos() - a.cpuNanos(),
        b.gcCount() - a.gcCount(),
        b.gcMillis() - a.gcMillis(),
        b.heapCommitted(),
        b.maxHeapAfterGc(),
        b.okAnswers() - a.okAnswers(),
        b.allocatedBytes() - a.allocatedBytes(),
        new ThreadGroupsCpu.Times(
            b.threads().auditNanos() - a.threads().auditNanos(),
            b.threads().jitNanos() - a.threads().jitNanos(),
            b.threads().gcNanos() - a.threads().gcNanos()));
  }
}
