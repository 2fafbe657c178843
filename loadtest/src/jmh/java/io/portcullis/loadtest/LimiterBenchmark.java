package io.portcullis.loadtest;

import io.portcullis.limit.InMemoryGcraLimiter;
import io.portcullis.limit.LimitDefinition;
import io.portcullis.limit.LimitKey;
import io.portcullis.limit.LimitKind;
import io.portcullis.limit.LimitOutcome;
import io.portcullis.limit.LimitRequest;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.Threads;
import org.openjdk.jmh.annotations.Warmup;

/**
 * In-memory GCRA limiter checks per second on one thread (issue goal: at least 5M/s on one core):
 * {@link InMemoryGcraLimiter#acquire} with the system clock, as the decision pipeline calls it (one
 * rate limit per request, bucket key already built).
 *
 * <ul>
 *   <li>{@code hotKey}: one bucket, every check admitted (the limit is far above the rate).
 *   <li>{@code manyKeys}: 100,000 buckets in turn, every check admitted (cache lookups miss the CPU
 *       caches, as with per-IP limits).
 *   <li>{@code refused}: one exhausted bucket, every check refused (a flood from one source).
 * </ul>
 *
 * <p>Run: {@code java -jar loadtest/target/benchmarks.jar LimiterBenchmark}
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.Throughput)
@OutputTimeUnit(TimeUnit.SECONDS)
@Warmup(iterations = 3, time = 2)
@Measurement(iterations = 5, time = 2)
@Fork(
    value = 1,
    jvmArgsAppend = {"--enable-native-access=ALL-UNNAMED", "-XX:+UseG1GC"})
@Threads(1)
public class LimiterBenchmark {
  static final int KEYS = 100_000;

  InMemoryGcraLimiter limiter;
  List<LimitRequest> hot;
  List<LimitRequest> exhausted;
  List<LimitRequest>[] many;
  int next;

  @Setup(Level.Trial)
  @SuppressWarnings("unchecked")
  public void setUp() {
    limiter = InMemoryGcraLimiter.builder().build();
    LimitDefinition generous =
        new LimitDefinition(
            "per-ip",
            "segment/public",
            List.of(LimitKey.Attribute.IP),
            new LimitKind.Rate(1_000_000_000L, Duration.ofSeconds(1), 1_000_000_000L));
    LimitDefinition strict =
        new LimitDefinition(
            "strict",
            "segment/public",
            List.of(LimitKey.Attribute.IP),
            new LimitKind.Rate(1, Duration.ofHours(1), 1));
    hot = List.of(new LimitRequest(generous, "203.0.113.7", 1));
    exhausted = List.of(new LimitRequest(strict, "198.51.100.1", 1));
    many = new List[KEYS];
    for (int i = 0; i < KEYS; i++) {
      many[i] =
          List.of(
              new LimitRequest(
                  generous, "10." + (i >> 16 & 255) + "." + (i >> 8 & 255) + "." + (i & 255), 1));
    }
    if (!limiter.acquire(hot, true).admitted() || !limiter.acquire(exhausted, true).admitted()) {
      throw new IllegalStateException("set-up buckets refused");
    }
  }

  @Benchmark
  public LimitOutcome hotKey() {
    return limiter.acquire(hot, true);
  }

  @Benchmark
  public LimitOutcome manyKeys() {
    int i = next++;
    if (next == KEYS) {
      next = 0;
    }
    return limiter.acquire(many[i], true);
  }

  @Benchmark
  public LimitOutcome refused() {
    return limiter.acquire(exhausted, true);
  }
}
