package io.portcullis.limit;

import java.time.Duration;
import java.time.Instant;

/**
 * The state of one bucket after a check: what the {@code RateLimit} and {@code RateLimit-Policy}
 * headers report for the tightest limit.
 *
 * @param limit the limit
 * @param quota the number of units per window (rate: burst; quota: N)
 * @param remaining units left after this request
 * @param reset time until the bucket is full again (rate) or the window ends (quota)
 * @param window the policy window (rate: burst / rate; quota: the calendar window's length)
 */
public record LimitStatus(
    LimitDefinition limit, long quota, long remaining, Duration reset, Duration window) {

  /**
   * The status of a limit that could not be checked (its backend failed and {@code
   * on_backend_failure: deny} refused the request): the limit's own quota and window, nothing
   * remaining, and {@code reset} as given (the refusal's {@code Retry-After}).
   *
   * @param now places a calendar quota's window (a day or month varies in length)
   */
  public static LimitStatus unavailable(LimitDefinition limit, Duration reset, Instant now) {
    return switch (limit.kind()) {
      case LimitKind.Rate rate ->
          new LimitStatus(
              limit,
              rate.burst(),
              0,
              reset,
              Duration.ofNanos(Gcra.saturatedMultiply(rate.emissionIntervalNanos(), rate.burst())));
      case LimitKind.Quota quota ->
          new LimitStatus(
              limit,
              quota.permits(),
              0,
              reset,
              Duration.between(quota.windowStart(now), quota.windowEnd(now)));
    };
  }
}
