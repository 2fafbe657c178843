package io.portcullis.limit;

import java.util.Locale;
import org.jspecify.annotations.Nullable;

/**
 * What limits do while the shared backend (Redis) fails or times out ({@code ratelimit.
 * on_backend_failure}). Whatever the policy, every such decision carries {@link #degradedLabel()}
 * in {@link LimitOutcome#degraded()} (and so in the audit record) and counts in {@code
 * portcullis_ratelimit_backend_degraded_decisions_total}: there is no silent fail-open.
 */
public enum BackendFailurePolicy {
  /**
   * The same limits, enforced by an in-memory limiter in each instance (default). With N instances
   * a client can get up to N times its limit while the backend is down.
   */
  LOCAL("local"),
  /**
   * Refuse every limited request with {@code rate_limited} (429 with {@code Retry-After} and
   * RateLimit headers naming the first limit asked, as {@link FailoverRateLimiter} says). Chosen
   * over a 503 so clients back off with the rate-limit semantics they already handle; the audit
   * record's {@code degraded} field tells operators it was the backend, not the client.
   */
  DENY("deny"),
  /** Admit every request; limits are not enforced until the backend returns. */
  ALLOW("allow");

  private final String wireName;
  private final String degradedLabel;

  BackendFailurePolicy(String wireName) {
    this.wireName = wireName;
    this.degradedLabel = "ratelimit_backend:" + wireName;
  }

  /** The configuration value ({@code local}, {@code deny}, {@code allow}). */
  public String wireName() {
    return wireName;
  }

  /** The value of {@link LimitOutcome#degraded()}, e.g. {@code ratelimit_backend:local}. */
  public String degradedLabel() {
    return degradedLabel;
  }

  /** Parses a configuration value; {@code null} if unknown. */
  public static @Nullable BackendFailurePolicy parse(String value) {
    for (BackendFailurePolicy p : values()) {
      if (p.wireName.equals(value.toLowerCase(Locale.ROOT))) {
        return p;
      }
    }
    return null;
  }
}
