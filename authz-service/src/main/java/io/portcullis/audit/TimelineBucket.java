package io.portcullis.audit;

import java.time.Instant;
import java.util.Objects;

/**
 * Decisions in one time bucket of an audit timeline ({@link AuditStore#timeline}).
 *
 * @param start the bucket's first instant (inclusive); the bucket ends where the next one starts
 * @param allow allows in the bucket, dry-run allows included
 * @param deny denies in the bucket
 * @param dryRun allows that a dry-run segment or rule turned from a deny (a subset of {@code
 *     allow})
 */
public record TimelineBucket(Instant start, long allow, long deny, long dryRun) {
  public TimelineBucket {
    Objects.requireNonNull(start, "start");
    if (allow < 0 || deny < 0 || dryRun < 0 || dryRun > allow) {
      throw new IllegalArgumentException("counts must be non-negative and dryRun <= allow");
    }
  }
}
