package io.portcullis.limit;

import java.util.List;
import org.jspecify.annotations.Nullable;

/**
 * Checks and consumes rate limits and quotas (spec step 8). Implementations: {@link
 * InMemoryGcraLimiter} (per instance) and {@code io.portcullis.limit.redis.RedisGcraLimiter}
 * (shared); both pass the same contract test. The Redis limiter alone reports a Redis failure by
 * throwing {@link LimitBackendException}; the service always wraps it in {@link
 * FailoverRateLimiter}, so the limiter the decision pipeline holds keeps the contract below.
 *
 * <p>Contract:
 *
 * <ul>
 *   <li>All-or-nothing: {@link #acquire} consumes {@code cost} from every bucket only if every
 *       bucket has room; a request denied by one limit consumes nothing from the others.
 *   <li>Never blocks on I/O for longer than the backend's configured timeout (nor past the caller's
 *       deadline, when it gives one), and never throws for a backend failure: it applies the
 *       configured {@code on_backend_failure} policy and says so in {@link
 *       LimitOutcome#degraded()}.
 *   <li>Thread-safe.
 * </ul>
 */
public interface RateLimiter {

  /**
   * Checks every request's bucket and, if all have room and {@code consume} is true, takes each
   * request's cost from its bucket.
   *
   * @param requests the buckets of the segment's and the allowing rule's applicable limits
   * @param consume false to look without taking (explain, dry checks)
   */
  LimitOutcome acquire(List<LimitRequest> requests, boolean consume);

  /**
   * As {@link #acquire(List, boolean)}, for a caller that needs the answer by {@code answerByNanos}
   * (a {@link System#nanoTime()} value: the part of Envoy's deadline the decision may spend on
   * limits). A shared backend that has not answered by then, though its own timeout has not run
   * out, throws {@link LimitBackendException#callersDeadline}; {@link FailoverRateLimiter} answers
   * by {@code on_backend_failure} then, in time for the caller. The default, for limiters that do
   * not wait, ignores the deadline.
   */
  default LimitOutcome acquire(List<LimitRequest> requests, boolean consume, long answerByNanos) {
    return acquire(requests, consume);
  }

  /**
   * How much of one bucket is used right now, for {@code GET /admin/usage}; never consumes.
   *
   * <p>The default is {@code null}: a limiter that keeps no state (such as {@link #unlimited()})
   * has nothing to report. The in-memory and Redis backends override it.
   *
   * @param limit the limit the bucket belongs to
   * @param bucket the bucket's key values, as in {@link LimitRequest#bucket()}
   * @return the bucket's use, or {@code null} when this limiter keeps no state
   * @throws LimitBackendException when a shared backend fails (admin calls are not degraded)
   */
  default @Nullable LimitUsage usage(LimitDefinition limit, String bucket) {
    return null;
  }

  /** A limiter that admits everything: for policies without limits and for policy tests. */
  static RateLimiter unlimited() {
    return (requests, consume) -> LimitOutcome.admitted(null);
  }
}
