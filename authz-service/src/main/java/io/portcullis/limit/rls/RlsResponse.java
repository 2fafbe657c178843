package io.portcullis.limit.rls;

import java.time.Duration;
import java.util.List;
import java.util.Objects;
import org.jspecify.annotations.Nullable;

/**
 * The answer to an {@link RlsRequest}, wire-free.
 *
 * @param overallCode {@code OVER_LIMIT} if any descriptor is over its limit
 * @param statuses one per request descriptor, in order
 * @param degraded non-null when the counter backend failed and the failure policy answered
 */
public record RlsResponse(Code overallCode, List<Status> statuses, @Nullable String degraded) {
  public RlsResponse {
    Objects.requireNonNull(overallCode, "overallCode");
    statuses = List.copyOf(statuses);
  }

  /**
   * When an {@code OVER_LIMIT} answer may be tried again: the longest {@code duration_until_reset}
   * of the descriptors over their limit (the request passes only once all of them reset), at least
   * 1 s; {@code null} for an {@code OK} answer.
   */
  public @Nullable Duration retryAfter() {
    if (overallCode != Code.OVER_LIMIT) {
      return null;
    }
    Duration longest = Duration.ofSeconds(1);
    for (Status s : statuses) {
      Duration reset = s.durationUntilReset();
      if (s.code() == Code.OVER_LIMIT && reset != null && reset.compareTo(longest) > 0) {
        longest = reset;
      }
    }
    return longest;
  }

  /** Envoy's {@code RateLimitResponse.Code} (without {@code UNKNOWN}, which is never sent). */
  public enum Code {
    OK,
    OVER_LIMIT
  }

  /**
   * One descriptor's answer.
   *
   * @param code whether this descriptor is over its limit
   * @param currentLimit the limit that applied, or {@code null} (no limit, or unlimited)
   * @param limitRemaining requests left in the window; 2³²−1 for unlimited descriptors
   * @param durationUntilReset time until the window ends, or {@code null} without a limit
   */
  public record Status(
      Code code,
      @Nullable RlsLimit currentLimit,
      long limitRemaining,
      @Nullable Duration durationUntilReset) {}
}
