package io.portcullis.server.grpc;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.google.rpc.Code;
import io.envoyproxy.envoy.service.auth.v3.AuthorizationGrpc;
import io.envoyproxy.envoy.service.auth.v3.CheckRequest;
import io.envoyproxy.envoy.service.auth.v3.CheckResponse;
import io.grpc.Grpc;
import io.grpc.InsecureChannelCredentials;
import io.grpc.ManagedChannel;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import io.portcullis.decision.Decision;
import io.portcullis.decision.DecisionPipeline;
import io.portcullis.decision.ResponseOptions;
import io.portcullis.limit.BackendFailurePolicy;
import io.portcullis.limit.FailedAuthRule;
import io.portcullis.limit.LimitBackends;
import io.portcullis.limit.RateLimitSettings;
import io.portcullis.limit.RedisSettings;
import io.portcullis.limit.redis.RedisLimitBackends;
import io.portcullis.limit.redis.RedissonClients;
import io.portcullis.metrics.MetricNames;
import io.portcullis.policy.Policy;
import io.portcullis.segment.Segment;
import io.portcullis.testing.EnvoyChecks;
import io.portcullis.testing.FakeClock;
import io.portcullis.testing.LimitBackendMeters;
import io.portcullis.testing.RedisServerProcess;
import io.portcullis.testing.SamplePolicy;
import io.portcullis.testing.TestPolicies;
import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.redisson.api.RedissonClient;

/**
 * Redis slower than Envoy's ext_authz timeout but within {@code ratelimit.redis.timeout}: a real
 * {@code Check} over the gRPC listener, with a deadline shorter than the Redis timeout, is answered
 * by {@code on_backend_failure} before its deadline instead of failing with {@code
 * DEADLINE_EXCEEDED} (which Envoy would turn into its own {@code failure_mode_allow} answer). Runs
 * its own redis-server, so that it can be paused.
 */
class CheckDeadlineIT {
  /**
   * Envoy's ext_authz timeout in these tests; the wait for Redis may use four fifths of it (1.6 s),
   * and the fifth left over (400 ms) is for the rest of the call, on a loaded machine.
   */
  private static final long DEADLINE_MS = 2000;

  private final FakeClock clock = FakeClock.at("2026-05-10T12:00:20Z");
  private final SimpleMeterRegistry registry = new SimpleMeterRegistry();
  private final List<Decision> audited = new CopyOnWriteArrayList<>();
  private final Policy policy =
      TestPolicies.policy(
          SamplePolicy.IDENTITY,
          new FailedAuthRule("ip", 2, Duration.ofMinutes(1), Duration.ofMinutes(10)),
          ResponseOptions.DEFAULT,
          SamplePolicy.POLICY.segments().toArray(Segment[]::new));
  private RedisServerProcess server;
  private RedissonClient client;
  private LimitBackends backends;
  private GrpcServer grpc;
  private ManagedChannel channel;
  private AuthorizationGrpc.AuthorizationBlockingStub stub;
  private double errorsBefore;
  private double degradedBefore;

  @BeforeEach
  void startRedis() throws Exception {
    server = RedisServerProcess.start();
  }

  /** The service on its own listener, with Redis-backed limits and protection. */
  private void start(BackendFailurePolicy onBackendFailure, Duration redisTimeout)
      throws Exception {
    RateLimitSettings settings =
        RateLimitSettings.builder()
            .backend(RateLimitSettings.Backend.REDIS)
            .redis(RedisSettings.builder().address(server.url()).timeout(redisTimeout).build())
            .onBackendFailure(onBackendFailure)
            .retryInterval(Duration.ofSeconds(1))
            .build();
    client = RedissonClients.create(settings.redis());
    backends = RedisLimitBackends.on(client, settings, clock, registry);
    DecisionPipeline pipeline =
        DecisionPipeline.builder()
            .policy(() -> policy)
            .limiter(backends.limiter())
            .protection(backends.protection())
            .clock(clock)
            .audit(audited::add)
            .build();
    grpc =
        GrpcServer.builder(new InetSocketAddress("127.0.0.1", 0))
            .service(new EnvoyAuthorizationService(pipeline, clock))
            .drainGrace(Duration.ofSeconds(1))
            .build()
            .start();
    channel =
        Grpc.newChannelBuilderForAddress(
                "127.0.0.1", grpc.port(), InsecureChannelCredentials.create())
            .build();
    stub = AuthorizationGrpc.newBlockingStub(channel);
    // Connect, load both scripts and subscribe now, not inside the paused server, and with time to
    // spare: the first connection can take longer than a test's deadline on a loaded machine. (A
    // failed authentication from another source, so that the tested source's count starts at 0.)
    AuthorizationGrpc.AuthorizationBlockingStub patient =
        stub.withDeadlineAfter(30, TimeUnit.SECONDS);
    assertThat(patient.check(badKey("192.0.2.200")).getStatus().getCode())
        .isEqualTo(Code.UNAUTHENTICATED_VALUE);
    await()
        .atMost(Duration.ofSeconds(30))
        .pollInterval(Duration.ofMillis(100))
        .until(
            () -> {
              clock.advance(Duration.ofSeconds(1)); // past any retry interval a slow start opened
              audited.clear();
              return patient.check(partner()).getStatus().getCode() == Code.OK_VALUE
                  && audited.getLast().context().degraded() == null;
            });
    audited.clear();
    errorsBefore = backendErrors();
    degradedBefore = degradedDecisions();
  }

  @AfterEach
  void stop() throws Exception {
    server.command("CLIENT", "UNPAUSE");
    if (channel != null) {
      channel.shutdownNow();
    }
    if (grpc != null) {
      grpc.close();
    }
    if (backends != null) {
      backends.close();
    }
    if (client != null) {
      client.shutdown();
    }
    server.close();
  }

  private static CheckRequest partner() {
    return EnvoyChecks.get("/v1/orders").header("x-api-key", "pk_acme").build();
  }

  private static CheckRequest badKey(String source) {
    return EnvoyChecks.get("/v1/orders").header("x-api-key", "pk_wrong").source(source).build();
  }

  private CheckResponse check(CheckRequest request) {
    return stub.withDeadlineAfter(DEADLINE_MS, TimeUnit.MILLISECONDS).check(request);
  }

  /** {@code check}, timed into {@code tookMillis}. */
  private CheckResponse timed(CheckRequest request, AtomicLong tookMillis) {
    long start = System.nanoTime();
    try {
      return check(request);
    } finally {
      tookMillis.set(TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - start));
    }
  }

  private double backendErrors() {
    return registry.get(MetricNames.RATELIMIT_BACKEND_ERRORS).counter().count();
  }

  /** Backend errors since the warm-up. */
  private double newBackendErrors() {
    return backendErrors() - errorsBefore;
  }

  /** Answers given without Redis, by every caller of the circuit. */
  private double degradedDecisions() {
    return new LimitBackendMeters(registry).degraded();
  }

  /** Answers given without Redis since the warm-up. */
  private double newDegradedDecisions() {
    return degradedDecisions() - degradedBefore;
  }

  private void pauseRedis() throws Exception {
    assertThat(server.command("CLIENT", "PAUSE", "30000", "WRITE")).isEqualTo("+OK");
  }

  @Test
  void deny_redisSlowerThanTheDeadline_isThePolicys429InTime_andLeavesTheCircuitClosed()
      throws Exception {
    start(BackendFailurePolicy.DENY, Duration.ofSeconds(10));
    pauseRedis();

    AtomicLong took = new AtomicLong();
    CheckResponse slow = timed(partner(), took);

    assertThat(took.get())
        .as("within the 1 s deadline, not the 10 s Redis timeout")
        .isLessThan(DEADLINE_MS);
    assertThat(slow.getStatus().getCode()).isEqualTo(Code.PERMISSION_DENIED_VALUE);
    assertThat(slow.getStatus().getMessage()).isEqualTo("rate_limited");
    assertThat(slow.getDeniedResponse().getStatus().getCodeValue()).isEqualTo(429);
    assertThat(slow.getDeniedResponse().getHeadersList())
        .anySatisfy(
            h -> {
              assertThat(h.getHeader().getKey()).isEqualTo("retry-after");
              assertThat(h.getHeader().getValue()).isEqualTo("1");
            });
    assertThat(audited.getLast().context().degraded()).isEqualTo("ratelimit_backend:deny");
    assertThat(newDegradedDecisions()).isEqualTo(1);
    assertThat(newBackendErrors()).as("Redis did not fail: the call stopped waiting").isZero();

    assertThat(server.command("CLIENT", "UNPAUSE")).isEqualTo("+OK");
    CheckResponse after = check(partner());
    assertThat(after.getStatus().getCode()).isEqualTo(Code.OK_VALUE);
    assertThat(audited.getLast().context().degraded())
        .as("one call's deadline did not open the circuit: Redis is asked at once")
        .isNull();
    assertThat(newDegradedDecisions()).isEqualTo(1);
    assertThat(newBackendErrors()).isZero();
  }

  @Test
  void allow_redisSlowerThanTheDeadline_isAllowedInTime() throws Exception {
    start(BackendFailurePolicy.ALLOW, Duration.ofSeconds(10));
    pauseRedis();

    AtomicLong took = new AtomicLong();
    CheckResponse slow = timed(partner(), took);

    assertThat(took.get()).isLessThan(DEADLINE_MS);
    assertThat(slow.getStatus().getCode()).isEqualTo(Code.OK_VALUE);
    assertThat(audited.getLast().context().degraded()).isEqualTo("ratelimit_backend:allow");
    assertThat(newDegradedDecisions()).isEqualTo(1);
    assertThat(newBackendErrors()).isZero();
  }

  @Test
  void failedAuthentication_redisSlowerThanTheDeadline_is401InTime_countedLocally()
      throws Exception {
    start(BackendFailurePolicy.LOCAL, Duration.ofSeconds(10));
    pauseRedis();

    AtomicLong first = new AtomicLong();
    AtomicLong second = new AtomicLong();
    CheckResponse one = timed(badKey("203.0.113.9"), first);
    CheckResponse two = timed(badKey("203.0.113.9"), second);

    assertThat(List.of(first.get(), second.get()))
        .allSatisfy(ms -> assertThat(ms).isLessThan(DEADLINE_MS));
    assertThat(List.of(one, two))
        .allSatisfy(
            r -> {
              assertThat(r.getStatus().getCode()).isEqualTo(Code.UNAUTHENTICATED_VALUE);
              assertThat(r.getDeniedResponse().getStatus().getCodeValue()).isEqualTo(401);
            });
    assertThat(newDegradedDecisions()).isEqualTo(2);
    assertThat(newBackendErrors()).isZero();
    // the threshold (2) was reached in this instance's memory: the source is blocked at once
    CheckResponse blocked = check(badKey("203.0.113.9"));
    assertThat(blocked.getStatus().getMessage()).isEqualTo("blocked");
    assertThat(blocked.getDeniedResponse().getStatus().getCodeValue()).isEqualTo(403);
  }

  @Test
  void failedAuthentication_redisThatStopsAnswering_opensTheCircuit_soLaterFailuresDoNotWait()
      throws Exception {
    start(BackendFailurePolicy.LOCAL, Duration.ofSeconds(3));
    pauseRedis();
    AtomicInteger source = new AtomicInteger();

    // Each failure from a new source asks Redis (no source reaches the threshold) until the late
    // calls have failed by the Redis timeout and opened the circuit; then Redis is skipped.
    await()
        .atMost(Duration.ofSeconds(20))
        .pollDelay(Duration.ZERO)
        .pollInterval(Duration.ofMillis(100))
        .untilAsserted(
            () -> {
              AtomicLong t = new AtomicLong();
              CheckResponse r = timed(badKey("198.18.0." + source.incrementAndGet()), t);
              assertThat(r.getDeniedResponse().getStatus().getCodeValue()).isEqualTo(401);
              assertThat(t.get()).as("Redis skipped").isLessThan(800);
            });
    assertThat(source.get()).as("the first failures waited for Redis").isGreaterThan(1);
  }

  @Test
  void redisThatStopsAnswering_opensTheCircuitOnceItsOwnTimeoutRunsOut_soLaterChecksDoNotWait()
      throws Exception {
    // the Redis timeout (3 s) is longer than the wait a 2 s deadline allows (1.6 s)
    start(BackendFailurePolicy.LOCAL, Duration.ofSeconds(3));
    pauseRedis();

    AtomicLong took = new AtomicLong();
    CheckResponse late = timed(partner(), took);
    assertThat(took.get()).isLessThan(DEADLINE_MS);
    assertThat(late.getStatus().getCode()).isEqualTo(Code.OK_VALUE);
    assertThat(audited.getLast().context().degraded()).isEqualTo("ratelimit_backend:local");

    // Once the late call has failed by the Redis timeout, the circuit is open (the fake clock
    // keeps it open): a Check skips Redis instead of waiting 1.6 s for it again.
    await()
        .atMost(Duration.ofSeconds(20))
        .pollDelay(Duration.ZERO)
        .pollInterval(Duration.ofMillis(100))
        .untilAsserted(
            () -> {
              AtomicLong t = new AtomicLong();
              CheckResponse r = timed(partner(), t);
              assertThat(r.getStatus().getCode()).isEqualTo(Code.OK_VALUE);
              assertThat(t.get()).as("Redis skipped").isLessThan(800);
            });
    assertThat(audited.getLast().context().degraded()).isEqualTo("ratelimit_backend:local");
    assertThat(newDegradedDecisions())
        .as("each degraded Check counted once")
        .isEqualTo(audited.size());
    assertThat(newBackendErrors())
        .as("the late calls' failures are Redis's errors, counted once each")
        .isPositive()
        .isLessThanOrEqualTo(audited.size());
  }
}
