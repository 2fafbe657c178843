package io.portcullis.limit.redis;

import io.portcullis.limit.BackendCircuit;
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
import java.time.temporal.ChronoUnit;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import org.jspecify.annotations.Nullable;
import org.redisson.api.RedissonClient;

/**
 * Rate limits and quotas shared by every instance through Redis: the same GCRA and calendar-quota
 * semantics as {@link io.portcullis.limit.InMemoryGcraLimiter}, evaluated by a Lua script ({@code
 * gcra.lua}, run with {@code EVALSHA}).
 *
 * <h2>Design note</h2>
 *
 * <ul>
 *   <li><b>One atomic script decision per request, many per call.</b> For each request the script
 *       reads every bucket, decides each with the {@link Gcra} math, and writes all of them only if
 *       all admit; Redis runs scripts atomically, so concurrent requests on any instance cannot
 *       interleave between check and take. Concurrent requests of one segment share a call: while a
 *       call is in flight, new requests queue and then go out together as one {@code EVALSHA} that
 *       decides them in arrival order ({@link GcraBatcher}). A lone request is sent at once; under
 *       load Redis does one call for many decisions and the number of calls in flight stays bounded
 *       ({@link Builder#callsInFlight}), so the client's connection pool does not run dry.
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
 * <p>Thread-safe. Throws {@link LimitBackendException} when Redis fails or times out, or does not
 * answer within {@link Builder#timeout} (queueing included); use it behind {@link
 * io.portcullis.limit.FailoverRateLimiter} (as {@link RedisLimitBackends} does), which applies
 * {@code on_backend_failure} instead.
 */
public final class RedisGcraLimiter implements RateLimiter {
  static final LuaScript SCRIPT = LuaScript.resource("gcra.lua");

  /** The most decisions one script call carries (bounds the time Redis spends in one call). */
  static final int MAX_BATCH = 128;

  private final String keyPrefix;
  private final InstantSource clock;
  private final GcraBatcher batcher;

  private RedisGcraLimiter(Builder b) {
    RedissonClient redis = Objects.requireNonNull(b.redis, "redis");
    this.keyPrefix = b.keyPrefix;
    this.clock = b.clock;
    Duration timeout = b.timeout != null ? b.timeout : RedissonClients.callTimeout(redis);
    this.batcher = new GcraBatcher(redis, SCRIPT, b.callsInFlight, MAX_BATCH, timeout, b.circuit);
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
    return acquire(requests, consume, false, 0);
  }

  /**
   * {@inheritDoc}
   *
   * <p>Waits at most until {@code answerByNanos}, or the timeout when that is sooner (queueing
   * included); sends nothing when that time has already come.
   *
   * @throws LimitBackendException when Redis fails or times out; {@link
   *     LimitBackendException#callersDeadline} when it has not answered by {@code answerByNanos}
   */
  @Override
  public LimitOutcome acquire(List<LimitRequest> requests, boolean consume, long answerByNanos) {
    return acquire(requests, consume, true, answerByNanos);
  }

  private LimitOutcome acquire(
      List<LimitRequest> requests, boolean consume, boolean bounded, long answerByNanos) {
    if (requests.isEmpty()) {
      return LimitOutcome.admitted(null);
    }
    Instant now = clock.instant();
    int n = requests.size();
    List<String> keys = new ArrayList<>(n);
    String[] args = new String[2 + 4 * n];
    args[0] = consume ? "1" : "0";
    args[1] = Integer.toString(n);
    String lane = hashTag(requests.get(0).limit());
    boolean oneTag = true;
    int a = 2;
    for (LimitRequest r : requests) {
      keys.add(key(r.limit(), r.bucket(), now));
      a = addArgs(args, a, r.limit().kind(), r.cost(), now);
      oneTag &= lane.equals(hashTag(r.limit()));
    }
    if (!oneTag) { // keys of several slots (refused by a cluster): batched only with the same mix
      lane = String.join("\n", requests.stream().map(r -> hashTag(r.limit())).toList());
    }
    GcraBatcher.Decision decision = new GcraBatcher.Decision(keys, args);
    GcraReply reply =
        bounded ? batcher.decide(lane, decision, answerByNanos) : batcher.decide(lane, decision);
    long[] values = reply.values(n);
    List<BucketResult> results = new ArrayList<>(n);
    for (int i = 0; i < n; i++) {
      results.add(result(requests.get(i), values, i, now));
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
    String[] args = new String[6];
    args[0] = "0";
    args[1] = "1";
    addArgs(args, 2, limit.kind(), 1, now);
    GcraReply reply =
        batcher.decide(
            hashTag(limit), new GcraBatcher.Decision(List.of(key(limit, bucket, now)), args));
    long redisNow = reply.redisNow();
    long state = reply.values(1)[5];
    return switch (limit.kind()) {
      case LimitKind.Rate rate -> {
        long available = Gcra.available(state, redisNow, intervalMicros(rate), rate.burst());
        Instant full = Instant.EPOCH.plus(Math.max(state, redisNow), ChronoUnit.MICROS);
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

  private int addArgs(String[] args, int at, LimitKind kind, long cost, Instant now) {
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

  /** Bucket {@code i}'s result from the request's reply values (see {@link GcraReply}). */
  private static BucketResult result(LimitRequest r, long[] values, int i, Instant now) {
    int o = 1 + GcraReply.VALUES_PER_BUCKET * i;
    boolean admitted = values[o] == 1;
    long remaining = values[o + 1];
    return switch (r.limit().kind()) {
      case LimitKind.Rate rate ->
          BucketResult.rate(
              r, rate, admitted, remaining, micros(values[o + 2]), micros(values[o + 3]));
      case LimitKind.Quota quota ->
          BucketResult.quota(
              r, quota, admitted, remaining, quota.windowStart(now), quota.windowEnd(now), now);
    };
  }

  /**
   * A non-negative duration the script answered in microseconds, saturated at {@link
   * Long#MAX_VALUE} nanoseconds (292 years) as the in-memory limiter's are: a plain {@code × 1000}
   * overflowed to a negative reset once a bucket's capacity passed that (say a long period with a
   * large burst).
   */
  static Duration micros(long micros) {
    return Duration.ofNanos(micros > Long.MAX_VALUE / 1000 ? Long.MAX_VALUE : micros * 1000);
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

  /** Builds a {@link RedisGcraLimiter}; not thread-safe. */
  public static final class Builder {
    private final RedissonClient redis;
    private String keyPrefix = "portcullis";
    private InstantSource clock = InstantSource.system();
    private @Nullable Duration timeout;
    private int callsInFlight = 2;
    private @Nullable BackendCircuit circuit;

    private Builder(RedissonClient redis) {
      this.redis = redis;
    }

    /**
     * How long a decision may wait for Redis in all, its wait for a place in a call included,
     * before it fails with {@link LimitBackendException} (default: how long the client lets one
     * command take, retries included; see {@link RedissonClients#callTimeout}).
     */
    public Builder timeout(Duration timeout) {
      if (timeout.isNegative() || timeout.isZero()) {
        throw new IllegalArgumentException("timeout must be positive");
      }
      this.timeout = timeout;
      return this;
    }

    /**
     * Script calls in flight at once per hash tag (segment), default 2: decisions arriving while
     * they are all busy go out together in the next call. 1 gives the largest batches, more gives
     * lower latency at moderate load; the client's connection pool must allow this many per segment
     * in use.
     */
    public Builder callsInFlight(int callsInFlight) {
      if (callsInFlight < 1) {
        throw new IllegalArgumentException("callsInFlight must be at least 1");
      }
      this.callsInFlight = callsInFlight;
      return this;
    }

    /**
     * The backend's circuit (shared with {@link io.portcullis.limit.FailoverRateLimiter}), opened
     * by a script call that fails after all its callers gave up at their own deadlines ({@link
     * BackendCircuit#failedLate}), which no caller is left to report (default: none).
     */
    public Builder circuit(BackendCircuit circuit) {
      this.circuit = Objects.requireNonNull(circuit, "circuit");
      return this;
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
