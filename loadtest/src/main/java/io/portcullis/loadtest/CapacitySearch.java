package io.portcullis.loadtest;

import java.util.ArrayList;
import java.util.List;
import org.jspecify.annotations.Nullable;

/**
 * Finds the highest offered rate that still meets a p99 target with no errors: from {@code start},
 * step the rate up by {@code growth} until a run fails (or down until one passes), then bisect
 * between the last passing and the first failing rate {@code bisections} times. Bounded: at most
 * {@code maxSteps} steps plus the bisections, never below 100/s. A run that fails narrowly (it
 * still answered at least half the offered rate) is repeated once before it counts as failed,
 * unless the search is {@link #withoutRepeats()}.
 */
final class CapacitySearch {
  /** Runs one measurement at a rate. */
  interface Probe {
    RunResult run(double rate) throws Exception;
  }

  /**
   * @param capacity the highest passing rate's run, or {@code null} if even the start rate failed
   * @param steps every run in order
   */
  record Result(@Nullable RunResult capacity, List<RunResult> steps) {
    double rate() {
      return capacity == null ? 0 : capacity.offeredRate();
    }
  }

  private static final double MIN_RATE = 100;

  private final double percentile;
  private final double boundMs;
  private final double start;

  /** The first rate tried. */
  double start() {
    return start;
  }

  private final double growth;
  private final int bisections;
  private final int maxSteps;

  /** A search for the highest rate whose p99 stays within {@code p99TargetMs}. */
  CapacitySearch(double p99TargetMs, double start, double growth, int bisections, int maxSteps) {
    this(99, p99TargetMs, start, growth, bisections, maxSteps);
  }

  /**
   * A search for the highest rate whose {@code percentile} stays within {@code boundMs} (the suite
   * uses the median as its saturation test on a shared machine; see loadtest/README.md).
   */
  CapacitySearch(
      double percentile,
      double boundMs,
      double start,
      double growth,
      int bisections,
      int maxSteps) {
    this.percentile = percentile;
    this.boundMs = boundMs;
    this.start = start;
    this.growth = growth;
    this.bisections = bisections;
    this.maxSteps = maxSteps;
  }

  private boolean repeatFailures = true;

  /**
   * This search without the repeat of a narrowly failed run: coarser on a shared machine, but each
   * failing step costs one run (the quick suite).
   */
  CapacitySearch withoutRepeats() {
    CapacitySearch s = new CapacitySearch(percentile, boundMs, start, growth, bisections, maxSteps);
    s.repeatFailures = false;
    return s;
  }

  Result search(Probe raw, java.util.function.Consumer<RunResult> log) throws Exception {
    List<RunResult> steps = new ArrayList<>();
    // a failing run is repeated once and the better of the two counts: on a shared machine one
    // descheduled second can fail a run that the server itself would have passed
    Probe probe =
        rate -> {
          RunResult r = raw.run(rate);
          if (!repeatFailures || r.meets(percentile, boundMs) || r.achievedRate() < 0.5 * rate) {
            return r;
          }
          System.out.println("  (failed; repeating once)");
          RunResult again = raw.run(rate);
          return again.meets(percentile, boundMs) || again.p(percentile) < r.p(percentile)
              ? again
              : r;
        };
    RunResult best = null;
    double pass = 0;
    double fail = Double.NaN;
    double rate = start;
    RunResult first = probe.run(rate);
    steps.add(first);
    log.accept(first);
    if (first.meets(percentile, boundMs)) {
      best = first;
      pass = rate;
      // step up until a run fails
      for (int i = 1; i < maxSteps; i++) {
        rate = Math.round(rate * growth);
        RunResult r = probe.run(rate);
        steps.add(r);
        log.accept(r);
        if (!r.meets(percentile, boundMs)) {
          fail = rate;
          break;
        }
        best = r;
        pass = rate;
      }
    } else {
      // step down until a run passes
      fail = rate;
      for (int i = 1; i < maxSteps && rate > MIN_RATE; i++) {
        rate = Math.max(MIN_RATE, Math.round(rate / growth));
        RunResult r = probe.run(rate);
        steps.add(r);
        log.accept(r);
        if (r.meets(percentile, boundMs)) {
          best = r;
          pass = rate;
          break;
        }
        fail = rate;
      }
    }
    if (Double.isNaN(fail) || best == null) {
      return new Result(best, steps);
    }
    double low = pass;
    for (int i = 0; i < bisections; i++) {
      double mid = Math.round((low + fail) / 2);
      if (mid <= low || mid >= fail || (fail - low) / low < 0.03) {
        break;
      }
      RunResult r = probe.run(mid);
      steps.add(r);
      log.accept(r);
      if (r.meets(percentile, boundMs)) {
        best = r;
        low = mid;
      } else {
        fail = mid;
      }
    }
    return new Result(best, steps);
  }
}
