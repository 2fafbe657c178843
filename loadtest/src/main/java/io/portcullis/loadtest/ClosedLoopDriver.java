package io.portcullis.loadtest;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.LongAdder;
import java.util.concurrent.locks.LockSupport;
import org.HdrHistogram.Recorder;
import org.jspecify.annotations.Nullable;

/**
 * {@code threads} callers, each calling a {@link LimiterTarget} back to back: the most decisions
 * per second at that concurrency. Latency here is service time (not corrected for coordinated
 * omission; the open-loop runs give the corrected figures at a fixed rate).
 */
final class ClosedLoopDriver {
  private ClosedLoopDriver() {}

  static RunResult run(LimiterTarget target, int threads, Duration warmUp, Duration measure)
      throws InterruptedException {
    return run(target, threads, warmUp, measure, null).result();
  }

  /** A run and, when a meter was given, the CPU it cost per decision in its measurement window. */
  record Measured(RunResult result, CpuMeter.Cost cost) {}

  static Measured run(
      LimiterTarget target,
      int threads,
      Duration warmUp,
      Duration measure,
      @Nullable CpuMeter meter)
      throws InterruptedException {
    Recorder recorder = new Recorder(60_000_000L, 3);
    AtomicLong seq = new AtomicLong();
    LongAdder ok = new LongAdder();
    LongAdder errors = new LongAdder();
    LongAdder admitted = new LongAdder();
    long start = System.nanoTime();
    long measureStart = start + warmUp.toNanos();
    long end = measureStart + measure.toNanos();
    List<Thread> workers = new ArrayList<>();
    for (int t = 0; t < threads; t++) {
      workers.add(
          Thread.ofPlatform()
              .name(target.name() + "-closed-" + t)
              .start(
                  () -> {
                    while (true) {
                      long s = System.nanoTime();
                      if (s >= end) {
                        return;
                      }
                      boolean good;
                      boolean in;
                      try {
                        in = target.decideNow(seq.getAndIncrement());
                        good = true;
                      } catch (Exception e) {
                        in = false;
                        good = false;
                      }
                      long e = System.nanoTime();
                      if (s >= measureStart && e <= end) {
                        recorder.recordValue(Math.min(60_000_000L, (e - s) / 1000));
                        if (good) {
                          ok.increment();
                          if (in) {
                            admitted.increment();
                          }
                        } else {
                          errors.increment();
                        }
                      }
                    }
                  }));
    }
    CpuMeter.Reading atStart = null;
    CpuMeter.Reading atEnd = null;
    if (meter != null) {
      parkUntil(measureStart);
      atStart = meter.read();
      parkUntil(end);
      atEnd = meter.read();
    }
    for (Thread w : workers) {
      w.join();
    }
    double window = measure.toNanos() / 1e9;
    double rate = (ok.sum() + errors.sum()) / window;
    RunResult result =
        new RunResult(
            target.name(),
            rate,
            rate,
            rate,
            recorder.getIntervalHistogram(),
            ok.sum(),
            errors.sum(),
            Map.of("admitted", admitted.sum(), "refused", ok.sum() - admitted.sum()),
            MachineInfo.loadAverage1(),
            null);
    CpuMeter.Cost cost =
        atStart == null
            ? CpuMeter.Cost.UNKNOWN
            : CpuMeter.Cost.between(atStart, atEnd, ok.sum() + errors.sum());
    return new Measured(result, cost);
  }

  private static void parkUntil(long deadline) {
    for (long left; (left = deadline - System.nanoTime()) > 0; ) {
      LockSupport.parkNanos(left);
    }
  }
}
