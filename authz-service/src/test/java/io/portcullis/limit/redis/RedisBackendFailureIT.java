package io.portcullis.limit.redis;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import io.portcullis.audit.DecisionRecords;
import io.portcullis.decision.Decision;
import io.portcullis.decision.DecisionPipeline;
import io.portcullis.decision.ResponseHeader;
import io.portcullis.limit.BackendFailurePolicy;
import io.portcullis.limit.LimitBackends;
import io.portcullis.limit.LimitDefinition;
import io.portcullis.limit.LimitKey;
import io.portcullis.limit.LimitKind;
import io.portcullis.limit.LimitOutcome;
import io.portcullis.limit.LimitRequest;
import io.portcullis.limit.RateLimitSettings;
import io.portcullis.limit.RedisSettings;
import io.portcullis.limit.rls.FixedWindowCounters;
import io.portcullis.request.RequestAttributes;
import io.portcullis.testing.FakeClock;
import io.portcullis.testing.LimitBackendMeters;
import io.portcullis.testing.LogCapture;
import io.portcullis.testing.RedisServerProcess;
import io.portcullis.testing.SamplePolicy;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.Callable;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.redisson.api.RedissonClient;

/**
 * Redis dies mid-run and comes back: limits, Envoy rate limit counters and protection degrade to
 * the {@code local} policy (flagged and counted), and recover without a restart; under {@code deny}
 * a decision is a 429 like any other. The outage is reported once for every path to Redis: one WARN
 * when it begins, an INFO when Redis answers again, at most one reminder a minute in between;
 * {@code portcullis_ratelimit_backend_errors_total} counts Redis's failures, the degraded-decisions
 * counter the answers given without it, and {@code portcullis_ratelimit_backend_up} says which it
 * is now. Uses its own redis-server process, never the shared one; the fake clock stands for the
 * time that passes between requests.
 */
class RedisBackendFailureIT {
  private static final Duration RETRY = Duration.ofSeconds(1);

  private final FakeClock clock = FakeClock.at("2026-05-10T12:00:00Z");
  private final SimpleMeterRegistry registry = new SimpleMeterRegistry();
  private final LimitBackendMeters meters = new LimitBackendMeters(registry);
  private final LimitDefinition limit =
      new LimitDefinition(
          "per-client",
          "segment/s",
          List.of(LimitKey.Attribute.CLIENT),
          new LimitKind.Rate(1, Duration.ofHours(1), 2));
  private final List<LimitRequest> request = List.of(new LimitRequest(limit, "acme", 1));
  private final List<FixedWindowCounters.Hit> hit =
      List.of(new FixedWindowCounters.Hit("d_k_v_0", 1, Duration.ofMinutes(1)));

  private RedisServerProcess server;
  private RedissonClient client;
  private LimitBackends backends;

  @BeforeEach
  void start() throws Exception {
    server = RedisServerProcess.start();
    client = RedissonClients.create(settings(BackendFailurePolicy.LOCAL).redis());
    backends = RedisLimitBackends.on(client, settings(BackendFailurePolicy.LOCAL), clock, registry);
  }

  private RateLimitSettings settings(BackendFailurePolicy onBackendFailure) {
    return RateLimitSettings.builder()
        .backend(RateLimitSettings.Backend.REDIS)
        .redis(
            RedisSettings.builder()
                .address(server.url())
                .timeout(Duration.ofMillis(300))
                .connectTimeout(Duration.ofMillis(300))
                .build())
        .onBackendFailure(onBackendFailure)
        .retryInterval(RETRY)
        .build();
  }

  @AfterEach
  void stop() throws Exception {
    backends.close();
    client.shutdown();
    server.close();
  }

  /**
   * Waits until Redis answers within the 300 ms timeout: the first connection and script load can
   * take longer on a loaded machine, which would make the "up" half of a test see a degraded
   * answer. A peek consumes nothing from the tested buckets.
   *
   * @return the backend errors counted meanwhile, to count the test's own from
   */
  private double warmUp() {
    retryUntil(() -> backends.limiter().acquire(request, false).degraded() == null);
    return meters.errors();
  }

  /** Advances past the retry interval until Redis decides a limit again; that decision. */
  private LimitOutcome awaitRecovery() {
    AtomicReference<LimitOutcome> recovered = new AtomicReference<>();
    retryUntil(
        () -> {
          recovered.set(backends.limiter().acquire(request, true));
          return recovered.get().degraded() == null;
        });
    return recovered.get();
  }

  /** Moves the clock one retry interval on before each try of {@code done}, until it holds. */
  private void retryUntil(Callable<Boolean> done) {
    await()
        .atMost(Duration.ofSeconds(30))
        .pollInterval(Duration.ofMillis(100))
        .until(
            () -> {
              clock.advance(RETRY);
              return done.call();
            });
  }

  /**
   * One request on each path while Redis is down, as a gateway sends them; every 10th fails login.
   */
  private void requestsWhileDown(int tick) {
    assertThat(backends.limiter().acquire(request, true).degraded())
        .isEqualTo("ratelimit_backend:local");
    assertThat(backends.rlsCounters().add(hit).degraded()).isEqualTo("ratelimit_backend:local");
    if (tick % 10 == 0) {
      backends
          .protection()
          .recordFailure(
              "ip:198.51.100." + tick, 100, Duration.ofMinutes(1), Duration.ofMinutes(1));
    }
  }

  @Test
  void redisStopsAndReturns_decisionsDegradeToLocal_thenRecoverWithoutRestart() throws Exception {
    double before = warmUp();
    // up: shared state, not degraded
    assertThat(backends.limiter().acquire(request, true).degraded()).isNull();
    assertThat(backends.rlsCounters().add(hit).degraded()).isNull();
    for (int i = 0; i < 3; i++) {
      backends
          .protection()
          .recordFailure("ip:203.0.113.7", 3, Duration.ofMinutes(1), Duration.ofMinutes(10));
    }
    assertThat(meters.errors()).isEqualTo(before);

    server.stop();

    // down: the same limits per instance, every decision flagged and counted
    LimitOutcome first = backends.limiter().acquire(request, true);
    LimitOutcome second = backends.limiter().acquire(request, true);
    LimitOutcome third = backends.limiter().acquire(request, true);
    FixedWindowCounters.Totals counted = backends.rlsCounters().add(hit);
    assertThat(List.of(first, second, third))
        .extracting(LimitOutcome::degraded)
        .containsOnly("ratelimit_backend:local");
    assertThat(List.of(first.admitted(), second.admitted(), third.admitted()))
        .containsExactly(true, true, false);
    assertThat(counted.degraded()).isEqualTo("ratelimit_backend:local");
    assertThat(counted.values()).containsExactly(1L);
    assertThat(meters.errors())
        .as("Redis failed the first; the open circuit skipped it for the others")
        .isEqualTo(before + 1);
    // protection: known blocks still refuse without Redis, new failures count locally
    assertThat(backends.protection().blockedUntil("ip:203.0.113.7")).isNotNull();
    backends
        .protection()
        .recordFailure("ip:198.51.100.1", 1, Duration.ofMinutes(1), Duration.ofMinutes(10));
    assertThat(backends.protection().blockedUntil("ip:198.51.100.1")).isNotNull();

    server.startAgain();

    // back: once the retry interval has passed, Redis decides again (Redisson reconnects)
    assertThat(awaitRecovery().admitted()).as("the restarted Redis is empty").isTrue();
    double errorsAfterRecovery = meters.errors();
    assertThat(backends.limiter().acquire(request, true).degraded()).isNull();
    assertThat(backends.rlsCounters().add(hit).degraded()).isNull();
    assertThat(meters.errors()).isEqualTo(errorsAfterRecovery);
  }

  @Test
  void redisStops_denyPolicy_refusesWith429CarryingRateLimitHeadersForTheUncheckedLimit()
      throws Exception {
    backends.close();
    backends = RedisLimitBackends.on(client, settings(BackendFailurePolicy.DENY), clock, registry);
    DecisionPipeline pipeline =
        DecisionPipeline.builder()
            .policy(() -> SamplePolicy.POLICY)
            .limiter(backends.limiter())
            .clock(clock)
            .nanoTime(clock::nanoTime)
            .build();
    warmUp();
    RequestAttributes partner =
        RequestAttributes.builder()
            .method("GET")
            .path("/v1/orders")
            .host("api.example.com")
            .scheme("https")
            .sourceIp("203.0.113.7")
            .header("x-api-key", "pk_acme")
            .build();
    assertThat(pipeline.decide(partner)).isInstanceOf(Decision.Allow.class);

    server.stop();
    Decision d = pipeline.decide(partner);

    assertThat(d).isInstanceOf(Decision.Deny.class);
    assertThat(d.response().status()).isEqualTo(429);
    // Retry-After is the retry interval; the RateLimit headers name the limit Redis could not check
    assertThat(d.response().clientHeaders())
        .contains(
            new ResponseHeader("retry-after", "1"),
            new ResponseHeader("ratelimit-policy", "\"per-key\";q=200;w=2"),
            new ResponseHeader("ratelimit", "\"per-key\";r=0;t=1"));
    assertThat(d.context().degraded()).isEqualTo("ratelimit_backend:deny");
    assertThat(DecisionRecords.of(d, "it").getLimit()).isEqualTo("per-key");
  }

  @Test
  void redisDownTenSeconds_aRequestEvery250ms_isOneWarn_thenAnInfoWhenRedisAnswersAgain()
      throws Exception {
    warmUp();
    try (LogCapture logs = LogCapture.of("io.portcullis.limit")) {
      server.stop();
      for (int tick = 0; tick < 40; tick++) {
        requestsWhileDown(tick);
        clock.advance(Duration.ofMillis(250));
      }

      assertThat(logs.warnings())
          .as("one line for the outage, not one per retry interval")
          .singleElement()
          .asString()
          .startsWith(
              "rate limit backend (Redis) failing, applying on_backend_failure=local until it"
                  + " answers again (asked again every 1 s): redis script gcra.lua failed: ")
          .contains("Connection refused")
          .endsWith(" (limits)");
      assertThat(logs.infos()).isEmpty();

      server.startAgain();
      awaitRecovery();

      assertThat(logs.infos())
          .singleElement()
          .asString()
          .matches(
              "rate limit backend \\(Redis\\) answers again after \\d+ s; \\d+ decisions made by"
                  + " on_backend_failure=local, 4 failed authentications counted in this"
                  + " instance meanwhile");
      assertThat(logs.warnings()).hasSize(1);
    }
  }

  @Test
  void redisDownFourMinutes_isRemindedOfOnceAMinute() throws Exception {
    warmUp();
    try (LogCapture logs = LogCapture.of("io.portcullis.limit")) {
      server.stop();
      for (int tick = 0; tick < 24; tick++) { // one request every 10 s: Redis is asked each time
        requestsWhileDown(tick);
        clock.advance(Duration.ofSeconds(10));
      }

      assertThat(logs.warnings()).hasSize(4);
      assertThat(logs.warnings().get(0)).startsWith("rate limit backend (Redis) failing");
      assertThat(logs.warnings().subList(1, 4))
          .allSatisfy(
              w -> assertThat(w).startsWith("rate limit backend (Redis) still failing after "))
          .satisfiesExactly(
              w -> assertThat(w).contains(" after 60 s: ").contains("; 12 decisions made"),
              w -> assertThat(w).contains(" after 2 min 0 s: ").contains("; 24 decisions made"),
              w -> assertThat(w).contains(" after 3 min 0 s: ").contains("; 36 decisions made"));
    }
  }

  @Test
  void metrics_errorsAreRedisFailures_degradedDecisionsTheAnswersWithoutIt_upTheState()
      throws Exception {
    double errorsBefore = warmUp();
    double limitsBefore = meters.degraded("limits");
    double rlsBefore = meters.degraded("rls");
    assertThat(meters.up()).isEqualTo(1);

    server.stop();
    for (int tick = 0; tick < 8; tick++) { // 2 s: Redis is asked twice, skipped otherwise
      requestsWhileDown(tick);
      clock.advance(Duration.ofMillis(250));
    }

    assertThat(meters.errors() - errorsBefore)
        .as("Redis failed the two calls made, one per retry interval")
        .isEqualTo(2);
    assertThat(meters.degraded("limits") - limitsBefore).isEqualTo(8);
    assertThat(meters.degraded("rls") - rlsBefore).isEqualTo(8);
    assertThat(meters.degraded("protect")).isEqualTo(1);
    assertThat(meters.up()).isZero();

    server.startAgain();
    awaitRecovery();

    assertThat(meters.up()).isEqualTo(1);
    double errorsAfter = meters.errors();
    double degradedAfter = meters.degraded();
    assertThat(backends.limiter().acquire(request, true).degraded()).isNull();
    assertThat(meters.errors()).isEqualTo(errorsAfter);
    assertThat(meters.degraded()).isEqualTo(degradedAfter);
  }
}
