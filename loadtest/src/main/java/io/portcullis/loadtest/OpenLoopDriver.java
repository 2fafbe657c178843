package io.portcullis.loadtest;

import java.time.Duration;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.LongAdder;
import java.util.concurrent.locks.LockSupport;
import org.HdrHistogram.Histogram;
import org.HdrHistogram.Recorder;

/**
 * Drives a {@link Target} at a constant arrival rate, open loop (wrk2's model): request {@code i}
 * is due at {@code start + i/rate} whether or not earlier answers are in, and its latency is
 * measured from that intended start, so a stalled server or a late generator shows up in the
 * percentiles instead of silently slowing the schedule (coordinated omission).
 *
 * <h2>Design note</h2>
 *
 * <ul>
 *   <li>One scheduler thread sleeps until the next due time and then starts every request that is
 *       due; it never spins, because the generator shares two cores with the server. Timer slack
 *       (tens of microseconds) therefore counts as latency; the empty-server baseline shows that
 *       floor.
 *   <li>Requests started before {@code warmUp} has passed go to a discarded histogram; only the
 *       measurement window counts. The achieved rate is answers received inside the window divided
 *       by its length.
 *   <li>At most {@code maxInFlight} requests are outstanding; when the cap is hit the scheduler
 *       waits, and the wait is charged to the requests that are late because of it.
 *   <li>Every run ends by itself: the schedule stops at the end of the window, unanswered requests
 *       get {@code drain} to finish and then count as errors.
 * </ul>
 *
 * Latencies are recorded in microseconds into an HdrHistogram {@link Recorder} (3 significant
 * digits, up to 60 s).
 */
final class OpenLoopDriver {
  private static final long MAX_LATENCY_MICROS = 60_000_000L;

  private final Duration warmUp;
  private final Duration measure;
  private final int maxInFlight;
  private final Duration drain;

  OpenLoopDriver(Duration warmUp, Duration measure, int maxInFlight, Duration drain) {
    this.warmUp = warmUp;
    this.measure = measure;
    this.maxInFlight = maxInFlight;
    this.drain = drain;
  }

  Duration measure() {
    return measure;
  }

  RunResult run(Target target, double rate, ServerStats server) throws InterruptedException {
    Recorder measured = new Recorder(MAX_LATENCY_MICROS, 3);
    AtomicLong inFlight = new AtomicLong();
    LongAdder ok = new LongAdder();
    LongAdder errors = new LongAdder();
    LongAdder answeredInWindow = new LongAdder();
    Map<String, LongAdder> outcomes = new ConcurrentHashMap<>();
    double intervalNanos = 1e9 / rate;
    long start = System.nanoTime() + 1_000_000; // 1 ms to get going
    long measureStart = start + warmUp.toNanos();
    long end = measureStart + measure.toNanos();
    long sentInWindow = 0;
    ServerStats.Snapshot before = null;
    long seq = 0;
    while (true) {
      long due = start + (long) (seq * intervalNanos);
      if (due >= end) {
        break;
      }
      long now = System.nanoTime();
      if (due > now) {
        LockSupport.parkNanos(due - now);
        continue;
      }
      if (before == null && due >= measureStart) {
        before = server.snapshot();
      }
      while (inFlight.get() >= maxInFlight) {
        LockSupport.parkNanos(20_000);
        if (System.nanoTime() >= end + drain.toNanos()) {
          break;
        }
      }
      boolean inWindow = due >= measureStart;
      if (inWindow) {
        sentInWindow++;
      }
      inFlight.incrementAndGet();
      final long intended = due;
      target.send(
          seq,
          (outcome, correct) -> {
            long t = System.nanoTime();
            inFlight.decrementAndGet();
            if (!inWindow) {
              return;
            }
            measured.recordValue(Math.min(MAX_LATENCY_MICROS, Math.max(0, (t - intended) / 1000)));
            if (t <= end) {
              answeredInWindow.increment();
            }
            if (correct) {
              ok.increment();
            } else {
              errors.increment();
            }
            outcomes.computeIfAbsent(outcome, k -> new LongAdder()).increment();
          });
      seq++;
    }
    long now = System.nanoTime();
    if (now < end) {
      LockSupport.parkNanos(end - now);
    }
    ServerStats.Snapshot after = server.snapshot();
    long drainUntil = System.nanoTime() + drain.toNanos();
    while (inFlight.get() > 0 && System.nanoTime() < drainUntil) {
      LockSupport.parkNanos(1_000_000);
    }
    long unanswered = inFlight.get();
    Histogram h = measured.getIntervalHistogram();
    double window = measure.toNanos() / 1e9;
    Map<String, Long> counts = new java.util.TreeMap<>();
    outcomes.forEach((k, v) -> counts.put(k, v.sum()));
    if (unanswered > 0) {
      counts.merge("error:unanswered", unanswered, Long::sum);
    }
    return new RunResult(
        target.name(),
        rate,
        sentInWindow / window,
        answeredInWindow.sum() / window,
        h,
        ok.sum(),
        errors.sum() + unanswered,
        counts,
        MachineInfo.loadAverage1(),
        before == null ? null : ServerStats.delta(before, after));
  }
}
