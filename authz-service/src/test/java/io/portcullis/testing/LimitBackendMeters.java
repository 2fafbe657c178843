package io.portcullis.testing;

import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.MeterRegistry;
import io.portcullis.metrics.MetricNames;

/**
 * The limit backend's meters in a registry, as {@code io.portcullis.limit.BackendCircuit} publishes
 * them: {@code new LimitBackendMeters(registry).degraded("rls")}. Each read fails the test when the
 * meter is not registered.
 */
public record LimitBackendMeters(MeterRegistry registry) {
  /** {@code portcullis_ratelimit_backend_errors_total}: operations Redis failed. */
  public double errors() {
    return registry.get(MetricNames.RATELIMIT_BACKEND_ERRORS).counter().count();
  }

  /**
   * {@code portcullis_ratelimit_backend_degraded_decisions_total{caller}}: answers {@code caller}
   * ({@code limits}, {@code rls}, {@code protect}) gave without Redis.
   */
  public double degraded(String caller) {
    return registry
        .get(MetricNames.RATELIMIT_BACKEND_DEGRADED_DECISIONS)
        .tag("caller", caller)
        .counter()
        .count();
  }

  /** The degraded decisions of every caller together. */
  public double degraded() {
    return registry.get(MetricNames.RATELIMIT_BACKEND_DEGRADED_DECISIONS).counters().stream()
        .mapToDouble(Counter::count)
        .sum();
  }

  /** {@code portcullis_ratelimit_backend_up}: 1 while Redis works, 0 while it fails. */
  public double up() {
    return registry.get(MetricNames.RATELIMIT_BACKEND_UP).gauge().value();
  }
}
