package io.portcullis.loadtest;

import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import io.portcullis.audit.AuditSettings;
import io.portcullis.audit.AuditStore;
import io.portcullis.audit.AuditWriter;
import io.portcullis.audit.ChainVerification;
import io.portcullis.store.Database;
import io.portcullis.store.StoreSettings;
import java.lang.management.ManagementFactory;
import java.lang.management.ThreadMXBean;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.concurrent.locks.LockSupport;

/**
 * Sustained audit writer throughput into SQLite: one producer thread offers decisions ({@link
 * AuditBenchData}'s mix, made on the fly) to a started {@link AuditWriter} at a fixed rate (open
 * loop, paced per millisecond) for {@code --seconds}, then the writer is closed (drained). Prints
 * per-second written counts and queue depth, then the totals: offered, written, dropped, the
 * written rate while the producer ran, and how long draining took. A run passes when nothing was
 * dropped and the chain verifies.
 *
 * <pre>
 * java --enable-native-access=ALL-UNNAMED -Xmx2g -cp loadtest/target/benchmarks.jar \
 *     io.portcullis.loadtest.AuditWriterThroughput --rate 50000 --seconds 30
 * </pre>
 *
 * <p>{@code --flush-interval-ms N} sets {@code audit.flush_interval} (default 50): how the batch
 * pacing changes the cost per record at a given rate (RESULTS finding 11).
 *
 * <p>{@code --url jdbc:postgresql://...} writes into that store instead of a fresh SQLite file
 * (give it an empty database of its own: the run leaves its records there).
 */
public final class AuditWriterThroughput {
  private AuditWriterThroughput() {}

  public static void main(String[] args) throws Exception {
    int rate = 50_000;
    int seconds = 30;
    int maxBatch = AuditSettings.defaults().maxBatch();
    Path dir = null;
    String url = null;
    Duration flushInterval = AuditSettings.defaults().flushInterval();
    for (int i = 0; i < args.length; i++) {
      switch (args[i]) {
        case "--rate" -> rate = Integer.parseInt(args[++i]);
        case "--seconds" -> seconds = Integer.parseInt(args[++i]);
        case "--dir" -> dir = Path.of(args[++i]);
        case "--max-batch" -> maxBatch = Integer.parseInt(args[++i]);
        case "--url" -> url = args[++i];
        case "--flush-interval-ms" -> flushInterval = Duration.ofMillis(Long.parseLong(args[++i]));
        default -> throw new IllegalArgumentException("unknown argument " + args[i]);
      }
    }
    boolean temporary = dir == null;
    if (dir == null) {
      dir = Files.createTempDirectory("audit-writer-bench");
    }
    if (url == null) {
      url = "jdbc:sqlite:" + dir.resolve("audit.db");
    }
    try (Database db = Database.open(StoreSettings.of(url))) {
      AuditStore store = AuditStore.of(db);
      AuditWriter writer =
          AuditWriter.builder(store)
              .instance("bench-1")
              .settings(
                  AuditSettings.defaults().toBuilder()
                      .journalDirectory(dir)
                      .maxBatch(maxBatch)
                      .flushInterval(flushInterval)
                      .build())
              .meterRegistry(new SimpleMeterRegistry())
              .build()
              .start();
      run(writer, rate, seconds);
      ChainVerification v = store.verify();
      System.out.println("verify: " + v);
    } finally {
      if (temporary) {
        AuditBenchData.deleteTree(dir);
      }
    }
  }

  /** The writer's threads: the linker (mapping, linking, hashing) and the store thread. */
  static final String[] WRITER_THREADS = {"portcullis-audit-linker", "portcullis-audit-writer"};

  /** CPU time of the writer thread {@code name} so far, nanoseconds (0 if there is none). */
  static long cpuNanos(String name) {
    ThreadMXBean mx = ManagementFactory.getThreadMXBean();
    for (Thread t : Thread.getAllStackTraces().keySet()) {
      if (t.getName().equals(name)) {
        return Math.max(0, mx.getThreadCpuTime(t.threadId()));
      }
    }
    return 0;
  }

  static void run(AuditWriter writer, int rate, int seconds) {
    AuditBenchData data = new AuditBenchData(7);
    Instant base = Instant.parse("2026-11-22T00:00:00Z");
    long start = System.nanoTime();
    long end = start + Duration.ofSeconds(seconds).toNanos();
    long offered = 0;
    long nextReport = start + 1_000_000_000L;
    long writtenAtReport = 0;
    int maxDepth = 0;
    System.out.printf("offering %,d decisions/s for %d s%n", rate, seconds);
    while (true) {
      long now = System.nanoTime();
      if (now >= end) {
        break;
      }
      long due = (now - start) * rate / 1_000_000_000L;
      while (offered < due) {
        writer.append(data.next(base.plusNanos(offered * 20_000)));
        offered++;
      }
      maxDepth = Math.max(maxDepth, writer.queueDepth());
      if (now >= nextReport) {
        long w = writer.written();
        System.out.printf(
            "t=%2ds written %,7d/s queue %,7d dropped %,d%n",
            (now - start) / 1_000_000_000L,
            w - writtenAtReport,
            writer.queueDepth(),
            writer.dropped());
        writtenAtReport = w;
        nextReport += 1_000_000_000L;
      }
      LockSupport.parkNanos(200_000);
    }
    long stop = System.nanoTime();
    long writtenWhileRunning = writer.written();
    long[] threadCpu = new long[WRITER_THREADS.length];
    long cpu = 0;
    for (int i = 0; i < WRITER_THREADS.length; i++) {
      threadCpu[i] = cpuNanos(WRITER_THREADS[i]);
      cpu += threadCpu[i];
    }
    writer.close();
    long drained = System.nanoTime();
    double runSecs = (stop - start) / 1e9;
    System.out.printf(
        "offered %,d (%,.0f/s); written %,d; dropped %,d; written while offering %,.0f/s;"
            + " max queue %,d; drain after stop %.2f s; overall %,.0f records/s%n",
        offered,
        offered / runSecs,
        writer.written(),
        writer.dropped(),
        writtenWhileRunning / runSecs,
        maxDepth,
        (drained - stop) / 1e9,
        writer.written() / ((drained - start) / 1e9));
    System.out.printf(
        "writer threads' CPU while offering: %.1f s, %.1f us per record written (%,.0f records"
            + " per CPU second)%n",
        cpu / 1e9, cpu / 1e3 / writtenWhileRunning, writtenWhileRunning / (cpu / 1e9));
    for (int i = 0; i < WRITER_THREADS.length; i++) {
      System.out.printf(
          "  %s: %.1f s, %.1f us per record%n",
          WRITER_THREADS[i], threadCpu[i] / 1e9, threadCpu[i] / 1e3 / writtenWhileRunning);
    }
    if (writer.dropped() > 0 || writer.written() != offered) {
      System.out.println("FAIL: not every offered decision was written");
    }
  }
}
