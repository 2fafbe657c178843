package io.portcullis.limit;

import java.time.Instant;
import java.util.Objects;

/**
 * One bucket's use at one moment, for {@code GET /admin/usage} (quota dashboards, support).
 *
 * @param limit the limit
 * @param bucket the bucket's key values
 * @param used units taken and not yet refilled (rate) or counted in the current window (quota)
 * @param max the bucket's size: the burst (rate) or the quota's N
 * @param remaining units available now ({@code max - used}, never negative)
 * @param resetsAt when the bucket is full again (rate) or the current window ends (quota)
 */
public record LimitUsage(
    LimitDefinition limit, String bucket, long used, long max, long remaining, Instant resetsAt) {
  public LimitUsage {
    Objects.requireNonNull(limit, "limit");
    Objects.requireNonNull(bucket, "bucket");
    Objects.requireNonNull(resetsAt, "resetsAt");
  }
}
