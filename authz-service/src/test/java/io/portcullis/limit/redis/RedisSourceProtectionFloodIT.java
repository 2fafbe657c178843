package io.portcullis.limit.redis;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import io.portcullis.limit.BackendCircuit;
import io.portcullis.limit.BackendFailurePolicy;
import io.portcullis.limit.RedisSettings;
import io.portcullis.testing.LimitBackendMeters;
import io.portcullis.testing.RedisServerProcess;
import java.time.Duration;
import java.time.InstantSource;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.redisson.api.RedissonClient;

/**
 * A flood of failed authentications while Redis is slow: at most {@code callsInFlight} of them wait
 * for Redis, the rest are counted by the instance at once. Runs its own redis-server, so that it
 * can pause it.
 */
class RedisSourceProtectionFloodIT {
  private static final Duration WINDOW = Duration.ofMinutes(1);
  private static final Duration BLOCK = Duration.ofMinutes(10);

  private RedisServerProcess server;
  private RedissonClient client;
  private RedisSourceProtection protection;
  private final SimpleMeterRegistry registry = new SimpleMeterRegistry();
  private final LimitBackendMeters meters = new LimitBackendMeters(registry);
  private final ExecutorService callers = Executors.newVirtualThreadPerTaskExecutor();

  @BeforeEach
  void start() throws Exception {
    server = RedisServerProcess.start();
    client =
        RedissonClients.create(
            RedisSettings.builder().address(server.url()).timeout(Duration.ofSeconds(5)).build());
    InstantSource clock = InstantSource.system();
    protection =
        RedisSourceProtection.builder(
                client,
                new BackendCircuit(
                    clock, Duration.ofMinutes(1), BackendFailurePolicy.LOCAL, registry))
            .keyPrefix("f")
            .clock(clock)
            .syncInterval(Duration.ofHours(1))
            .callsInFlight(4)
            .build();
    await()
        .atMost(Duration.ofSeconds(5))
        .until(() -> client.getTopic("f:protect:events").countSubscribers() >= 1);
  }

  @AfterEach
  void stop() {
    callers.shutdownNow();
    protection.close();
    client.shutdown();
    server.close();
  }

  @Test
  void floodWhileRedisIsSlow_fourCallsWait_theRestAreCountedHereAtOnce() throws Exception {
    assertThat(server.command("CLIENT", "PAUSE", "30000", "WRITE")).isEqualTo("+OK");
    List<Future<?>> calls = new ArrayList<>();
    for (int i = 0; i < 40; i++) {
      String source = "ip:198.51.100." + i;
      calls.add(callers.submit(() -> protection.recordFailure(source, 1, WINDOW, BLOCK)));
    }

    // while Redis answers nothing: 36 calls returned, counted here; 4 wait for Redis
    await()
        .atMost(Duration.ofSeconds(10))
        .until(() -> calls.stream().filter(Future::isDone).count() == 36);
    assertThat(meters.degraded("protect"))
        .as("each failure counted here alone is a degraded decision")
        .isEqualTo(36);
    assertThat(meters.errors()).as("Redis failed nothing: it was busy").isZero();
    assertThat(server.command("CLIENT", "UNPAUSE")).isEqualTo("+OK");
    for (Future<?> f : calls) {
      f.get(30, TimeUnit.SECONDS);
    }

    assertThat(server.command("KEYS", "f:protect:*:block"))
        .as("blocks set in Redis")
        .isEqualTo("*4");
    assertThat(meters.degraded("protect")).isEqualTo(36);
    assertThat(meters.errors()).isZero();
    for (int i = 0; i < 40; i++) {
      assertThat(protection.blockedUntil("ip:198.51.100." + i)).as("source %d", i).isNotNull();
    }
  }
}
