package io.portcullis.limit;

import io.portcullis.decision.Reason;
import java.time.Duration;
import org.jspecify.annotations.Nullable;

/**
 * The result of {@link RateLimiter#acquire}.
 *
 * @param refusal why the request was not admitted, {@code null} when every bucket had room
 * @param reason {@code rate_limited} or {@code quota_exceeded} when not admitted
 * @param exceeded the limit that refused, when not admitted (under {@code on_backend_failure:
 *     deny}: the first limit asked, which could not be checked)
 * @param tightest the bucket with the least room left (for the RateLimit headers), or {@code null}
 *     when no limit applied; when not admitted, the refusing bucket
 * @param retryAfter how long until the refusing bucket has room, when not admitted
 * @param degraded non-null when the backend failed and a fallback decided (e.g. {@code
 *     ratelimit_backend:local}), or the in-memory limiter was full ({@code ratelimit_memory:full})
 */
public record LimitOutcome(
    @Nullable Refusal refusal,
    @Nullable Reason reason,
    @Nullable LimitDefinition exceeded,
    @Nullable LimitStatus tightest,
    @Nullable Duration retryAfter,
    @Nullable String degraded) {

  /**
   * Why a request was refused. The reason code is {@code rate_limited} or {@code quota_exceeded} in
   * every case (the contract's step 8); this tells an operator, in the audit detail and in explain,
   * whether the limit was found exhausted or not checked at all.
   */
  public enum Refusal {
    /** The limit was checked and has no room for the request. */
    EXHAUSTED,
    /**
     * The shared backend failed and {@code on_backend_failure: deny} applied: {@link #exceeded()}
     * was not checked.
     */
    BACKEND_UNAVAILABLE,
    /**
     * The in-memory limiter (the memory backend, or the {@code local} fallback) holds as many live
     * buckets as it may and the request needed a new one: {@link #exceeded()} was not checked, and
     * its client may well have used nothing of it.
     */
    LIMITER_FULL
  }

  public static LimitOutcome admitted(@Nullable LimitStatus tightest) {
    return new LimitOutcome(null, null, null, tightest, null, null);
  }

  /** Whether every bucket had room (and, when consuming, the request's cost was taken). */
  public boolean admitted() {
    return refusal == null;
  }

  /**
   * Whether this is a refusal because the shared backend failed and {@code on_backend_failure:
   * deny} applied: {@link #exceeded()} was not checked, not found exhausted.
   */
  public boolean backendUnavailable() {
    return refusal == Refusal.BACKEND_UNAVAILABLE;
  }

  /**
   * Whether this is a refusal because the in-memory limiter had no room for a new bucket: {@link
   * #exceeded()} was not checked, not found exhausted.
   */
  public boolean limiterFull() {
    return refusal == Refusal.LIMITER_FULL;
  }

  /** This outcome with {@code degraded} as its label (a fallback that decided says so). */
  public LimitOutcome withDegraded(String label) {
    return new LimitOutcome(refusal, reason, exceeded, tightest, retryAfter, label);
  }
}
