package io.portcullis.loadtest;

import java.util.Map;
import java.util.TreeMap;
import org.HdrHistogram.Histogram;

/**
 * One measured run at one offered rate, warm-up excluded.
 *
 * @param target what was driven
 * @param offeredRate requests per second scheduled
 * @param sentRate requests per second actually started within the measurement window (below the
 *     offered rate when the generator could not keep up or hit its in-flight cap)
 * @param achievedRate answers per second received within the measurement window
 * @param histogram latency from each request's intended start to its answer, in microseconds
 *     (corrected for coordinated omission: a late start counts against the request)
 * @param ok answers accepted by their probe
 * @param errors wrong answers, transport failures and requests still unanswered at the end
 * @param outcomes answer counts by outcome name
 * @param loadAverage the 1-minute load average when the run ended
 * @param server server-side figures (CPU, heap) for the window, or {@code null} when in-process
 */
record RunResult(
    String target,
    double offeredRate,
    double sentRate,
    double achievedRate,
    Histogram histogram,
    long ok,
    long errors,
    Map<String, Long> outcomes,
    double loadAverage,
    ServerStats.Delta server) {

  RunResult {
    outcomes = new TreeMap<>(outcomes);
  }

  double p(double percentile) {
    return histogram.getValueAtPercentile(percentile) / 1000.0;
  }

  double p50Ms() {
    return p(50);
  }

  double p90Ms() {
    return p(90);
  }

  double p99Ms() {
    return p(99);
  }

  double p999Ms() {
    return p(99.9);
  }

  double maxMs() {
    return histogram.getMaxValue() / 1000.0;
  }

  /** Whether this run meets a p99 target with no errors at (nearly) the offered rate. */
  boolean meets(double p99TargetMs) {
    return meets(99, p99TargetMs);
  }

  /** Whether this run keeps {@code percentile} within {@code boundMs}, error-free, at the rate. */
  boolean meets(double percentile, double boundMs) {
    return errors == 0 && p(percentile) <= boundMs && achievedRate >= 0.95 * offeredRate;
  }

  String line() {
    return String.format(
            "%-22s offered %8.0f/s sent %8.0f/s achieved %8.0f/s  p50 %7.3f p90 %7.3f p99 %7.3f"
                + " p99.9 %7.3f max %8.3f ms  ok %d err %d  load %.2f%s",
            target,
            offeredRate,
            sentRate,
            achievedRate,
            p50Ms(),
            p90Ms(),
            p99Ms(),
            p999Ms(),
            maxMs(),
            ok,
            errors,
            loadAverage,
            server == null ? "" : "  " + server.describe(achievedRate))
        + (errors > 0 ? "  outcomes " + outcomes : "");
  }
}
