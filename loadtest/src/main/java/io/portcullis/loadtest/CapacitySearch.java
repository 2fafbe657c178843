package io.portcullis.loadtest;

import java.util.ArrayList;
import java.util.List;
import org.jspecify.annotations.Nullable;

/**
 * Finds the highest offered rate that still meets a p99 target with no errors: step the rate up by
 * {@code growth} until a run fails, then bisect between the last passing and the first failing rate
 * {@code bisections} times. Bounded: at most {@code maxSteps} rising steps plus the bisections.
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

  private final double p99TargetMs;
  private final double start;
  private final double growth;
  private final int bisections;
  private final int maxSteps;

  CapacitySearch(double p99TargetMs, double start, double growth, int bisections, int maxSteps) {
    this.p99TargetMs = p99TargetMs;
    this.start = start;
    this.growth = growth;
    this.bisections = bisections;
    this.maxSteps = maxSteps;
  }

  Result search(Probe probe, java.util.function.Consumer<RunResult> log) throws Exception {
    List<RunResult> steps = new ArrayList<>();
    RunResult best = null;
    double pass = 0;
    double fail = Double.NaN;
    double rate = start;
    for (int i = 0; i < maxSteps; i++) {
      RunResult r = probe.run(rate);
      steps.add(r);
      log.accept(r);
      if (r.meets(p99TargetMs)) {
        best = r;
        pass = rate;
        rate = Math.round(rate * growth);
      } else {
        fail = rate;
        break;
      }
    }
    if (Double.isNaN(fail)) {
      return new Result(best, steps);
    }
    double low = pass == 0 ? start / 4 : pass;
    for (int i = 0; i < bisections; i++) {
      double mid = Math.round((low + fail) / 2);
      if (mid <= low || mid >= fail) {
        break;
      }
      RunResult r = probe.run(mid);
      steps.add(r);
      log.accept(r);
      if (r.meets(p99TargetMs)) {
        best = r;
        low = mid;
      } else {
        fail = mid;
      }
    }
    return new Result(best, steps);
  }
}
