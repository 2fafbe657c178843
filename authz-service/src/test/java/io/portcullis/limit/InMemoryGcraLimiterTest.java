package io.portcullis.limit;

import static org.assertj.core.api.Assertions.assertThat;

import io.portcullis.testing.FakeClock;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.Test;

class InMemoryGcraLimiterTest extends RateLimiterContract {

  @Override
  protected RateLimiter newLimiter(FakeClock clock) {
    return InMemoryGcraLimiter.builder().clock(clock).maximumBuckets(10_000).build();
  }

  @Override
  protected LimitOutcome acquireWhenDue(List<LimitRequest> requests, Duration due) {
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
  void usage_ofRate_resetsWhenTheBucketIsFullAgain() {
    LimitDefinition l = rate("reset", 10, Duration.ofSeconds(1), 5);
    limiter.acquire(req(l), true);
    limiter.acquire(req(l), true);

    assertThat(limiter.usage(l, "acme").resetsAt())
        .isEqualTo(clock.instant().plus(Duration.ofMillis(200)));
  }

  @Test
  void idleBuckets_areEvictedOnceFull_andQuotaCountersAtWindowEnd() {
    InMemoryGcraLimiter mem = (InMemoryGcraLimiter) limiter;
    LimitDefinition r = rate("idle", 10, Duration.ofSeconds(1), 2); // full again after 200 ms
    LimitDefinition q = quota("minute", 5, QuotaWindow.MINUTE, "UTC");
    for (int i = 0; i < 100; i++) {
      mem.acquire(bucket("client-" + i, r, q), true);
    }
    assertThat(mem.liveBuckets()).isEqualTo(200);

    // full again after 200 ms; Caffeine's timer wheel evicts within about a second after that
    clock.advance(Duration.ofSeconds(2));
    assertThat(mem.liveBuckets()).as("rate buckets gone, quota counters left").isEqualTo(100);
    clock.advance(Duration.ofSeconds(60));
    assertThat(mem.liveBuckets()).isZero();
  }

  @Test
  void memory_isBoundedByMaximumBuckets() {
    InMemoryGcraLimiter small =
        InMemoryGcraLimiter.builder().clock(clock).maximumBuckets(50).build();
    LimitDefinition r = rate("bounded", 1, Duration.ofHours(1), 1);

    for (int i = 0; i < 1_000; i++) {
      small.acquire(bucket("client-" + i, r), true);
    }

    assertThat(small.liveBuckets()).isLessThanOrEqualTo(50);
  }

  @Test
  void cost_aboveBurst_isRefused_andTakesNothing() {
    LimitDefinition l = rate("cost", 10, Duration.ofSeconds(1), 3);

    LimitOutcome big = limiter.acquire(List.of(new LimitRequest(l, "acme", 4)), true);

    assertThat(big.admitted()).isFalse();
    assertThat(limiter.usage(l, "acme").used()).isZero();
  }
}
