package io.portcullis.loadtest;

import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import io.portcullis.audit.AuditSettings;
import io.portcullis.audit.AuditStore;
import io.portcullis.audit.AuditWriter;
import io.portcullis.decision.Decision;
import io.portcullis.store.Database;
import io.portcullis.store.StoreSettings;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.LockSupport;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OperationsPerInvocation;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Threads;
import org.openjdk.jmh.annotations.Warmup;

/**
 * What {@link AuditWriter#append} costs the decision path: the enqueue only (goal: at most 1 µs).
 *
 * <ul>
 *   <li>{@code appendIdle}: into a writer whose thread is not running, so nothing competes for the
 *       queue's lock (a fresh writer per invocation, its queue never full).
 *   <li>{@code appendWhileWriting}: into a started writer that drains the queue into SQLite at the
 *       same time, the situation in the service. Between invocations (not measured) the writer
 *       catches up, so the queue never fills and nothing is dropped.
 * </ul>
 *
 * Each invocation appends {@value #BATCH} decisions from a pool of pre-built ones; the score is per
 * append. Run: {@code java -jar loadtest/target/benchmarks.jar AuditAppendBenchmark}.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
@Warmup(iterations = 3, time = 2)
@Measurement(iterations = 5, time = 2)
@Fork(
    value = 1,
    jvmArgsAppend = {"--enable-native-access=ALL-UNNAMED", "-Xmx2g"})
@Threads(1)
public class AuditAppendBenchmark {
  static final int BATCH = 20_000;
  private static final int POOL = 4096;

  private final Decision[] decisions = new Decision[POOL];
  private Path dir;
  private Database db;
  private AuditStore store;
  private AuditWriter idle;
  private AuditWriter running;

  @Setup(Level.Trial)
  public void setUp() throws IOException {
    AuditBenchData data = new AuditBenchData(3);
    Instant t = Instant.parse("2026-11-22T00:00:00Z");
    for (int i = 0; i < POOL; i++) {
      decisions[i] = data.next(t.plusMillis(i));
    }
    dir = Files.createTempDirectory("audit-append-bench");
    db = Database.open(StoreSettings.of("jdbc:sqlite:" + dir.resolve("audit.db")));
    store = AuditStore.of(db);
    running = writer(1_000_000).start();
  }

  private AuditWriter writer(int capacity) {
    return AuditWriter.builder(store)
        .instance("bench-" + System.nanoTime())
        .settings(
            AuditSettings.defaults().toBuilder()
                .queueCapacity(capacity)
                .journalDirectory(dir)
                .build())
        .meterRegistry(new SimpleMeterRegistry())
        .build();
  }

  @Setup(Level.Invocation)
  public void freshIdleWriter() {
    idle = writer(BATCH);
  }

  @TearDown(Level.Invocation)
  public void letTheWriterCatchUp() {
    while (running.queueDepth() > BATCH) {
      LockSupport.parkNanos(1_000_000);
    }
    if (running.dropped() > 0 || idle.dropped() > 0) {
      throw new IllegalStateException(
          "the benchmark dropped decisions: it measured the wrong path");
    }
  }

  @TearDown(Level.Trial)
  public void tearDown() {
    running.close();
    db.close();
    AuditBenchData.deleteTree(dir);
  }

  @Benchmark
  @OperationsPerInvocation(BATCH)
  public void appendIdle() {
    AuditWriter w = idle;
    for (int i = 0; i < BATCH; i++) {
      w.append(decisions[i & (POOL - 1)]);
    }
  }

  @Benchmark
  @OperationsPerInvocation(BATCH)
  public void appendWhileWriting() {
    AuditWriter w = running;
    for (int i = 0; i < BATCH; i++) {
      w.append(decisions[i & (POOL - 1)]);
    }
  }
}
