package io.portcullis.limit;

import java.util.Objects;

/**
 * One bucket to check for one request.
 *
 * @param limit the limit definition
 * @param bucket the bucket key: the limit's scope and name plus the request's key values
 * @param cost units to take (1 for a request)
 */
public record LimitRequest(LimitDefinition limit, String bucket, long cost) {
  public LimitRequest {
    Objects.requireNonNull(limit, "limit");
    Objects.requireNonNull(bucket, "bucket");
    if (cost <= 0) {
      throw new IllegalArgumentException("cost must be positive");
    }
  }
}
