package io.portcullis.limit;

import io.portcullis.decision.Reason;
import java.time.Duration;
import org.jspecify.annotations.Nullable;

/**
 * The result of {@link RateLimiter#acquire}.
 *
 * @param admitted whether every bucket had room
 * @param reason {@code rate_limited} or {@code quota_exceeded} when not admitted
 * @param exceeded the limit that refused, when not admitted (under {@code on_backend_failure:
 *     deny}: the first limit asked, which could not be checked)
 * @param tightest the bucket with the least room left (for the RateLimit headers), or {@code null}
 *     when no limit applied; when not admitted, the refusing bucket
 * @param retryAfter how long until the refusing bucket has room, when not admitted
 * @param degraded non-null when the backend failed and a fallback decided (e.g. {@code
 *     ratelimit_backend:local})
 */
public record LimitOutcome(
    boolean admitted,
    @Nullable Reason reason,
    @Nullable LimitDefinition exceeded,
    @Nullable LimitStatus tightest,
    @Nullable Duration retryAfter,
    @Nullable String degraded) {

  public static LimitOutcome admitted(@Nullable LimitStatus tightest) {
    return new LimitOutcome(true, null, null, tightest, null, null);
  }

  /**
   * Whether this is a refusal because the shared backend failed and {@code on_backend_failure:
   * deny} applied: {@link #exceeded()} was not checked, not found exhausted.
   */
  public boolean backendUnavailable() {
    return !admitted && BackendFailurePolicy.DENY.degradedLabel().equals(degraded);
  }
}
