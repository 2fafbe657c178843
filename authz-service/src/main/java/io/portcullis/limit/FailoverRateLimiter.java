package io.portcullis.limit;

import io.portcullis.decision.Reason;
import java.time.Duration;
import java.time.InstantSource;
import java.util.List;
import java.util.Objects;
import org.jspecify.annotations.Nullable;

/**
 * A shared-backend limiter (Redis) with an explicit policy for when the backend fails ({@code
 * ratelimit.on_backend_failure}). This is what the service hands the decision pipeline when {@code
 * ratelimit.backend: redis}.
 *
 * <p>When the primary throws {@link LimitBackendException} (error or timeout), or the {@link
 * BackendCircuit} is open after a recent failure, the request is decided by the policy:
 *
 * <ul>
 *   <li>{@code local}: the same limits in this instance's memory ({@code fallback}).
 *   <li>{@code deny}: refused with {@code rate_limited} and {@code Retry-After} of the circuit's
 *       retry interval (at least one second). The first limit asked is named as the refusing one
 *       (so the 429 carries RateLimit headers and the audit record a {@code limit}, as any other
 *       429), with nothing remaining and a reset equal to that {@code Retry-After}; {@link
 *       LimitOutcome#backendUnavailable()} tells it from a limit found exhausted.
 *   <li>{@code allow}: admitted without limits.
 * </ul>
 *
 * Every such outcome carries {@link BackendFailurePolicy#degradedLabel()} (e.g. {@code
 * ratelimit_backend:local}) and counts in {@code
 * portcullis_ratelimit_backend_degraded_decisions_total{caller="limits"}}; the circuit logs and
 * counts the outage itself. The primary is tried again once the circuit's retry interval has
 * passed, so recovery needs no restart. Counts taken locally during an outage are not copied to the
 * backend.
 *
 * <p>A caller with a deadline ({@code Check}: Envoy's) gets the policy's answer too when the
 * primary has not answered by then ({@link LimitBackendException#callersDeadline}), though Redis's
 * own timeout has not run out; that is a degraded decision but not a backend error, and leaves the
 * circuit as it is, since one caller's tight deadline says nothing about Redis. (When the call it
 * gave up on fails later, the Redis limiter reports it itself: {@link BackendCircuit#failedLate}.)
 *
 * <p>Thread-safe; never throws for a backend failure.
 */
public final class FailoverRateLimiter implements RateLimiter {
  private final RateLimiter primary;
  private final RateLimiter fallback;
  private final BackendFailurePolicy policy;
  private final BackendCircuit circuit;
  private final InstantSource clock;
  private final Duration denyRetryAfter;

  /**
   * @param primary the shared backend; may throw {@link LimitBackendException}
   * @param fallback the per-instance limiter used by {@code local}
   * @param policy what to do while the primary fails
   * @param circuit the backend's circuit (shared with the other users of the same backend)
   * @param clock places a calendar quota's window in the RateLimit headers of a {@code deny}
   *     ({@code Retry-After} under {@code deny} is the circuit's {@link
   *     BackendCircuit#retryAfter()})
   */
  public FailoverRateLimiter(
      RateLimiter primary,
      RateLimiter fallback,
      BackendFailurePolicy policy,
      BackendCircuit circuit,
      InstantSource clock) {
    this.primary = Objects.requireNonNull(primary, "primary");
    this.fallback = Objects.requireNonNull(fallback, "fallback");
    this.policy = Objects.requireNonNull(policy, "policy");
    this.circuit = Objects.requireNonNull(circuit, "circuit");
    this.clock = Objects.requireNonNull(clock, "clock");
    this.denyRetryAfter = circuit.retryAfter();
  }

  @Override
  public LimitOutcome acquire(List<LimitRequest> requests, boolean consume) {
    return acquire(requests, consume, false, 0);
  }

  /**
   * {@inheritDoc}
   *
   * <p>When the primary has not answered by {@code answerByNanos} (sooner than the Redis timeout),
   * this call is answered by the policy in time; it is a degraded decision but does not open the
   * circuit (one caller's tight deadline says nothing about Redis).
   */
  @Override
  public LimitOutcome acquire(List<LimitRequest> requests, boolean consume, long answerByNanos) {
    return acquire(requests, consume, true, answerByNanos);
  }

  private LimitOutcome acquire(
      List<LimitRequest> requests, boolean consume, boolean bounded, long answerByNanos) {
    if (requests.isEmpty()) {
      return LimitOutcome.admitted(null);
    }
    if (circuit.allowsAttempt()) {
      try {
        LimitOutcome outcome =
            bounded
                ? primary.acquire(requests, consume, answerByNanos)
                : primary.acquire(requests, consume);
        circuit.succeeded();
        return outcome;
      } catch (LimitBackendException e) {
        if (!e.backendWasAsked()) {
          circuit.expired(BackendCircuit.Caller.LIMITS);
        } else if (e.isCallersDeadline()) {
          circuit.late(BackendCircuit.Caller.LIMITS);
        } else {
          circuit.failed(BackendCircuit.Caller.LIMITS, e.getMessage());
        }
      }
    } else {
      circuit.skipped(BackendCircuit.Caller.LIMITS);
    }
    return degraded(requests, consume);
  }

  @Override
  public @Nullable LimitUsage usage(LimitDefinition limit, String bucket) {
    return primary.usage(limit, bucket);
  }

  private LimitOutcome degraded(List<LimitRequest> requests, boolean consume) {
    String label = policy.degradedLabel();
    return switch (policy) {
      // the fallback's refusal stays as it was (a full local limiter is still "not checked")
      case LOCAL -> fallback.acquire(requests, consume).withDegraded(label);
      case DENY -> {
        // Failure path only: one status for the first limit asked, none of them could be checked.
        LimitDefinition first = requests.getFirst().limit();
        yield new LimitOutcome(
            LimitOutcome.Refusal.BACKEND_UNAVAILABLE,
            Reason.RATE_LIMITED,
            first,
            LimitStatus.unavailable(first, denyRetryAfter, clock.instant()),
            denyRetryAfter,
            label);
      }
      case ALLOW -> LimitOutcome.admitted(null).withDegraded(label);
    };
  }
}
