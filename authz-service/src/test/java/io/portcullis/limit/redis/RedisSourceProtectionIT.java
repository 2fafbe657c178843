package io.portcullis.limit.redis;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import io.portcullis.limit.BackendCircuit;
import io.portcullis.limit.BackendFailurePolicy;
import io.portcullis.limit.SourceProtection.BlockedSource;
import io.portcullis.metrics.MetricNames;
import io.portcullis.testing.TestRedis;
import java.time.Duration;
import java.time.InstantSource;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.redisson.api.RedissonClient;
import org.redisson.client.codec.StringCodec;

/** Two instances (two clients) sharing {@code protect.failed_auth} through the real Redis. */
class RedisSourceProtectionIT {
  private static final Duration WINDOW = Duration.ofMinutes(1);
  private static final Duration BLOCK = Duration.ofMinutes(10);

  private final SimpleMeterRegistry registry = new SimpleMeterRegistry();
  private String prefix;
  private RedissonClient redisA;
  private RedissonClient redisB;
  private RedisSourceProtection a;
  private RedisSourceProtection b;

  @BeforeEach
  void start() {
    prefix = TestRedis.randomPrefix();
    redisA = TestRedis.client();
    redisB = TestRedis.client();
    a = protection(redisA, new SimpleMeterRegistry());
    b = protection(redisB, registry);
    // both instances subscribed, so what follows travels by pub/sub (the timed sync is hourly)
    await()
        .atMost(Duration.ofSeconds(5))
        .until(() -> redisA.getTopic(prefix + ":protect:events").countSubscribers() >= 2);
  }

  private RedisSourceProtection protection(RedissonClient redis, SimpleMeterRegistry metrics) {
    InstantSource clock = InstantSource.system();
    return RedisSourceProtection.builder(
            redis,
            new BackendCircuit(clock, Duration.ofSeconds(1), BackendFailurePolicy.LOCAL, metrics))
        .keyPrefix(prefix)
        .clock(clock)
        .syncInterval(Duration.ofHours(1))
        .meterRegistry(metrics)
        .build();
  }

  @AfterEach
  void stop() {
    a.close();
    b.close();
    TestRedis.deleteKeys(redisA, prefix);
    redisA.shutdown();
    redisB.shutdown();
  }

  @Test
  void failuresOnTwoInstances_countTogether_andTheBlockReachesBothWithoutAsking() {
    a.recordFailure("ip:203.0.113.7", 3, WINDOW, BLOCK);
    a.recordFailure("ip:203.0.113.7", 3, WINDOW, BLOCK);
    assertThat(b.blockedUntil("ip:203.0.113.7")).isNull();

    b.recordFailure("ip:203.0.113.7", 3, WINDOW, BLOCK);

    assertThat(b.blockedUntil("ip:203.0.113.7"))
        .as("the blocking instance knows at once")
        .isNotNull();
    await().atMost(Duration.ofSeconds(2)).until(() -> a.blockedUntil("ip:203.0.113.7") != null);
    assertThat(a.blockedUntil("ip:203.0.113.7")).isEqualTo(b.blockedUntil("ip:203.0.113.7"));
    assertThat(registry.get(MetricNames.BLOCKED_SOURCES).gauge().value()).isEqualTo(1);
  }

  @Test
  void blocked_listsTheSharedBlocks_withFailuresAndTimes() {
    for (int i = 0; i < 3; i++) {
      a.recordFailure("ip:203.0.113.7", 3, WINDOW, BLOCK);
    }

    assertThat(b.blocked())
        .singleElement()
        .satisfies(
            s -> {
              assertThat(s.key()).isEqualTo("ip:203.0.113.7");
              assertThat(s.failures()).isEqualTo(3);
              assertThat(Duration.between(s.blockedAt(), s.blockedUntil())).isEqualTo(BLOCK);
            });
  }

  @Test
  void unblock_onOneInstance_liftsTheBlockEverywhere() {
    for (int i = 0; i < 3; i++) {
      a.recordFailure("ip:203.0.113.7", 3, WINDOW, BLOCK);
    }
    await().atMost(Duration.ofSeconds(2)).until(() -> b.blockedUntil("ip:203.0.113.7") != null);

    assertThat(b.unblock("ip:203.0.113.7")).isTrue();

    await().atMost(Duration.ofSeconds(2)).until(() -> a.blockedUntil("ip:203.0.113.7") == null);
    assertThat(a.blocked()).isEmpty();
    assertThat(redisA.getKeys().countExists(a.blockKey("ip:203.0.113.7"))).isZero();
  }

  @Test
  void sync_repairsWhatPubSubMissed() {
    // a block written and one removed behind the instances' backs, as if messages were lost
    redisA
        .getBucket(a.blockKey("ip:198.51.100.1"), StringCodec.INSTANCE)
        .set(
            "1778414400000:" + (System.currentTimeMillis() + 60_000) + ":20",
            Duration.ofMinutes(1));
    for (int i = 0; i < 3; i++) {
      a.recordFailure("ip:203.0.113.7", 3, WINDOW, BLOCK);
    }
    await().atMost(Duration.ofSeconds(2)).until(() -> b.blockedUntil("ip:203.0.113.7") != null);
    redisA.getKeys().delete(a.blockKey("ip:203.0.113.7"));

    b.sync();

    assertThat(b.blockedUntil("ip:198.51.100.1")).isNotNull();
    assertThat(b.blockedUntil("ip:203.0.113.7")).isNull();
  }

  /** Runs {@code change} inside b's next {@link RedisSourceProtection#sync} on this thread. */
  private void duringBsNextScan(Runnable change) {
    Thread syncing = Thread.currentThread(); // not b's own sync thread (subscription, timer)
    b.afterScan =
        () -> {
          if (Thread.currentThread() == syncing) {
            b.afterScan = () -> {};
            change.run();
          }
        };
  }

  @Test
  void sync_keepsABlockPublishedWhileItsScanRan() {
    duringBsNextScan(
        () -> {
          for (int i = 0; i < 3; i++) {
            a.recordFailure("ip:203.0.113.7", 3, WINDOW, BLOCK);
          }
          await()
              .atMost(Duration.ofSeconds(2))
              .until(() -> b.blockedUntil("ip:203.0.113.7") != null);
        });

    b.sync();

    assertThat(b.blockedUntil("ip:203.0.113.7"))
        .as("the block the scan missed stays, not dropped until the next sync")
        .isNotNull();
  }

  @Test
  void sync_keepsABlockThisInstanceSetWhileItsScanRan() {
    duringBsNextScan(() -> b.recordFailure("ip:203.0.113.7", 1, WINDOW, BLOCK));

    b.sync();

    assertThat(b.blockedUntil("ip:203.0.113.7")).isNotNull();
  }

  @Test
  void sync_doesNotResurrectABlockLiftedWhileItsScanRan() {
    for (int i = 0; i < 3; i++) {
      a.recordFailure("ip:203.0.113.7", 3, WINDOW, BLOCK);
    }
    await().atMost(Duration.ofSeconds(2)).until(() -> b.blockedUntil("ip:203.0.113.7") != null);
    duringBsNextScan(
        () -> {
          assertThat(a.unblock("ip:203.0.113.7")).isTrue();
          await()
              .atMost(Duration.ofSeconds(2))
              .until(() -> b.blockedUntil("ip:203.0.113.7") == null);
        });

    b.sync();

    assertThat(b.blockedUntil("ip:203.0.113.7"))
        .as("the scan read the block before it was lifted; it must not bring it back")
        .isNull();
  }

  @Test
  void sync_doesNotResurrectABlockThisInstanceLiftedWhileItsScanRan() {
    b.recordFailure("ip:203.0.113.7", 1, WINDOW, BLOCK);
    duringBsNextScan(() -> assertThat(b.unblock("ip:203.0.113.7")).isTrue());

    b.sync();

    assertThat(b.blockedUntil("ip:203.0.113.7")).isNull();
  }

  @Test
  void sourceKeysWithBracesAndGlobCharacters_roundTripThroughTheKeys() {
    String odd = "header:x-tenant:{a*b}?[c]%";
    for (int i = 0; i < 2; i++) {
      a.recordFailure(odd, 2, WINDOW, BLOCK);
    }

    assertThat(b.blocked()).extracting(BlockedSource::key).containsExactly(odd);
    assertThat(RedisSourceProtection.unescape(RedisSourceProtection.escape(odd))).isEqualTo(odd);
  }
}
