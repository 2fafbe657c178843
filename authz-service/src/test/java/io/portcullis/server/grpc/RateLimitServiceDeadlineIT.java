package io.portcullis.server.grpc;

import static io.portcullis.server.grpc.RlsClient.descriptor;
import static io.portcullis.server.grpc.RlsClient.request;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.envoyproxy.envoy.service.ratelimit.v3.RateLimitResponse;
import io.envoyproxy.envoy.service.ratelimit.v3.RateLimitResponse.Code;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import io.portcullis.limit.BackendCircuit;
import io.portcullis.limit.BackendFailurePolicy;
import io.portcullis.limit.RedisSettings;
import io.portcullis.limit.redis.RedisFixedWindowCounters;
import io.portcullis.limit.redis.RedissonClients;
import io.portcullis.limit.rls.DescriptorLimiter;
import io.portcullis.limit.rls.FailoverFixedWindowCounters;
import io.portcullis.limit.rls.InMemoryFixedWindowCounters;
import io.portcullis.limit.rls.RlsConfig;
import io.portcullis.metrics.MetricNames;
import io.portcullis.testing.FakeClock;
import io.portcullis.testing.LimitBackendMeters;
import io.portcullis.testing.RedisServerProcess;
import java.time.Duration;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.redisson.api.RedissonClient;

/**
 * Redis slower than Envoy's rate limit timeout but within Portcullis's own Redis timeout: the call
 * is answered by {@code on_backend_failure} within Envoy's deadline, not after Envoy gave up. Runs
 * its own redis-server, so that it can be paused.
 */
class RateLimitServiceDeadlineIT {
  private final FakeClock clock = FakeClock.at("2026-05-10T12:00:20Z");
  private final SimpleMeterRegistry registry = new SimpleMeterRegistry();
  private RedisServerProcess server;
  private RedissonClient client;
  private RlsClient rls;

  @BeforeEach
  void startRedis() throws Exception {
    server = RedisServerProcess.start();
  }

  /** The service on Redis with the given timeout, wired as the service wires it. */
  private void start(Duration redisTimeout) throws Exception {
    client =
        RedissonClients.create(
            RedisSettings.builder().address(server.url()).timeout(redisTimeout).build());
    client.getBucket("d:warm-up").get(); // connect now, not inside the paused server
    BackendCircuit circuit =
        new BackendCircuit(clock, Duration.ofSeconds(1), BackendFailurePolicy.LOCAL, registry);
    DescriptorLimiter limiter =
        DescriptorLimiter.builder()
            .config(RlsConfig.parse(Map.of("edge.yaml", EnvoyRateLimitServiceTest.CONFIG)))
            .counters(
                new FailoverFixedWindowCounters(
                    new RedisFixedWindowCounters(client, "d", circuit),
                    new InMemoryFixedWindowCounters(clock, 100),
                    BackendFailurePolicy.LOCAL,
                    circuit))
            .clock(clock)
            .build();
    rls = RlsClient.onServerThreads(limiter);
  }

  @AfterEach
  void stop() throws Exception {
    server.command("CLIENT", "UNPAUSE");
    if (rls != null) {
      rls.close();
    }
    if (client != null) {
      client.shutdown();
    }
    server.close();
  }

  @Test
  void redisSlowerThanTheCallersDeadline_isAnsweredByThePolicyInTime_andLeavesTheCircuitClosed()
      throws Exception {
    start(Duration.ofSeconds(10));
    RateLimitResponse up =
        rls.stub.shouldRateLimit(request("edge", descriptor("remote_address", "203.0.113.7")));
    assertThat(up.hasDynamicMetadata()).as("Redis answered").isFalse();
    assertThat(server.command("CLIENT", "PAUSE", "30000", "WRITE")).isEqualTo("+OK");

    long start = System.nanoTime();
    RateLimitResponse slow =
        rls.stub
            .withDeadlineAfter(2, TimeUnit.SECONDS)
            .shouldRateLimit(request("edge", descriptor("remote_address", "203.0.113.7")));
    long tookMillis = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - start);

    assertThat(slow.getOverallCode()).isEqualTo(Code.OK);
    assertThat(slow.getDynamicMetadata().getFieldsOrThrow("degraded").getStringValue())
        .isEqualTo("ratelimit_backend:local");
    assertThat(slow.getStatuses(0).getLimitRemaining()).as("counted locally").isEqualTo(2);
    assertThat(tookMillis)
        .as("within the 2 s deadline, not the 10 s Redis timeout")
        .isLessThan(2000);
    assertThat(registry.get(MetricNames.RATELIMIT_BACKEND_ERRORS).counter().count())
        .as("Redis did not fail: the caller stopped waiting")
        .isZero();
    assertThat(new LimitBackendMeters(registry).degraded("rls")).isEqualTo(1);

    assertThat(server.command("CLIENT", "UNPAUSE")).isEqualTo("+OK");
    RateLimitResponse after =
        rls.stub.shouldRateLimit(request("edge", descriptor("remote_address", "203.0.113.7")));
    assertThat(after.hasDynamicMetadata())
        .as("one caller's deadline did not open the circuit: Redis is asked at once")
        .isFalse();
    assertThat(after.getStatuses(0).getLimitRemaining())
        .as("Redis counted the first call, the late one when it landed, and this one")
        .isZero();
  }

  @Test
  void redisThatStopsAnswering_opensTheCircuitOnceItsOwnTimeoutRunsOut_soLaterCallsDoNotWait()
      throws Exception {
    start(Duration.ofSeconds(3)); // longer than the 1.6 s a 2 s deadline allows
    RateLimitResponse up =
        rls.stub.shouldRateLimit(request("edge", descriptor("remote_address", "203.0.113.8")));
    assertThat(up.hasDynamicMetadata()).as("Redis answered").isFalse();
    assertThat(server.command("CLIENT", "PAUSE", "30000", "WRITE")).isEqualTo("+OK");

    // Each call waits 1.6 s and is answered locally, until the late pipelines have failed by the
    // Redis timeout and opened the circuit (the fake clock keeps it open); then Redis is skipped.
    await()
        .atMost(Duration.ofSeconds(20))
        .pollDelay(Duration.ZERO)
        .pollInterval(Duration.ofMillis(100))
        .untilAsserted(
            () -> {
              long start = System.nanoTime();
              RateLimitResponse r =
                  rls.stub
                      .withDeadlineAfter(2, TimeUnit.SECONDS)
                      .shouldRateLimit(
                          request("edge", descriptor("remote_address", "203.0.113.8")));
              long tookMillis = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - start);
              assertThat(r.getDynamicMetadata().getFieldsOrThrow("degraded").getStringValue())
                  .isEqualTo("ratelimit_backend:local");
              assertThat(tookMillis).as("Redis skipped").isLessThan(800);
            });
  }
}
