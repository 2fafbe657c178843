package io.portcullis.limit;

import io.portcullis.decision.Reason;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Objects;
import org.jspecify.annotations.Nullable;

/**
 * One bucket's answer within one {@link RateLimiter#acquire} call; the backends compute these and
 * {@link #outcome} combines them the same way for every backend.
 *
 * @param request the bucket asked
 * @param admitted whether the bucket had room for the request's cost
 * @param status the bucket's state for the RateLimit headers (after the request if admitted)
 * @param retryAfter when refused, time until the cost fits; zero when admitted
 */
public record BucketResult(
    LimitRequest request, boolean admitted, LimitStatus status, Duration retryAfter) {

  public BucketResult {
    Objects.requireNonNull(request, "request");
    Objects.requireNonNull(status, "status");
    Objects.requireNonNull(retryAfter, "retryAfter");
  }

  /**
   * A GCRA bucket's answer.
   *
   * @param remaining units left (after the request if admitted)
   * @param reset time until the bucket is full again
   * @param retryAfter time until the cost fits (ignored when admitted)
   */
  public static BucketResult rate(
      LimitRequest request,
      LimitKind.Rate rate,
      boolean admitted,
      long remaining,
      Duration reset,
      Duration retryAfter) {
    Duration window =
        Duration.ofNanos(Gcra.saturatedMultiply(rate.emissionIntervalNanos(), rate.burst()));
    LimitStatus status = new LimitStatus(request.limit(), rate.burst(), remaining, reset, window);
    return new BucketResult(request, admitted, status, admitted ? Duration.ZERO : retryAfter);
  }

  /**
   * A calendar quota's answer: a refused request can retry when the window ends.
   *
   * @param remaining units left in the window (after the request if admitted)
   */
  public static BucketResult quota(
      LimitRequest request,
      LimitKind.Quota quota,
      boolean admitted,
      long remaining,
      Instant windowStart,
      Instant windowEnd,
      Instant now) {
    Duration reset = Duration.between(now, windowEnd);
    LimitStatus status =
        new LimitStatus(
            request.limit(),
            quota.permits(),
            remaining,
            reset,
            Duration.between(windowStart, windowEnd));
    return new BucketResult(request, admitted, status, admitted ? Duration.ZERO : reset);
  }

  /**
   * Combines the buckets of one request: refused if any bucket refused, reporting the refusing
   * bucket with the longest wait (retrying earlier would be refused again); otherwise admitted,
   * reporting the bucket with the fewest units left (ties: the later reset) as the tightest.
   */
  public static LimitOutcome outcome(List<BucketResult> results) {
    BucketResult refusing = refusing(results);
    if (refusing != null) {
      return refused(refusing);
    }
    BucketResult tightest = null;
    for (BucketResult r : results) {
      if (tightest == null
          || r.status.remaining() < tightest.status.remaining()
          || (r.status.remaining() == tightest.status.remaining()
              && r.status.reset().compareTo(tightest.status.reset()) > 0)) {
        tightest = r;
      }
    }
    return LimitOutcome.admitted(tightest == null ? null : tightest.status);
  }

  /**
   * The refusing bucket with the longest wait among {@code results} (the one {@link #outcome}
   * reports), or {@code null} when every bucket had room.
   */
  public static @Nullable BucketResult refusing(List<BucketResult> results) {
    BucketResult refusing = null;
    for (BucketResult r : results) {
      if (!r.admitted && (refusing == null || r.retryAfter.compareTo(refusing.retryAfter) > 0)) {
        refusing = r;
      }
    }
    return refusing;
  }

  /** The outcome of a request refused by this bucket. */
  public static LimitOutcome refused(BucketResult r) {
    Reason reason =
        switch (r.request.limit().kind()) {
          case LimitKind.Rate rate -> Reason.RATE_LIMITED;
          case LimitKind.Quota quota -> Reason.QUOTA_EXCEEDED;
        };
    return new LimitOutcome(
        LimitOutcome.Refusal.EXHAUSTED, reason, r.request.limit(), r.status, r.retryAfter, null);
  }
}
