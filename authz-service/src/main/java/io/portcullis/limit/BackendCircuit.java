package io.portcullis.limit;

import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.MeterRegistry;
import io.portcullis.metrics.MetricNames;
import java.time.Duration;
import java.time.InstantSource;
import java.util.Objects;

/**
 * Whether the shared limit backend is worth asking, and the count of operations it could not serve
 * ({@code portcullis_ratelimit_backend_errors_total}).
 *
 * <p>After a failure the circuit stays open for {@code retryInterval}: callers skip the backend and
 * apply their failure policy at once, instead of each waiting for a timeout. After that the next
 * callers try again, so the service recovers by itself when Redis returns; a success closes the
 * circuit. Every failed <em>and</em> every skipped operation counts as one backend error, so the
 * counter's rate equals the rate of degraded decisions.
 *
 * <p>One circuit is shared by everything that talks to one backend (rate limiter, Envoy rate limit
 * counters, source protection). Thread-safe and lock-free.
 */
public final class BackendCircuit {
  private final InstantSource clock;
  private final long retryNanos;
  private final Counter errors;
  private volatile long openUntilNanos = Long.MIN_VALUE;

  public BackendCircuit(InstantSource clock, Duration retryInterval, MeterRegistry registry) {
    this.clock = Objects.requireNonNull(clock, "clock");
    if (retryInterval.isNegative()) {
      throw new IllegalArgumentException("retryInterval must not be negative");
    }
    this.retryNanos = retryInterval.toNanos();
    this.errors = errorCounter(registry);
  }

  /**
   * {@code portcullis_ratelimit_backend_errors_total} in {@code registry} (registered once; also by
   * the in-memory backends, where it stays 0, so dashboards see it for either backend).
   */
  public static Counter errorCounter(MeterRegistry registry) {
    return Counter.builder(MetricNames.RATELIMIT_BACKEND_ERRORS)
        .description("Limit operations the shared backend (Redis) could not serve")
        .register(registry);
  }

  /**
   * How long a caller refused because the backend is unavailable ({@code on_backend_failure: deny})
   * should wait before trying again: the retry interval, when the backend is asked again, but at
   * least 1 s ({@code Retry-After} and RateLimit reset values are whole seconds).
   */
  public Duration retryAfter() {
    return Duration.ofNanos(Math.max(retryNanos, 1_000_000_000L));
  }

  /** Whether to ask the backend now; when false the caller must call {@link #skipped()}. */
  public boolean allowsAttempt() {
    return elapsed(openUntilNanos, EpochNanos.of(clock.instant()));
  }

  /**
   * Whether a circuit open until {@code open} lets callers try at {@code now}: it is closed, its
   * interval has passed, or it ends further ahead than one retry interval, which only a backwards
   * step of the clock can cause (otherwise the circuit would stay open for the whole step).
   */
  private boolean elapsed(long open, long now) {
    return open == Long.MIN_VALUE || now >= open || open - now > retryNanos;
  }

  /** The backend answered: close the circuit. */
  public void succeeded() {
    if (openUntilNanos != Long.MIN_VALUE) {
      openUntilNanos = Long.MIN_VALUE;
    }
  }

  /**
   * The backend failed or timed out: count it and open the circuit for the retry interval.
   *
   * @return whether this failure opened the circuit (it was closed or its interval had passed), so
   *     that callers log one line per outage window instead of one per failed request
   */
  public boolean failed() {
    errors.increment();
    long now = EpochNanos.of(clock.instant());
    long open = openUntilNanos;
    openUntilNanos = now + retryNanos;
    return elapsed(open, now);
  }

  /**
   * The backend did not answer within a caller's own deadline, shorter than the backend's timeout:
   * count it, but leave the circuit as it is, since one caller's tight deadline says nothing about
   * the backend.
   */
  public void late() {
    errors.increment();
  }

  /**
   * A call failed (an error, or the backend's own timeout) after every caller waiting for it had
   * stopped waiting at its own deadline ({@link #late()}): open the circuit, as {@link #failed()}
   * does, but count nothing, since those callers counted their answers already. Without this, a
   * backend that no longer answers at all would never open the circuit while every caller's
   * deadline is shorter than its timeout, and every call would wait out its deadline.
   *
   * @return whether this opened the circuit, as for {@link #failed()}
   */
  public boolean failedLate() {
    long now = EpochNanos.of(clock.instant());
    long open = openUntilNanos;
    openUntilNanos = now + retryNanos;
    return elapsed(open, now);
  }

  /** The backend was not asked because the circuit is open: count it. */
  public void skipped() {
    errors.increment();
  }
}
