package io.portcullis.limit;

import java.time.Duration;

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
    LimitDefinition limit, long quota, long remaining, Duration reset, Duration window) {}
