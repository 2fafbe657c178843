package io.portcullis.limit;

import static org.assertj.core.api.Assertions.assertThat;

import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import io.portcullis.decision.Reason;
import io.portcullis.metrics.MetricNames;
import io.portcullis.testing.FakeClock;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;

class InMemoryGcraLimiterTest extends RateLimiterContract {

  @Override
  protected RateLimiter newLimiter(FakeClock clock) {
    return InMemoryGcraLimiter.builder().clock(clock).maximumBuckets(10_000).build();
  }

  @Override
  protected LimitOutcome acquireWhenDue(
      List<LimitRequest> requests, Duration due, long askedNanos) {
    clock.advance(due.minusNanos(1));
    assertThat(limiter.acquire(requests, true).admitted())
        .as("one nanosecond before Retry-After")
        .isFalse();
    clock.advance(Duration.ofNanos(1));
    return limiter.acquire(requests, true);
  }

  @Test
  void rate_afterBurstTimesInterval_theBucketIsFullAgain() {
    LimitDefinition l = rate("full", 10, Duration.ofSeconds(1), 4);
    for (int i = 0; i < 4; i++) {
      limiter.acquire(req(l), true);
    }

    clock.advance(Duration.ofMillis(400));

    assertThat(limiter.usage(l, "acme").remaining()).isEqualTo(4);
    for (int i = 0; i < 4; i++) {
      assertThat(limiter.acquire(req(l), true).admitted()).isTrue();
    }
    assertThat(limiter.acquire(req(l), true).admitted()).isFalse();
  }

  @Test
  void clockSteppedBack_recentlyActiveBucket_isAtMostEmpty_notRefusedForTheWholeStep() {
    LimitDefinition l = rate("step", 5, Duration.ofSeconds(1), 10); // T = 200 ms, capacity 2 s
    assertThat(limiter.acquire(req(l), true).admitted()).isTrue();

    clock.advance(Duration.ofSeconds(-60));

    LimitOutcome next = limiter.acquire(req(l), true);
    assertThat(next.admitted()).as("stored TAT clamped to an empty bucket").isFalse();
    assertThat(next.retryAfter()).as("one interval, not ~60 s").isEqualTo(Duration.ofMillis(200));
    clock.advance(Duration.ofMillis(200));
    assertThat(limiter.acquire(req(l), true).admitted()).as("refills from the step on").isTrue();
    clock.advance(Duration.ofSeconds(2));
    assertThat(limiter.usage(l, "acme").remaining()).as("full after the capacity").isEqualTo(10);
  }

  @Test
  void clockSteppedBack_aLookOrAMultiBucketRefusal_alsoStoresTheClampedTat() {
    LimitDefinition l = rate("step-peek", 5, Duration.ofSeconds(1), 10);
    LimitDefinition q = quota("step-q", 1, QuotaWindow.DAY, "UTC");
    limiter.acquire(req(l), true);
    clock.advance(Duration.ofSeconds(-60));

    assertThat(limiter.acquire(req(l, q), true).admitted()).isFalse(); // checks, takes nothing
    clock.advance(Duration.ofMillis(200));

    assertThat(limiter.acquire(req(l), true).admitted()).isTrue();
  }

  @Test
  void usage_ofRate_resetsWhenTheBucketIsFullAgain() {
    LimitDefinition l = rate("reset", 10, Duration.ofSeconds(1), 5);
    limiter.acquire(req(l), true);
    limiter.acquire(req(l), true);

    assertThat(limiter.usage(l, "acme").resetsAt())
        .isEqualTo(clock.instant().plus(Duration.ofMillis(200)));
  }

  @Test
  void idleBuckets_stopCountingOnceFull_andQuotaCountersAtWindowEnd() {
    InMemoryGcraLimiter mem = (InMemoryGcraLimiter) limiter;
    LimitDefinition r = rate("idle", 10, Duration.ofSeconds(1), 2); // full again after 100 ms
    LimitDefinition q = quota("minute", 5, QuotaWindow.MINUTE, "UTC");
    for (int i = 0; i < 100; i++) {
      mem.acquire(bucket("client-" + i, r, q), true);
    }
    assertThat(mem.liveBuckets()).isEqualTo(200);

    clock.advance(Duration.ofMillis(100));
    assertThat(mem.liveBuckets()).as("rate buckets full again, quota counters left").isEqualTo(100);
    clock.advance(Duration.ofSeconds(60));
    assertThat(mem.liveBuckets()).isZero();
  }

  @Test
  void staleBuckets_areSwept_whenNewBucketsReachTheSweepThreshold() {
    InMemoryGcraLimiter mem = (InMemoryGcraLimiter) limiter; // at most 10,000: sweeps from 1,024
    LimitDefinition r = rate("sweep", 10, Duration.ofSeconds(1), 1); // stale 100 ms after a take
    for (int i = 0; i < 1_024; i++) {
      assertThat(mem.acquire(bucket("old-" + i, r), true).admitted()).isTrue();
    }
    assertThat(mem.rateBucketsHeld()).isEqualTo(1_024);

    clock.advance(Duration.ofMillis(100));
    assertThat(mem.acquire(bucket("new", r), true).admitted()).isTrue();

    assertThat(mem.rateBucketsHeld()).as("the 1,024 stale buckets removed").isEqualTo(1);
    assertThat(mem.liveBuckets()).isEqualTo(1);
  }

  @Test
  void peekAndRefusals_createNoBucket() {
    InMemoryGcraLimiter mem = (InMemoryGcraLimiter) limiter;
    LimitDefinition r = rate("peek", 10, Duration.ofSeconds(1), 1);

    mem.acquire(bucket("looked-at", r), false);
    mem.acquire(List.of(new LimitRequest(r, "too-big", 2)), true);

    assertThat(mem.rateBucketsHeld()).isZero();
  }

  @Test
  void fullOfLiveQuotaCounters_refusesNewKeys_andAFloodNeverGivesTheVictimItsQuotaBack() {
    InMemoryGcraLimiter small =
        InMemoryGcraLimiter.builder().clock(clock).maximumBuckets(100).build();
    LimitDefinition daily = quota("daily", 1, QuotaWindow.DAY, "UTC");
    LimitDefinition other = quota("other", 5, QuotaWindow.DAY, "UTC");
    assertThat(small.acquire(bucket("victim", daily), true).admitted()).isTrue();
    assertThat(small.acquire(bucket("victim", daily), true).admitted()).isFalse();

    int refused = 0;
    for (int i = 0; i < 1_000; i++) {
      LimitOutcome o = small.acquire(bucket("flood-" + i, other), true);
      if (!o.admitted()) {
        refused++;
        assertThat(o.degraded()).isEqualTo(InMemoryGcraLimiter.FULL_LABEL);
        assertThat(o.retryAfter()).isEqualTo(Duration.ofSeconds(1));
      }
    }

    assertThat(refused).as("new keys beyond the 100 counters").isGreaterThanOrEqualTo(900);
    assertThat(small.refusedWhenFull()).isEqualTo(refused);
    assertThat(small.acquire(bucket("victim", daily), true).admitted())
        .as("the victim's spent quota is still counted")
        .isFalse();
    assertThat(small.usage(daily, "victim").used()).isEqualTo(1);
    assertThat(small.acquire(bucket("flood-0", other), true).admitted())
        .as("existing counters still count")
        .isTrue();
    clock.advance(Duration.ofDays(1));
    assertThat(small.acquire(bucket("newcomer", other), true).admitted())
        .as("expired counters make room")
        .isTrue();
  }

  @Test
  void fullOfLiveBuckets_refusesNewKeys_andKeepsTheLiveBucketsExact() {
    InMemoryGcraLimiter small =
        InMemoryGcraLimiter.builder().clock(clock).maximumBuckets(50).build();
    LimitDefinition r = rate("bounded", 1, Duration.ofHours(1), 1);
    for (int i = 0; i < 50; i++) {
      assertThat(small.acquire(bucket("client-" + i, r), true).admitted()).isTrue();
    }

    LimitOutcome newcomer = small.acquire(bucket("client-50", r), true);

    assertThat(newcomer.admitted()).isFalse();
    assertThat(newcomer.reason()).isEqualTo(Reason.RATE_LIMITED);
    assertThat(newcomer.exceeded()).isEqualTo(r);
    assertThat(newcomer.degraded()).isEqualTo(InMemoryGcraLimiter.FULL_LABEL);
    assertThat(newcomer.retryAfter()).isGreaterThanOrEqualTo(Duration.ofSeconds(1));
    assertThat(small.refusedWhenFull()).isEqualTo(1);
    assertThat(small.rateBucketsHeld()).isEqualTo(50);
    for (int i = 0; i < 50; i++) {
      assertThat(small.acquire(bucket("client-" + i, r), true).admitted())
          .as("client-%d's exhausted bucket was not reset", i)
          .isFalse();
    }
    assertThat(small.refusedWhenFull()).as("existing buckets answer as usual").isEqualTo(1);
  }

  /**
   * A refusal for lack of room is told apart from an exhausted limit (the pipeline's audit detail
   * read "exhausted"), and the limit is reported as not checked: nothing remaining until
   * Retry-After. It used to report the missing bucket, a rate bucket as full again at once ({@code
   * t=0} beside {@code Retry-After: 1}) and a quota as used up until the end of its window.
   */
  @Test
  void full_refusalIsLimiterFull_reportingTheLimitAsNotChecked_alsoToALookThatCountsNothing() {
    InMemoryGcraLimiter small =
        InMemoryGcraLimiter.builder().clock(clock).maximumBuckets(1).build();
    LimitDefinition hourly = rate("hourly", 1, Duration.ofHours(1), 5);
    LimitDefinition daily = quota("daily", 100, QuotaWindow.DAY, "UTC");
    assertThat(small.acquire(bucket("first", hourly), true).admitted()).isTrue();
    assertThat(small.acquire(bucket("first", daily), true).admitted()).isTrue();

    LimitOutcome rateFull = small.acquire(bucket("second", hourly), true);
    LimitOutcome quotaFull = small.acquire(bucket("second", daily), true);
    LimitOutcome bothFull = small.acquire(bucket("second", hourly, daily), true);
    LimitOutcome look = small.acquire(bucket("second", hourly), false);

    for (LimitOutcome o : List.of(rateFull, quotaFull, bothFull, look)) {
      assertThat(o.refusal()).isEqualTo(LimitOutcome.Refusal.LIMITER_FULL);
      assertThat(o.limiterFull()).isTrue();
      assertThat(o.backendUnavailable()).isFalse();
      assertThat(o.degraded()).isEqualTo(InMemoryGcraLimiter.FULL_LABEL);
    }
    // a rate bucket can be made only once a sweep may free one: "first" is stale in an hour
    assertThat(rateFull.reason()).isEqualTo(Reason.RATE_LIMITED);
    assertThat(rateFull.retryAfter()).isEqualTo(Duration.ofHours(1));
    assertThat(rateFull.tightest())
        .isEqualTo(new LimitStatus(hourly, 5, 0, Duration.ofHours(1), Duration.ofHours(5)));
    assertThat(bothFull.tightest()).isEqualTo(rateFull.tightest());
    assertThat(quotaFull.reason()).isEqualTo(Reason.QUOTA_EXCEEDED);
    assertThat(quotaFull.retryAfter()).isEqualTo(Duration.ofSeconds(1));
    assertThat(quotaFull.tightest())
        .isEqualTo(new LimitStatus(daily, 100, 0, Duration.ofSeconds(1), Duration.ofDays(1)));
    assertThat(look.tightest()).isEqualTo(rateFull.tightest());
    assertThat(small.refusedWhenFull()).as("the look is not a refusal").isEqualTo(3);
    assertThat(small.usage(hourly, "first").used()).as("nothing taken").isEqualTo(1);

    for (int i = 0; i < 4; i++) {
      small.acquire(bucket("first", hourly), true);
    }
    LimitOutcome exhausted = small.acquire(bucket("first", hourly), true);
    assertThat(exhausted.refusal()).isEqualTo(LimitOutcome.Refusal.EXHAUSTED);
    assertThat(exhausted.limiterFull()).isFalse();
    assertThat(exhausted.degraded()).isNull();
  }

  /**
   * A limit found exhausted refuses the request whatever the full table says, so it is the refusal
   * reported: EXHAUSTED, its own reason, limit, status and Retry-After, no full label, and not
   * counted as refused for want of room. It used to report the limit that had no room for a new
   * bucket whenever that one's wait (until the next sweep) was the longer: LIMITER_FULL, "not
   * checked", its reason ({@code rate_limited} for an exhausted quota) and its Retry-After.
   */
  @Test
  void full_andAnotherLimitExhausted_reportsTheExhaustedLimit_notTheFullTable() {
    InMemoryGcraLimiter small =
        InMemoryGcraLimiter.builder().clock(clock).maximumBuckets(2).build();
    LimitDefinition hourly = rate("hourly", 1, Duration.ofHours(1), 5); // live for hours
    LimitDefinition fast = rate("fast", 1, Duration.ofSeconds(10), 3); // T = 10 s
    LimitDefinition perMinute = quota("per-minute", 1, QuotaWindow.MINUTE, "UTC");
    assertThat(small.acquire(bucket("other", hourly), true).admitted()).isTrue();
    for (int i = 0; i < 3; i++) {
      assertThat(small.acquire(bucket("acme", fast), true).admitted()).isTrue();
    }
    assertThat(small.acquire(bucket("acme", perMinute), true).admitted()).isTrue();
    // "acme" has used up "fast" and "per-minute"; its "hourly" bucket is missing and cannot be
    // made until a sweep may free one: when "fast"'s bucket of "acme" is stale, 30 s from now
    LimitOutcome fullAlone = small.acquire(bucket("acme", hourly), true);
    assertThat(fullAlone.refusal()).isEqualTo(LimitOutcome.Refusal.LIMITER_FULL);
    assertThat(fullAlone.retryAfter()).isEqualTo(Duration.ofSeconds(30));
    assertThat(small.refusedWhenFull()).isEqualTo(1);

    LimitOutcome rateAndFull = small.acquire(bucket("acme", hourly, fast), true);
    LimitOutcome quotaAndFull = small.acquire(bucket("acme", hourly, perMinute), true);
    LimitOutcome look = small.acquire(bucket("acme", fast, hourly), false);

    for (LimitOutcome o : List.of(rateAndFull, look)) {
      assertThat(o.refusal()).isEqualTo(LimitOutcome.Refusal.EXHAUSTED);
      assertThat(o.reason()).isEqualTo(Reason.RATE_LIMITED);
      assertThat(o.exceeded()).isEqualTo(fast);
      assertThat(o.retryAfter()).as("fast's own wait").isEqualTo(Duration.ofSeconds(10));
      assertThat(o.tightest())
          .isEqualTo(new LimitStatus(fast, 3, 0, Duration.ofSeconds(30), Duration.ofSeconds(30)));
      assertThat(o.degraded()).isNull();
    }
    assertThat(quotaAndFull.refusal()).isEqualTo(LimitOutcome.Refusal.EXHAUSTED);
    assertThat(quotaAndFull.reason()).isEqualTo(Reason.QUOTA_EXCEEDED);
    assertThat(quotaAndFull.exceeded()).isEqualTo(perMinute);
    assertThat(quotaAndFull.retryAfter())
        .as("until the minute ends")
        .isEqualTo(Duration.ofMinutes(1));
    assertThat(quotaAndFull.degraded()).isNull();
    assertThat(small.refusedWhenFull())
        .as("refused for the exhausted limits, which room would not have changed")
        .isEqualTo(1);
    assertThat(small.rateBucketsHeld()).isEqualTo(2);
  }

  @Test
  void fullOfLiveBuckets_refusedNewKey_givesBackWhatOtherLimitsTook() {
    InMemoryGcraLimiter small =
        InMemoryGcraLimiter.builder().clock(clock).maximumBuckets(2).build();
    LimitDefinition a = rate("a", 1, Duration.ofHours(1), 5);
    LimitDefinition b = rate("b", 1, Duration.ofHours(1), 5);
    small.acquire(bucket("acme", a), true);
    small.acquire(bucket("other", b), true);

    LimitOutcome o = small.acquire(bucket("acme", a, b), true); // b's "acme" would be new

    assertThat(o.admitted()).isFalse();
    assertThat(o.degraded()).isEqualTo(InMemoryGcraLimiter.FULL_LABEL);
    assertThat(small.usage(a, "acme").used()).isEqualTo(1);
  }

  @Test
  void full_staleBucketsMakeRoomFirst_andLiveOnesAreNeverReset() {
    InMemoryGcraLimiter small =
        InMemoryGcraLimiter.builder().clock(clock).maximumBuckets(50).build();
    LimitDefinition brief = rate("brief", 10, Duration.ofSeconds(1), 1); // stale after 100 ms
    LimitDefinition slow = rate("slow", 1, Duration.ofHours(1), 1); // live for an hour
    for (int i = 0; i < 25; i++) {
      small.acquire(bucket("brief-" + i, brief), true);
      small.acquire(bucket("slow-" + i, slow), true);
    }
    clock.advance(Duration.ofSeconds(1));

    for (int i = 0; i < 25; i++) {
      assertThat(small.acquire(bucket("new-" + i, slow), true).admitted())
          .as("new-%d gets a stale bucket's room", i)
          .isTrue();
    }

    assertThat(small.acquire(bucket("one-too-many", slow), true).degraded())
        .isEqualTo(InMemoryGcraLimiter.FULL_LABEL);
    assertThat(small.rateBucketsHeld()).isEqualTo(50);
    for (int i = 0; i < 25; i++) {
      assertThat(small.acquire(bucket("slow-" + i, slow), true).admitted()).isFalse();
    }
    clock.advance(Duration.ofHours(1));
    assertThat(small.acquire(bucket("one-too-many", slow), true).admitted())
        .as("room again once the hour-long buckets are full again")
        .isTrue();
  }

  @Test
  void oneKey_takenWhileSweepsRemoveStaleBuckets_isNeverOverAdmitted() throws Exception {
    InMemoryGcraLimiter mem = InMemoryGcraLimiter.builder().clock(clock).maximumBuckets(16).build();
    LimitDefinition hot = rate("hot", 1, Duration.ofHours(1), 5); // no refill within a round
    LimitDefinition churn = rate("churn", 1_000, Duration.ofSeconds(1), 1); // stale after 1 ms
    AtomicInteger calls = new AtomicInteger();
    for (int round = 0; round < 200; round++) {
      // the hot bucket is stale (full) again, so the sweeps the churn triggers race its takers
      clock.advance(Duration.ofHours(6));
      AtomicInteger hotFoundNoRoom = new AtomicInteger();
      int admitted =
          hammer(
              4,
              20,
              () -> {
                int n = calls.incrementAndGet();
                if (n % 2 == 0) {
                  clock.advance(Duration.ofMillis(1));
                  mem.acquire(bucket("churn-" + n, churn), true);
                  return false;
                }
                LimitOutcome o = mem.acquire(bucket("acme", hot), true);
                if (InMemoryGcraLimiter.FULL_LABEL.equals(o.degraded())) {
                  hotFoundNoRoom.incrementAndGet();
                }
                return o.admitted();
              });
      assertThat(admitted).as("round %d: admits on a burst of 5", round).isLessThanOrEqualTo(5);
      if (hotFoundNoRoom.get() == 0) {
        assertThat(admitted).as("round %d: admits on a burst of 5", round).isEqualTo(5);
      }
    }
    assertThat(calls.get() / 2).as("churn buckets created").isGreaterThan(100 * 16);
    assertThat(mem.rateBucketsHeld()).isLessThanOrEqualTo(16);
  }

  @Test
  void memory_isBoundedByMaximumBuckets() {
    InMemoryGcraLimiter small =
        InMemoryGcraLimiter.builder().clock(clock).maximumBuckets(50).build();
    LimitDefinition r = rate("bounded", 1, Duration.ofHours(1), 1);

    for (int i = 0; i < 1_000; i++) {
      small.acquire(bucket("client-" + i, r), true);
    }

    assertThat(small.rateBucketsHeld()).isEqualTo(50);
    assertThat(small.refusedWhenFull()).isEqualTo(950);
  }

  @Test
  void metrics_showBucketsHeldAndRefusalsWhenFull() {
    SimpleMeterRegistry registry = new SimpleMeterRegistry();
    InMemoryGcraLimiter small =
        InMemoryGcraLimiter.builder()
            .clock(clock)
            .maximumBuckets(20)
            .build()
            .bindMetrics(registry, "primary");
    LimitDefinition r = rate("bounded", 1, Duration.ofHours(1), 1);

    for (int i = 0; i < 30; i++) {
      small.acquire(bucket("client-" + i, r), true);
    }

    assertThat(
            registry
                .get(MetricNames.RATELIMIT_MEMORY_BUCKETS)
                .tag("role", "primary")
                .gauge()
                .value())
        .isEqualTo(20.0);
    assertThat(
            registry
                .get(MetricNames.RATELIMIT_MEMORY_FULL_REFUSALS)
                .tag("role", "primary")
                .functionCounter()
                .count())
        .isEqualTo(10.0);
  }

  @Test
  void cost_aboveBurst_isRefused_andTakesNothing() {
    LimitDefinition l = rate("cost", 10, Duration.ofSeconds(1), 3);

    LimitOutcome big = limiter.acquire(List.of(new LimitRequest(l, "acme", 4)), true);

    assertThat(big.admitted()).isFalse();
    assertThat(limiter.usage(l, "acme").used()).isZero();
  }
}
