package io.portcullis.limit;

import static org.assertj.core.api.Assertions.assertThat;

import io.portcullis.decision.Reason;
import io.portcullis.testing.FakeClock;
import java.time.Duration;
import java.time.OffsetDateTime;
import java.time.ZoneId;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * The contract every {@link RateLimiter} backend passes: GCRA burst and refill, calendar quotas in
 * UTC and across DST in Europe/Berlin, peeking, independent buckets, all-or-nothing (also under
 * concurrency), and usage. Subclasses supply the backend and say how rate time passes (a fake clock
 * in memory; real Redis time, waited for with Awaitility, for Redis). Quota windows always follow
 * the injected {@link FakeClock}.
 */
public abstract class RateLimiterContract {
  protected static final String SCOPE = "segment/contract";

  protected FakeClock clock;
  protected RateLimiter limiter;

  /** A fresh limiter whose quota windows (and, in memory, rates) follow {@code clock}. */
  protected abstract RateLimiter newLimiter(FakeClock clock);

  /**
   * Lets {@code due} pass (for this backend's rate clock) and returns the first admitted outcome of
   * {@code requests}; fails if it is not admitted in reasonable time after {@code due}, or if it is
   * admitted before. {@code askedNanos} is {@link System#nanoTime} just before the call that
   * answered {@code due}: a backend on a real clock counts from there, as time passed since.
   */
  protected abstract LimitOutcome acquireWhenDue(
      List<LimitRequest> requests, Duration due, long askedNanos);

  /** Releases what {@link #newLimiter} created. */
  protected void release() throws Exception {}

  @BeforeEach
  void createLimiter() {
    clock = FakeClock.at("2026-05-10T12:00:00Z");
    limiter = newLimiter(clock);
  }

  @AfterEach
  void releaseLimiter() throws Exception {
    release();
  }

  protected static LimitDefinition rate(String name, long permits, Duration period, long burst) {
    return new LimitDefinition(
        name,
        SCOPE,
        List.of(LimitKey.Attribute.CLIENT),
        new LimitKind.Rate(permits, period, burst));
  }

  protected static LimitDefinition quota(String name, long permits, QuotaWindow w, String zone) {
    return new LimitDefinition(
        name,
        SCOPE,
        List.of(LimitKey.Attribute.CLIENT),
        new LimitKind.Quota(permits, w, ZoneId.of(zone)));
  }

  protected static List<LimitRequest> req(LimitDefinition... limits) {
    return bucket("acme", limits);
  }

  protected static List<LimitRequest> bucket(String key, LimitDefinition... limits) {
    List<LimitRequest> out = new ArrayList<>();
    for (LimitDefinition l : limits) {
      out.add(new LimitRequest(l, key, 1));
    }
    return out;
  }

  private LimitOutcome take(List<LimitRequest> r) {
    return limiter.acquire(r, true);
  }

  @Test
  void rate_burstIsAdmittedAtOnce_thenRefusedWithRetryAfterOfOneInterval() {
    LimitDefinition l = rate("burst", 10, Duration.ofSeconds(1), 3); // T = 100 ms

    List<Long> remaining = new ArrayList<>();
    for (int i = 0; i < 3; i++) {
      LimitOutcome o = take(req(l));
      assertThat(o.admitted()).as("request %d of the burst", i + 1).isTrue();
      remaining.add(o.tightest().remaining());
    }
    LimitOutcome refused = take(req(l));

    assertThat(remaining).containsExactly(2L, 1L, 0L);
    assertThat(refused.admitted()).isFalse();
    assertThat(refused.reason()).isEqualTo(Reason.RATE_LIMITED);
    assertThat(refused.exceeded()).isEqualTo(l);
    assertThat(refused.tightest().remaining()).isZero();
    assertThat(refused.retryAfter()).isPositive().isLessThanOrEqualTo(Duration.ofMillis(100));
    assertThat(refused.degraded()).isNull();
  }

  @Test
  void rate_refillsOneUnitPerEmissionInterval() {
    LimitDefinition l = rate("refill", 10, Duration.ofSeconds(1), 2);
    take(req(l));
    take(req(l));
    long asked = System.nanoTime();
    LimitOutcome refused = take(req(l));
    assertThat(refused.admitted()).isFalse();

    LimitOutcome later = acquireWhenDue(req(l), refused.retryAfter(), asked);
    LimitOutcome right = take(req(l));

    assertThat(later.admitted()).isTrue();
    assertThat(later.tightest().remaining()).isZero();
    assertThat(right.admitted()).as("only one unit refilled").isFalse();
  }

  @Test
  void rate_statusReportsBurstAsQuota_burstTimesIntervalAsWindow_andTimeUntilFull() {
    LimitDefinition l = rate("status", 10, Duration.ofSeconds(1), 5);

    LimitStatus s = take(req(l)).tightest();

    assertThat(s.limit()).isEqualTo(l);
    assertThat(s.quota()).isEqualTo(5);
    assertThat(s.remaining()).isEqualTo(4);
    assertThat(s.window()).isEqualTo(Duration.ofMillis(500));
    assertThat(s.reset()).isEqualTo(Duration.ofMillis(100));
  }

  @Test
  void peek_withConsumeFalse_takesNothing() {
    LimitDefinition l = rate("peek", 1, Duration.ofHours(1), 2);

    for (int i = 0; i < 5; i++) {
      LimitOutcome peek = limiter.acquire(req(l), false);
      assertThat(peek.admitted()).isTrue();
      assertThat(peek.tightest().remaining()).isEqualTo(1);
    }
    assertThat(take(req(l)).admitted()).isTrue();
    assertThat(take(req(l)).admitted()).isTrue();
    assertThat(take(req(l)).admitted()).isFalse();
    assertThat(limiter.acquire(req(l), false).admitted()).isFalse();
  }

  @Test
  void distinctBuckets_andDistinctLimits_areIndependent() {
    LimitDefinition l = rate("per-client", 1, Duration.ofHours(1), 1);
    LimitDefinition other = rate("other", 1, Duration.ofHours(1), 1);
    assertThat(take(bucket("acme", l)).admitted()).isTrue();
    assertThat(take(bucket("acme", l)).admitted()).isFalse();

    assertThat(take(bucket("globex", l)).admitted()).isTrue();
    assertThat(take(bucket("acme", other)).admitted()).isTrue();
  }

  @Test
  void requestRefusedByOneLimit_consumesNothingFromTheOthers() {
    LimitDefinition tight = rate("tight", 1, Duration.ofHours(1), 1);
    LimitDefinition loose = rate("loose", 1, Duration.ofHours(1), 10);
    LimitDefinition daily = quota("daily", 5, QuotaWindow.DAY, "UTC");
    assertThat(take(req(tight)).admitted()).isTrue();

    LimitOutcome refused = take(req(loose, tight, daily));

    assertThat(refused.admitted()).isFalse();
    assertThat(refused.exceeded()).isEqualTo(tight);
    assertThat(limiter.usage(loose, "acme").used()).isZero();
    assertThat(limiter.usage(daily, "acme").used()).isZero();
    for (int i = 0; i < 5; i++) {
      assertThat(take(req(loose, daily)).admitted()).isTrue();
    }
    assertThat(limiter.usage(loose, "acme").used()).isEqualTo(5);
  }

  @Test
  void admitted_reportsTheBucketWithFewestUnitsLeftAsTightest() {
    LimitDefinition wide = rate("wide", 1, Duration.ofHours(1), 100);
    LimitDefinition narrow = quota("narrow", 3, QuotaWindow.DAY, "UTC");

    LimitOutcome o = take(req(wide, narrow));

    assertThat(o.admitted()).isTrue();
    assertThat(o.tightest().limit()).isEqualTo(narrow);
    assertThat(o.tightest().remaining()).isEqualTo(2);
  }

  @Test
  void quota_exhausted_isRefusedWithQuotaExceededUntilTheWindowEnds() {
    LimitDefinition q = quota("daily", 3, QuotaWindow.DAY, "UTC");
    List<Long> remaining = new ArrayList<>();
    for (int i = 0; i < 3; i++) {
      remaining.add(take(req(q)).tightest().remaining());
    }

    LimitOutcome refused = take(req(q));

    assertThat(remaining).containsExactly(2L, 1L, 0L);
    assertThat(refused.admitted()).isFalse();
    assertThat(refused.reason()).isEqualTo(Reason.QUOTA_EXCEEDED);
    assertThat(refused.retryAfter()).isEqualTo(Duration.ofHours(12));
    assertThat(refused.tightest().window()).isEqualTo(Duration.ofDays(1));
    assertThat(refused.tightest().quota()).isEqualTo(3);
  }

  @Test
  void quota_resetsAtMidnightUtc() {
    clock.set(OffsetDateTime.parse("2026-05-10T23:59:59Z").toInstant());
    LimitDefinition q = quota("daily", 2, QuotaWindow.DAY, "UTC");
    take(req(q));
    take(req(q));
    LimitOutcome refused = take(req(q));
    assertThat(refused.retryAfter()).isEqualTo(Duration.ofSeconds(1));

    clock.advance(Duration.ofSeconds(1));
    LimitOutcome nextDay = take(req(q));

    assertThat(nextDay.admitted()).isTrue();
    assertThat(nextDay.tightest().remaining()).isEqualTo(1);
  }

  @Test
  void quota_berlinDayOfSpringForward_lasts23Hours_andResetsAtLocalMidnight() {
    clock.set(OffsetDateTime.parse("2026-03-29T00:30:00+01:00").toInstant());
    LimitDefinition q = quota("daily", 2, QuotaWindow.DAY, "Europe/Berlin");
    take(req(q));
    take(req(q));

    LimitOutcome refused = take(req(q));
    clock.set(OffsetDateTime.parse("2026-03-29T23:59:59+02:00").toInstant());
    LimitOutcome lastSecond = take(req(q));
    clock.advance(Duration.ofSeconds(1));
    LimitOutcome nextDay = take(req(q));

    assertThat(refused.admitted()).isFalse();
    assertThat(refused.tightest().window()).isEqualTo(Duration.ofHours(23));
    assertThat(refused.retryAfter()).isEqualTo(Duration.ofMinutes(22 * 60 + 30));
    assertThat(lastSecond.admitted()).isFalse();
    assertThat(nextDay.admitted()).isTrue();
    assertThat(nextDay.tightest().window()).isEqualTo(Duration.ofHours(24));
  }

  @Test
  void quota_berlinDayOfFallBack_lasts25Hours() {
    clock.set(OffsetDateTime.parse("2026-10-25T00:00:00+02:00").toInstant());
    LimitDefinition q = quota("daily", 1, QuotaWindow.DAY, "Europe/Berlin");
    take(req(q));

    LimitOutcome refused = take(req(q));
    clock.set(OffsetDateTime.parse("2026-10-25T23:59:59+01:00").toInstant());
    LimitOutcome lastSecond = take(req(q));
    clock.advance(Duration.ofSeconds(1));
    LimitOutcome nextDay = take(req(q));

    assertThat(refused.tightest().window()).isEqualTo(Duration.ofHours(25));
    assertThat(refused.retryAfter()).isEqualTo(Duration.ofHours(25));
    assertThat(lastSecond.admitted()).isFalse();
    assertThat(nextDay.admitted()).isTrue();
  }

  @Test
  void quota_inBerlin_andInUtc_countDifferentDays() {
    // 23:30 UTC on 10 May is already 11 May in Berlin
    clock.set(OffsetDateTime.parse("2026-05-10T23:30:00Z").toInstant());
    LimitDefinition utc = quota("utc", 1, QuotaWindow.DAY, "UTC");
    LimitDefinition berlin = quota("berlin", 1, QuotaWindow.DAY, "Europe/Berlin");

    LimitOutcome u = take(req(utc));
    LimitOutcome b = take(req(berlin));

    assertThat(u.tightest().reset()).isEqualTo(Duration.ofMinutes(30));
    assertThat(b.tightest().reset()).isEqualTo(Duration.ofHours(22).plusMinutes(30));
  }

  @Test
  void quota_monthWindow_followsTheCalendarMonth() {
    clock.set(OffsetDateTime.parse("2026-02-15T00:00:00Z").toInstant());
    LimitDefinition q = quota("monthly", 1, QuotaWindow.MONTH, "UTC");

    LimitStatus s = take(req(q)).tightest();

    assertThat(s.window()).isEqualTo(Duration.ofDays(28));
    assertThat(s.reset()).isEqualTo(Duration.ofDays(14));
  }

  @Test
  void usage_reportsUsedMaxRemainingAndWindowEnd() {
    LimitDefinition r = rate("slow", 1, Duration.ofHours(1), 5);
    LimitDefinition q = quota("daily", 10, QuotaWindow.DAY, "UTC");
    take(req(r, q));
    take(req(r, q));

    LimitUsage ru = limiter.usage(r, "acme");
    LimitUsage qu = limiter.usage(q, "acme");
    LimitUsage untouched = limiter.usage(r, "globex");

    assertThat(ru.used()).isEqualTo(2);
    assertThat(ru.max()).isEqualTo(5);
    assertThat(ru.remaining()).isEqualTo(3);
    assertThat(qu.used()).isEqualTo(2);
    assertThat(qu.remaining()).isEqualTo(8);
    assertThat(qu.resetsAt()).isEqualTo(OffsetDateTime.parse("2026-05-11T00:00:00Z").toInstant());
    assertThat(untouched.used()).isZero();
    assertThat(untouched.remaining()).isEqualTo(5);
  }

  @Test
  void emptyRequest_isAdmittedWithoutStatus() {
    LimitOutcome o = take(List.of());

    assertThat(o.admitted()).isTrue();
    assertThat(o.tightest()).isNull();
  }

  @Test
  void sixteenConcurrentCallers_onOneBucket_areAdmittedExactlyTheBurst() throws Exception {
    LimitDefinition l = rate("hot", 1, Duration.ofHours(1), 50);

    int admitted = hammer(16, 20, () -> take(req(l)).admitted());

    assertThat(admitted).isEqualTo(50);
    assertThat(limiter.usage(l, "acme").used()).isEqualTo(50);
  }

  @Test
  void sixteenConcurrentCallers_onTwoLimits_neverKeepUnitsOfRefusedRequests() throws Exception {
    LimitDefinition a = rate("a", 1, Duration.ofHours(1), 40);
    LimitDefinition b = quota("b", 25, QuotaWindow.DAY, "UTC");

    int admitted = hammer(16, 8, () -> take(req(a, b)).admitted());

    assertThat(admitted).isEqualTo(25);
    assertThat(limiter.usage(a, "acme").used()).isEqualTo(25);
    assertThat(limiter.usage(b, "acme").used()).isEqualTo(25);
  }

  /** Runs {@code calls} calls on each of {@code threads} threads at once; counts the trues. */
  protected static int hammer(int threads, int calls, Callable<Boolean> call) throws Exception {
    ExecutorService pool = Executors.newFixedThreadPool(threads);
    try {
      CountDownLatch start = new CountDownLatch(1);
      AtomicInteger admitted = new AtomicInteger();
      List<Future<?>> done = new ArrayList<>();
      for (int t = 0; t < threads; t++) {
        done.add(
            pool.submit(
                () -> {
                  start.await();
                  for (int i = 0; i < calls; i++) {
                    if (call.call()) {
                      admitted.incrementAndGet();
                    }
                  }
                  return null;
                }));
      }
      start.countDown();
      for (Future<?> f : done) {
        f.get(60, TimeUnit.SECONDS);
      }
      return admitted.get();
    } finally {
      pool.shutdownNow();
    }
  }
}
