package io.portcullis.limit.redis;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.portcullis.limit.LimitDefinition;
import io.portcullis.limit.LimitKind;
import io.portcullis.limit.LimitOutcome;
import io.portcullis.limit.LimitRequest;
import io.portcullis.limit.QuotaWindow;
import io.portcullis.limit.RateLimiter;
import io.portcullis.limit.RateLimiterContract;
import io.portcullis.testing.FakeClock;
import io.portcullis.testing.TestRedis;
import java.time.Duration;
import java.time.Instant;
import java.time.OffsetDateTime;
import java.util.List;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.redisson.api.RedissonClient;

/** The shared contract against the real Redis, plus the Redis backend's keys and expiries. */
class RedisGcraLimiterIT extends RateLimiterContract {
  private static RedissonClient redis;
  private String prefix;

  @BeforeAll
  static void connect() {
    redis = TestRedis.client();
  }

  @AfterAll
  static void disconnect() {
    redis.shutdown();
  }

  @Override
  protected RateLimiter newLimiter(FakeClock clock) {
    prefix = TestRedis.randomPrefix();
    return RedisGcraLimiter.builder(redis).keyPrefix(prefix).clock(clock).build();
  }

  @Override
  protected void release() {
    TestRedis.deleteKeys(redis, prefix);
  }

  /** Rates run on Redis time: poll until admitted, and check it was not much before {@code due}. */
  @Override
  protected LimitOutcome acquireWhenDue(
      List<LimitRequest> requests, Duration due, long askedNanos) {
    AtomicReference<LimitOutcome> admitted = new AtomicReference<>();
    await()
        .pollInterval(Duration.ofMillis(5))
        .atMost(due.plusSeconds(2))
        .until(
            () -> {
              LimitOutcome o = limiter.acquire(requests, true);
              if (o.admitted()) {
                admitted.set(o);
              }
              return o.admitted();
            });
    // The refusal's Redis time came after askedNanos and the admission's before now: however
    // slow the machine, at least Retry-After lies between them (1 ms for the clocks' rounding).
    Duration waited = Duration.ofNanos(System.nanoTime() - askedNanos);
    assertThat(waited)
        .as("admitted no earlier than Retry-After")
        .isGreaterThanOrEqualTo(due.minusMillis(1));
    return admitted.get();
  }

  @Test
  void hugeCapacity_resetBeyondLongNanos_saturates_insteadOfOverflowingNegative() {
    // 1/h, burst 3,000,000: taking 2,600,000 leaves a reset of 2.6e6 h (9.36e15 µs), past 2^63 ns
    LimitDefinition l = rate("huge", 1, Duration.ofHours(1), 3_000_000);

    LimitOutcome o = limiter.acquire(List.of(new LimitRequest(l, "acme", 2_600_000)), true);

    assertThat(o.admitted()).isTrue();
    assertThat(o.tightest().remaining()).isEqualTo(400_000);
    assertThat(o.tightest().reset())
        .as("saturated at Long.MAX_VALUE ns, not negative")
        .isEqualTo(Duration.ofNanos(Long.MAX_VALUE));
  }

  @Test
  void keys_shareTheSegmentHashTag_andCarryTheQuotaWindowStart() {
    LimitDefinition segmentLimit = rate("per-key", 1, Duration.ofSeconds(1), 1);
    LimitDefinition ruleLimit =
        new LimitDefinition(
            "writes",
            SCOPE + "/rule/create-order",
            segmentLimit.key(),
            new LimitKind.Rate(1, Duration.ofSeconds(1), 1));
    LimitDefinition daily = quota("daily", 5, QuotaWindow.DAY, "Europe/Berlin");
    clock.set(OffsetDateTime.parse("2026-03-29T12:00:00+02:00").toInstant());

    RedisGcraLimiter l = (RedisGcraLimiter) limiter;

    assertThat(l.key(segmentLimit, "acme", clock.instant()))
        .isEqualTo(prefix + ":{segment/contract}:r:segment/contract/per-key|acme");
    assertThat(l.key(ruleLimit, "acme", clock.instant()))
        .startsWith(prefix + ":{segment/contract}:r:");
    assertThat(l.key(daily, "acme", clock.instant()))
        .isEqualTo(
            prefix
                + ":{segment/contract}:q:segment/contract/daily|acme@"
                + OffsetDateTime.parse("2026-03-29T00:00:00+01:00").toEpochSecond());
  }

  @Test
  void quotaKey_expiresAtTheWindowEnd_computedInTheLimitsZone() {
    clock.set(OffsetDateTime.parse("2026-03-29T00:30:00+01:00").toInstant());
    LimitDefinition daily = quota("daily", 5, QuotaWindow.DAY, "Europe/Berlin");
    long called = System.nanoTime();

    limiter.acquire(req(daily), true);

    String key = ((RedisGcraLimiter) limiter).key(daily, "acme", clock.instant());
    assertThat(redis.getBucket(key).get()).isEqualTo("1");
    TestRedis.assertExpiry(redis, key, Duration.ofMinutes(22 * 60 + 30).toMillis(), called);
  }

  @Test
  void rateKey_expiresWhenTheBucketIsFull_neverZero_evenForFastRates() {
    LimitDefinition fast = rate("fast", 10_000, Duration.ofSeconds(1), 1); // T = 100 µs
    LimitDefinition slow = rate("slow", 1, Duration.ofMinutes(1), 3);
    long called = System.nanoTime();

    limiter.acquire(req(fast), true);
    limiter.acquire(req(slow), true);

    RedisGcraLimiter l = (RedisGcraLimiter) limiter;
    String fastKey = l.key(fast, "acme", clock.instant());
    String slowKey = l.key(slow, "acme", clock.instant());
    TestRedis.assertExpiry(redis, slowKey, 60_001, called); // T, rounded up to the next ms
    // the fast key lives ~1 ms; if it is still there its TTL is positive, never "no expiry"
    long fastTtl = redis.getBucket(fastKey).remainTimeToLive();
    assertThat(fastTtl).isNotEqualTo(-1L).isLessThanOrEqualTo(2L);
  }

  @Test
  void usage_ofRate_reportsTheFullInstantInRedisTime() {
    LimitDefinition r = rate("usage", 1, Duration.ofMinutes(1), 5);
    Instant before = Instant.now();
    limiter.acquire(req(r), true);
    limiter.acquire(req(r), true);

    var u = limiter.usage(r, "acme");

    Instant after = Instant.now();
    assertThat(u.used()).isEqualTo(2);
    // two takes of T = 1 min after the first one's Redis time, which lies between before and
    // after (1 ms for the clocks' rounding)
    assertThat(u.resetsAt())
        .isBetween(
            before.plus(Duration.ofMinutes(2)).minusMillis(1),
            after.plus(Duration.ofMinutes(2)).plusMillis(1));
  }
}
