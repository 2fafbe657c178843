package io.portcullis.loadtest;

import io.portcullis.limit.InMemoryGcraLimiter;
import io.portcullis.limit.LimitDefinition;
import io.portcullis.limit.LimitKey;
import io.portcullis.limit.LimitKind;
import io.portcullis.limit.LimitRequest;
import java.lang.management.ManagementFactory;
import java.lang.management.MemoryMXBean;
import java.lang.ref.Reference;
import java.time.Duration;
import java.time.Instant;
import java.time.InstantSource;
import java.util.List;
import org.openjdk.jol.info.GraphLayout;

/**
 * Memory of N live keys in the in-memory limiter (issue goal: 1M keys in at most 150 MB).
 *
 * <p>Method: in a fresh JVM ({@code -Xmx2g -XX:+UseG1GC}), collect until the heap is stable and
 * read the used heap ({@link MemoryMXBean}); create the limiter and one bucket for each of N per-IP
 * keys (limit {@code segment/public/per-ip}, key {@code 10.x.y.z}, 50/s burst 100, the service's
 * default of at most 1M buckets); collect again and read the heap. The difference, with the limiter
 * still reachable, is its retained heap. The clock is fixed, so no bucket expires during the
 * measurement. JOL's {@link GraphLayout} walks the limiter's object graph as a cross-check (it
 * counts exactly what is reachable from the limiter, including the key strings).
 *
 * <p>Run: {@code java -Xmx2g -XX:+UseG1GC -cp loadtest/target/benchmarks.jar
 * io.portcullis.loadtest.LimiterFootprint 1000000}
 */
public final class LimiterFootprint {
  private LimiterFootprint() {}

  public static void main(String[] args) {
    int n = args.length > 0 ? Integer.parseInt(args[0]) : 1_000_000;
    MemoryMXBean memory = ManagementFactory.getMemoryMXBean();
    LimitDefinition perIp =
        new LimitDefinition(
            "per-ip",
            "segment/public",
            List.of(LimitKey.Attribute.IP),
            new LimitKind.Rate(50, Duration.ofSeconds(1), 100));
    InstantSource clock = InstantSource.fixed(Instant.parse("2026-11-22T12:00:00Z"));
    long before = settledHeap(memory);
    InMemoryGcraLimiter limiter = InMemoryGcraLimiter.builder().clock(clock).build();
    long start = System.nanoTime();
    for (int i = 0; i < n; i++) {
      String ip = "10." + (i >> 16 & 255) + "." + (i >> 8 & 255) + "." + (i & 255);
      if (!limiter.acquire(List.of(new LimitRequest(perIp, ip, 1)), true).admitted()) {
        throw new IllegalStateException("refused " + ip);
      }
    }
    double fillSeconds = (System.nanoTime() - start) / 1e9;
    long live = limiter.liveBuckets();
    long after = settledHeap(memory);
    double retainedMb = (after - before) / 1048576.0;
    System.out.printf(
        "RESULT footprint: %d live buckets (of %d keys) retain %.1f MB of heap after GC"
            + " (%.0f bytes/key; MemoryMXBean before/after, -Xmx2g G1); filled in %.2f s%n",
        live, n, retainedMb, (after - before) / (double) n, fillSeconds);
    System.out.printf("RETAINED_MB %.1f%n", retainedMb);
    if (args.length < 2 || !args[1].equals("--no-jol")) {
      try {
        GraphLayout layout = GraphLayout.parseInstance(limiter);
        long jol = layout.totalSize();
        if (args.length > 1 && args[1].equals("--breakdown")) {
          System.out.println(layout.toFootprint());
        }
        System.out.printf(
            "RESULT footprint (JOL GraphLayout cross-check): %.1f MB reachable from the limiter"
                + " (%.0f bytes/key)%n",
            jol / 1048576.0, jol / (double) n);
      } catch (RuntimeException | Error e) {
        System.out.println("JOL cross-check unavailable: " + e);
      }
    }
    Reference.reachabilityFence(limiter);
  }

  private static long settledHeap(MemoryMXBean memory) {
    long last = Long.MAX_VALUE;
    for (int i = 0; i < 10; i++) {
      System.gc();
      long used = memory.getHeapMemoryUsage().getUsed();
      if (Math.abs(used - last) < 64 * 1024) {
        return used;
      }
      last = used;
    }
    return last;
  }
}
