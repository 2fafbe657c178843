package io.portcullis.limit;

import static org.assertj.core.api.Assertions.assertThat;

import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import io.portcullis.decision.Reason;
import io.portcullis.metrics.MetricNames;
import io.portcullis.testing.FakeClock;
import io.portcullis.testing.LimitBackendMeters;
import java.time.Duration;
import java.time.ZoneOffset;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;

class FailoverRateLimiterTest {
  private final FakeClock clock = FakeClock.at("2026-05-10T12:00:00Z");
  private final SimpleMeterRegistry registry = new SimpleMeterRegistry();
  private final AtomicBoolean down = new AtomicBoolean();
  private final AtomicInteger primaryCalls = new AtomicInteger();
  private final InMemoryGcraLimiter shared = InMemoryGcraLimiter.builder().clock(clock).build();
  private final LimitDefinition limit =
      new LimitDefinition(
          "per-client",
          "segment/s",
          List.of(LimitKey.Attribute.CLIENT),
          new LimitKind.Rate(1, Duration.ofHours(1), 2));
  private final List<LimitRequest> request = List.of(new LimitRequest(limit, "acme", 1));

  /** Stands in for Redis: the shared limiter, or a backend failure while {@code down}. */
  private final RateLimiter primary =
      (requests, consume) -> {
        primaryCalls.incrementAndGet();
        if (down.get()) {
          throw new LimitBackendException("connection refused", new RuntimeException());
        }
        return shared.acquire(requests, consume);
      };

  private FailoverRateLimiter limiter(BackendFailurePolicy policy) {
    BackendCircuit circuit = new BackendCircuit(clock, Duration.ofSeconds(1), policy, registry);
    return new FailoverRateLimiter(
        primary, InMemoryGcraLimiter.builder().clock(clock).build(), policy, circuit, clock);
  }

  private double backendErrors() {
    return registry.get(MetricNames.RATELIMIT_BACKEND_ERRORS).counter().count();
  }

  private double degradedDecisions() {
    return new LimitBackendMeters(registry).degraded("limits");
  }

  @Test
  void backendUp_decidesByThePrimary_withoutDegradedFlag() {
    FailoverRateLimiter l = limiter(BackendFailurePolicy.LOCAL);

    LimitOutcome o = l.acquire(request, true);

    assertThat(o.admitted()).isTrue();
    assertThat(o.degraded()).isNull();
    assertThat(shared.usage(limit, "acme").used()).isEqualTo(1);
    assertThat(backendErrors()).isZero();
    assertThat(degradedDecisions()).isZero();
  }

  @Test
  void local_enforcesTheSameLimitsInMemory_andFlagsEveryDecision() {
    FailoverRateLimiter l = limiter(BackendFailurePolicy.LOCAL);
    down.set(true);

    LimitOutcome first = l.acquire(request, true);
    LimitOutcome second = l.acquire(request, true);
    LimitOutcome third = l.acquire(request, true);

    assertThat(first.admitted()).isTrue();
    assertThat(second.admitted()).isTrue();
    assertThat(third.admitted()).isFalse();
    assertThat(third.reason()).isEqualTo(Reason.RATE_LIMITED);
    assertThat(List.of(first, second, third))
        .extracting(LimitOutcome::degraded)
        .containsOnly("ratelimit_backend:local");
    assertThat(backendErrors())
        .as("Redis failed once; the open circuit skipped it twice")
        .isEqualTo(1);
    assertThat(degradedDecisions()).isEqualTo(3);
  }

  @Test
  void deny_refusesWithRateLimited_retryAfterAtLeastOneSecond_namingTheFirstLimitAsked() {
    FailoverRateLimiter l = limiter(BackendFailurePolicy.DENY);
    down.set(true);
    LimitDefinition daily = dailyQuota();

    LimitOutcome o =
        l.acquire(List.of(request.getFirst(), new LimitRequest(daily, "acme", 1)), true);

    assertThat(o.admitted()).isFalse();
    assertThat(o.reason()).isEqualTo(Reason.RATE_LIMITED);
    assertThat(o.retryAfter()).isEqualTo(Duration.ofSeconds(1));
    assertThat(o.degraded()).isEqualTo("ratelimit_backend:deny");
    assertThat(o.backendUnavailable()).isTrue();
    // as any other refusal: a refusing limit, and its state for the RateLimit headers and audit
    assertThat(o.exceeded()).isSameAs(limit);
    assertThat(o.tightest())
        .isEqualTo(new LimitStatus(limit, 2, 0, Duration.ofSeconds(1), Duration.ofHours(2)));
    assertThat(backendErrors()).isEqualTo(1);
    assertThat(degradedDecisions()).isEqualTo(1);
  }

  @Test
  void deny_ofAQuota_reportsItsCalendarWindow() {
    FailoverRateLimiter l = limiter(BackendFailurePolicy.DENY);
    down.set(true);
    LimitDefinition daily = dailyQuota();

    LimitOutcome o = l.acquire(List.of(new LimitRequest(daily, "acme", 1)), false);

    assertThat(o.tightest())
        .isEqualTo(new LimitStatus(daily, 1000, 0, Duration.ofSeconds(1), Duration.ofDays(1)));
  }

  @Test
  void localRefusal_isNotBackendUnavailable() {
    FailoverRateLimiter l = limiter(BackendFailurePolicy.LOCAL);
    down.set(true);
    l.acquire(request, true);
    l.acquire(request, true);

    LimitOutcome refused = l.acquire(request, true);

    assertThat(refused.admitted()).isFalse();
    assertThat(refused.backendUnavailable()).isFalse();
  }

  @Test
  void local_aFullFallback_staysLimiterFull_underTheFallbacksLabel() {
    InMemoryGcraLimiter small =
        InMemoryGcraLimiter.builder().clock(clock).maximumBuckets(1).build();
    FailoverRateLimiter l =
        new FailoverRateLimiter(
            primary,
            small,
            BackendFailurePolicy.LOCAL,
            new BackendCircuit(clock, Duration.ofSeconds(1), BackendFailurePolicy.LOCAL, registry),
            clock);
    down.set(true);
    assertThat(l.acquire(List.of(new LimitRequest(limit, "first", 1)), true).admitted()).isTrue();

    LimitOutcome o = l.acquire(request, true);

    assertThat(o.limiterFull()).as("not checked, not exhausted").isTrue();
    assertThat(o.degraded()).isEqualTo("ratelimit_backend:local");
    assertThat(small.refusedWhenFull()).isEqualTo(1);
  }

  @Test
  void allow_admitsWithoutLimits_butFlagsAndCounts() {
    FailoverRateLimiter l = limiter(BackendFailurePolicy.ALLOW);
    down.set(true);

    for (int i = 0; i < 5; i++) {
      LimitOutcome o = l.acquire(request, true);
      assertThat(o.admitted()).isTrue();
      assertThat(o.degraded()).isEqualTo("ratelimit_backend:allow");
    }
    assertThat(backendErrors()).isEqualTo(1);
    assertThat(degradedDecisions()).isEqualTo(5);
  }

  @Test
  void openCircuit_skipsThePrimaryUntilTheRetryInterval_thenRecoversByItself() {
    FailoverRateLimiter l = limiter(BackendFailurePolicy.LOCAL);
    down.set(true);
    l.acquire(request, true);
    l.acquire(request, true);
    assertThat(primaryCalls).as("second call skipped the open circuit").hasValue(1);

    down.set(false);
    clock.advance(Duration.ofMillis(999));
    assertThat(l.acquire(request, true).degraded()).isEqualTo("ratelimit_backend:local");
    clock.advance(Duration.ofMillis(1));
    LimitOutcome recovered = l.acquire(request, true);

    assertThat(recovered.degraded()).isNull();
    assertThat(primaryCalls).hasValue(2);
    assertThat(backendErrors()).isEqualTo(1);
    assertThat(degradedDecisions()).isEqualTo(3);
  }

  @Test
  void failedRetry_reopensTheCircuit() {
    FailoverRateLimiter l = limiter(BackendFailurePolicy.LOCAL);
    down.set(true);
    l.acquire(request, true);
    clock.advance(Duration.ofSeconds(1));

    l.acquire(request, true);
    l.acquire(request, true);

    assertThat(primaryCalls).hasValue(2);
  }

  @Test
  void callersDeadline_isPassedOn_andWhenItRunsOut_thePolicyAnswers_circuitStaysClosed() {
    AtomicBoolean late = new AtomicBoolean(true);
    List<Long> askedBy = new ArrayList<>();
    RateLimiter slow =
        boundedOnly(
            (requests, consume, answerByNanos) -> {
              askedBy.add(answerByNanos);
              if (late.get()) {
                throw LimitBackendException.callersDeadline("no answer within 80ms", null);
              }
              return shared.acquire(requests, consume);
            });
    FailoverRateLimiter l =
        new FailoverRateLimiter(
            slow,
            InMemoryGcraLimiter.builder().clock(clock).build(),
            BackendFailurePolicy.DENY,
            new BackendCircuit(clock, Duration.ofSeconds(1), BackendFailurePolicy.DENY, registry),
            clock);

    LimitOutcome answered = l.acquire(request, true, 42L);

    assertThat(answered.admitted()).isFalse();
    assertThat(answered.reason()).isEqualTo(Reason.RATE_LIMITED);
    assertThat(answered.degraded()).isEqualTo("ratelimit_backend:deny");
    assertThat(backendErrors()).as("Redis did not fail: this caller stopped waiting").isZero();
    assertThat(degradedDecisions()).isEqualTo(1);

    late.set(false);
    LimitOutcome next = l.acquire(request, true, 43L);

    assertThat(next.degraded()).as("the circuit stayed closed: asked at once").isNull();
    assertThat(next.admitted()).isTrue();
    assertThat(askedBy).containsExactly(42L, 43L);
    assertThat(backendErrors()).isZero();
    assertThat(degradedDecisions()).isEqualTo(1);
  }

  /**
   * Callers whose time was up before Redis was asked (nothing sent: no cause) say nothing about
   * Redis: many in a row leave the circuit closed, where as many callers that Redis kept waiting
   * open it.
   */
  @Test
  void callersWhoseTimeWasUpBeforeAsking_neverOpenTheCircuit_callersKeptWaitingDo() {
    AtomicBoolean asked = new AtomicBoolean(false);
    AtomicInteger primaryCalls = new AtomicInteger();
    RateLimiter slow =
        boundedOnly(
            (requests, consume, answerByNanos) -> {
              primaryCalls.incrementAndGet();
              throw LimitBackendException.callersDeadline(
                  "no answer in time",
                  asked.get() ? new java.util.concurrent.TimeoutException() : null);
            });
    FailoverRateLimiter l =
        new FailoverRateLimiter(
            slow,
            InMemoryGcraLimiter.builder().clock(clock).build(),
            BackendFailurePolicy.LOCAL,
            new BackendCircuit(clock, Duration.ofSeconds(1), BackendFailurePolicy.LOCAL, registry),
            clock);
    int run = BackendCircuit.LATE_IN_A_ROW_OPENS;

    for (int i = 0; i < 2 * run; i++) {
      l.acquire(request, true, 42L);
    }
    assertThat(primaryCalls).as("never skipped: the circuit stayed closed").hasValue(2 * run);

    asked.set(true);
    for (int i = 0; i < 2 * run; i++) {
      l.acquire(request, true, 42L);
    }
    assertThat(primaryCalls).as("skipped once the run of late callers opened it").hasValue(3 * run);
    assertThat(backendErrors()).as("Redis failed nothing").isZero();
  }

  /** A primary's answer to a call bounded by the caller's deadline. */
  private interface BoundedAnswer {
    LimitOutcome acquire(List<LimitRequest> requests, boolean consume, long answerByNanos);
  }

  /** A primary that must be given the caller's deadline, answering by {@code answer}. */
  private static RateLimiter boundedOnly(BoundedAnswer answer) {
    return new RateLimiter() {
      @Override
      public LimitOutcome acquire(List<LimitRequest> requests, boolean consume) {
        throw new AssertionError("the caller's deadline was not passed on");
      }

      @Override
      public LimitOutcome acquire(
          List<LimitRequest> requests, boolean consume, long answerByNanos) {
        return answer.acquire(requests, consume, answerByNanos);
      }
    };
  }

  /** A daily quota of 1,000 per client, UTC. */
  private static LimitDefinition dailyQuota() {
    return new LimitDefinition(
        "daily",
        "segment/s",
        List.of(LimitKey.Attribute.CLIENT),
        new LimitKind.Quota(1000, QuotaWindow.DAY, ZoneOffset.UTC));
  }
}
