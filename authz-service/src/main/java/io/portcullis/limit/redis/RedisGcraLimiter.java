package io.portcullis.limit.redis;

import io.portcullis.limit.BucketResult;
import io.portcullis.limit.Gcra;
import io.portcullis.limit.LimitBackendException;
import io.portcullis.limit.LimitDefinition;
import io.portcullis.limit.LimitKind;
import io.portcullis.limit.LimitOutcome;
import io.portcullis.limit.LimitRequest;
import io.portcullis.limit.LimitUsage;
import io.portcullis.limit.RateLimiter;
import java.time.Duration;
import java.time.Instant;
import java.time.InstantSource;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import org.redisson.api.RedissonClient;

/**
 * Rate limits and quotas shared by every instance through Redis: the same GCRA and calendar-quota
 * semantics as {@link io.portcullis.limit.InMemoryGcraLimiter}, evaluated by one Lua script per
 * request ({@code gcra.lua}, run with {@code EVALSHA}).
 *
 * <h2>Design note</h2>
 *
 * <ul>
 *   <li><b>One atomic script per request.</b> The script reads every bucket, decides each with the
 *       {@link Gcra} math, and writes all of them only if all admit; Redis runs scripts atomically,
 *       so concurrent requests on any instance cannot interleave between check and take.
 *   <li><b>Redis time.</b> Rates use {@code TIME} inside the script (microseconds), so instance
 *       clocks never matter and refill is continuous, not per whole second. Calendar quota windows
 *       need the IANA zone rules, so their bounds come from this instance's injected clock: the
 *       counter key carries the window's start, its expiry is the window's end. Instance clock skew
 *       only matters for requests within the skew of a window boundary.
 *   <li><b>TTL from the limit.</b> A rate key expires when its bucket would be full again ({@code
 *       newTat − now}, rounded up, plus 1 ms), so it is never 0 however slow or fast the rate is
 *       (unlike a {@code floor(2·capacity/rate)} seconds TTL, which is 0 when capacity/rate &lt;
 *       0.5). A quota key expires at its window's end.
 *   <li><b>Cluster-safe keys.</b> Every key is {@code <prefix>:{<segment>}:<r|q>:<bucket>}: the
 *       hash tag is the limit's segment (the {@code segment/<name>} part of its scope), because one
 *       request only ever touches the limits of one segment and its allowing rule, and a bucket
 *       must keep one slot whichever request touches it. The trade-off: all limit traffic of one
 *       segment goes to one cluster slot, so a cluster spreads segments, not buckets, over its
 *       shards. Buckets of different segments in one call would be refused by a cluster ({@code
 *       CROSSSLOT}) and reported as a backend failure.
 * </ul>
 *
 * <p>Thread-safe. Throws {@link LimitBackendException} when Redis fails or times out; use it behind
 * {@link io.portcullis.limit.FailoverRateLimiter} (as {@link RedisLimitBackends} does), which
 * applies {@code on_backend_failure} instead.
 */
public final class RedisGcraLimiter implements RateLimiter {
  static final LuaScript SCRIPT = LuaScript.resource("gcra.lua");

  private final RedissonClient redis;
  private final String keyPrefix;
  private final InstantSource clock;

  private RedisGcraLimiter(Builder b) {
    this.redis = Objects.requireNonNull(b.redis, "redis");
    this.keyPrefix = b.keyPrefix;
    this.clock = b.clock;
  }

  /** A limiter on {@code redis}; the caller owns (and shuts down) the client. */
  public static Builder builder(RedissonClient redis) {
    return new Builder(redis);
  }

  /**
   * {@inheritDoc}
   *
   * @throws LimitBackendException when Redis fails or times out
   */
  @Override
  public LimitOutcome acquire(List<LimitRequest> requests, boolean consume) {
    if (requests.isEmpty()) {
      return LimitOutcome.admitted(null);
    }
    Instant now = clock.instant();
    List<Object> keys = new ArrayList<>(requests.size());
    Object[] args = new Object[1 + 4 * requests.size()];
    args[0] = consume ? "1" : "0";
    int a = 1;
    for (LimitRequest r : requests) {
      keys.add(key(r.limit(), r.bucket(), now));
      a = addArgs(args, a, r.limit().kind(), r.cost(), now);
    }
    List<Object> reply = SCRIPT.run(redis, keys, args);
    List<BucketResult> results = new ArrayList<>(requests.size());
    for (int i = 0; i < requests.size(); i++) {
      results.add(result(requests.get(i), reply, i, now));
    }
    return BucketResult.outcome(results);
  }

  /**
   * {@inheritDoc}
   *
   * @throws LimitBackendException when Redis fails or times out
   */
  @Override
  public LimitUsage usage(LimitDefinition limit, String bucket) {
    Instant now = clock.instant();
    Object[] args = new Object[5];
    args[0] = "0";
    addArgs(args, 1, limit.kind(), 1, now);
    List<Object> reply = SCRIPT.run(redis, List.of(key(limit, bucket, now)), args);
    long redisNow = number(reply, 0);
    long state = number(reply, 2 + 4);
    return switch (limit.kind()) {
      case LimitKind.Rate rate -> {
        long available = Gcra.available(state, redisNow, intervalMicros(rate), rate.burst());
        Instant full = Instant.EPOCH.plusNanos(Math.max(state, redisNow) * 1000);
        yield new LimitUsage(
            limit, bucket, rate.burst() - available, rate.burst(), available, full);
      }
      case LimitKind.Quota quota ->
          new LimitUsage(
              limit,
              bucket,
              state,
              quota.permits(),
              Math.max(0, quota.permits() - state),
              quota.windowEnd(now));
    };
  }

  private int addArgs(Object[] args, int at, LimitKind kind, long cost, Instant now) {
    switch (kind) {
      case LimitKind.Rate rate -> {
        args[at] = "r";
        args[at + 1] = Long.toString(cost);
        args[at + 2] = Long.toString(intervalMicros(rate));
        args[at + 3] = Long.toString(rate.burst());
      }
      case LimitKind.Quota quota -> {
        args[at] = "q";
        args[at + 1] = Long.toString(cost);
        args[at + 2] = Long.toString(quota.permits());
        args[at + 3] = Long.toString(quotaTtlMillis(quota, now));
      }
    }
    return at + 4;
  }

  private static BucketResult result(LimitRequest r, List<Object> reply, int i, Instant now) {
    int o = 2 + 5 * i;
    boolean admitted = number(reply, o) == 1;
    long remaining = number(reply, o + 1);
    return switch (r.limit().kind()) {
      case LimitKind.Rate rate ->
          BucketResult.rate(
              r,
              rate,
              admitted,
              remaining,
              Duration.ofNanos(number(reply, o + 2) * 1000),
              Duration.ofNanos(number(reply, o + 3) * 1000));
      case LimitKind.Quota quota ->
          BucketResult.quota(
              r, quota, admitted, remaining, quota.windowStart(now), quota.windowEnd(now), now);
    };
  }

  /** The Redis key of one bucket at {@code now} (quota keys carry the window's start). */
  String key(LimitDefinition limit, String bucket, Instant now) {
    return switch (limit.kind()) {
      case LimitKind.Rate rate -> rateKey(keyPrefix, limit, bucket);
      case LimitKind.Quota quota ->
          quotaKey(keyPrefix, limit, bucket, quota.windowStart(now).getEpochSecond());
    };
  }

  static String rateKey(String prefix, LimitDefinition limit, String bucket) {
    return prefix + ":{" + hashTag(limit) + "}:r:" + limit.bucketId(bucket);
  }

  static String quotaKey(String prefix, LimitDefinition limit, String bucket, long windowStart) {
    return prefix + ":{" + hashTag(limit) + "}:q:" + limit.bucketId(bucket) + "@" + windowStart;
  }

  /** The segment part of the limit's scope ({@code segment/partners}), without braces. */
  static String hashTag(LimitDefinition limit) {
    String scope = limit.scope();
    int first = scope.indexOf('/');
    int second = first < 0 ? -1 : scope.indexOf('/', first + 1);
    String tag = second < 0 ? scope : scope.substring(0, second);
    return tag.replace("{", "%7B").replace("}", "%7D");
  }

  /** Milliseconds from {@code now} to the end of the quota's window (at least 1). */
  static long quotaTtlMillis(LimitKind.Quota quota, Instant now) {
    Duration left = Duration.between(now, quota.windowEnd(now));
    long ms = left.toMillis() + (left.toNanosPart() % 1_000_000 == 0 ? 0 : 1);
    return Math.max(1, ms);
  }

  /** The emission interval in whole microseconds (at least 1): the script's time unit. */
  static long intervalMicros(LimitKind.Rate rate) {
    return Math.max(1, rate.emissionIntervalNanos() / 1000);
  }

  private static long number(List<Object> reply, int index) {
    Object o = reply.get(index);
    if (o instanceof Long l) {
      return l;
    }
    if (o instanceof Number n) {
      return n.longValue();
    }
    return Long.parseLong(String.valueOf(o));
  }

  /** Builds a {@link RedisGcraLimiter}; not thread-safe. */
  public static final class Builder {
    private final RedissonClient redis;
    private String keyPrefix = "portcullis";
    private InstantSource clock = InstantSource.system();

    private Builder(RedissonClient redis) {
      this.redis = redis;
    }

    /** First part of every key (default {@code portcullis}); must not contain braces. */
    public Builder keyPrefix(String keyPrefix) {
      if (keyPrefix.isEmpty() || keyPrefix.contains("{") || keyPrefix.contains("}")) {
        throw new IllegalArgumentException("key prefix must be non-empty without braces");
      }
      this.keyPrefix = keyPrefix;
      return this;
    }

    /** The clock that places requests in calendar quota windows (rates use Redis time). */
    public Builder clock(InstantSource clock) {
      this.clock = Objects.requireNonNull(clock, "clock");
      return this;
    }

    public RedisGcraLimiter build() {
      return new RedisGcraLimiter(this);
    }
  }
}
