package io.portcullis.limit.rls;

import io.portcullis.limit.BackendCircuit;
import io.portcullis.limit.BackendFailurePolicy;
import io.portcullis.limit.LimitBackendException;
import java.time.Duration;
import java.util.Arrays;
import java.util.List;
import java.util.Objects;
import org.jspecify.annotations.Nullable;

/**
 * Shared fixed-window counters (Redis) with the {@code on_backend_failure} policy. While the
 * primary fails (or its {@link BackendCircuit} is open):
 *
 * <ul>
 *   <li>{@code local}: counts in this instance's memory ({@code fallback});
 *   <li>{@code deny}: every hit is {@link #REFUSED}, so every limited descriptor is {@code
 *       OVER_LIMIT} (shadow-mode descriptors still answer {@code OK}), to be tried again after the
 *       circuit's {@link BackendCircuit#retryAfter()}: when Redis may be asked again, not when the
 *       descriptor's window ends (a day for a daily limit);
 *   <li>{@code allow}: every hit is {@link #NOT_COUNTED}, so every descriptor is {@code OK} without
 *       a limit, as one that has none: nothing was counted, so there is no remaining count to
 *       report.
 * </ul>
 *
 * The answer's {@link Totals#degraded()} names the policy, and each such call counts in {@code
 * portcullis_ratelimit_backend_degraded_decisions_total{caller="rls"}}; the circuit logs and counts
 * the outage. Thread-safe; never throws for a backend failure.
 */
public final class FailoverFixedWindowCounters implements FixedWindowCounters {
  private final FixedWindowCounters primary;
  private final FixedWindowCounters fallback;
  private final BackendFailurePolicy policy;
  private final BackendCircuit circuit;

  public FailoverFixedWindowCounters(
      FixedWindowCounters primary,
      FixedWindowCounters fallback,
      BackendFailurePolicy policy,
      BackendCircuit circuit) {
    this.primary = Objects.requireNonNull(primary, "primary");
    this.fallback = Objects.requireNonNull(fallback, "fallback");
    this.policy = Objects.requireNonNull(policy, "policy");
    this.circuit = Objects.requireNonNull(circuit, "circuit");
  }

  @Override
  public Totals add(List<Hit> hits) {
    return count(hits, null);
  }

  /**
   * {@inheritDoc}
   *
   * <p>When the primary does not answer within {@code within} (the caller's deadline, shorter than
   * the Redis timeout), this call is answered by the policy in time; it is a degraded decision but
   * does not open the circuit.
   */
  @Override
  public Totals add(List<Hit> hits, Duration within) {
    return count(hits, within);
  }

  private Totals count(List<Hit> hits, @Nullable Duration within) {
    if (hits.isEmpty()) {
      return Totals.counted(new long[0]);
    }
    if (circuit.allowsAttempt()) {
      try {
        Totals t = within == null ? primary.add(hits) : primary.add(hits, within);
        circuit.succeeded();
        return t;
      } catch (LimitBackendException e) {
        // The circuit logs the outage once, not once per call: every call in flight when Redis
        // fails fails with it (thousands at a few thousand calls a second).
        if (!e.backendWasAsked()) {
          circuit.expired(BackendCircuit.Caller.RLS);
        } else if (e.isCallersDeadline()) {
          circuit.late(BackendCircuit.Caller.RLS);
        } else {
          circuit.failed(BackendCircuit.Caller.RLS, e.getMessage());
        }
      }
    } else {
      circuit.skipped(BackendCircuit.Caller.RLS);
    }
    return degraded(hits);
  }

  /** The policy's answer for hits the primary could not count. */
  private Totals degraded(List<Hit> hits) {
    String label = policy.degradedLabel();
    return switch (policy) {
      case LOCAL -> {
        Totals local = fallback.add(hits);
        yield new Totals(local.values(), label, local.retryAfter());
      }
      case DENY -> new Totals(filled(hits.size(), REFUSED), label, circuit.retryAfter());
      case ALLOW -> new Totals(filled(hits.size(), NOT_COUNTED), label, Duration.ZERO);
    };
  }

  private static long[] filled(int size, long value) {
    long[] all = new long[size];
    Arrays.fill(all, value);
    return all;
  }
}
