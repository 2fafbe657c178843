package io.portcullis.limit.redis;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import io.portcullis.config.RuntimeConfigLoader;
import io.portcullis.limit.BackendFailurePolicy;
import io.portcullis.limit.LimitBackendException;
import io.portcullis.limit.LimitBackends;
import io.portcullis.limit.LimitDefinition;
import io.portcullis.limit.LimitKey;
import io.portcullis.limit.LimitKind;
import io.portcullis.limit.LimitRequest;
import io.portcullis.limit.RateLimitSettings;
import io.portcullis.limit.RedisSettings;
import io.portcullis.limit.rls.FixedWindowCounters;
import io.portcullis.testing.TestRedis;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.InstantSource;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.redisson.api.RedissonClient;
import org.redisson.api.redisnode.RedisNodes;

/**
 * {@code ratelimit.redis.address: redis://host:port/9} keeps the policy's limits, source protection
 * and the Envoy rate limit counters in database 9 of the shared test Redis, not in database 0
 * (where another application's keys would be). Works under its own key prefix and deletes only its
 * own keys.
 */
class RedisDatabaseIT {
  private static final int DATABASE = 9;

  @TempDir Path dir;

  private final String prefix = TestRedis.randomPrefix();
  private final List<RedissonClient> clients = new ArrayList<>();

  @AfterEach
  void deleteOwnKeys() {
    for (RedissonClient c : clients) {
      TestRedis.deleteKeys(c, prefix);
      c.shutdown();
    }
  }

  @Test
  void theDatabaseInTheAddress_holdsEveryLimitKey_andDatabase0NoneOfThem() throws Exception {
    TestRedis.requireReachable();
    RedissonClient db0 = inspector(0);
    RedissonClient db9 = inspector(DATABASE);

    try (LimitBackends backends = backendsFromConfig(TestRedis.url() + "/" + DATABASE)) {
      LimitDefinition limit =
          new LimitDefinition(
              "per-client",
              "segment/public",
              List.of(LimitKey.Attribute.CLIENT),
              new LimitKind.Rate(10, Duration.ofMinutes(1), 10));
      assertThat(backends.limiter().acquire(List.of(new LimitRequest(limit, "acme", 1)), true))
          .matches(o -> o.degraded() == null, "answered by Redis, not the local fallback");
      assertThat(
              backends
                  .rlsCounters()
                  .add(
                      List.of(new FixedWindowCounters.Hit("edge_path_0", 1, Duration.ofMinutes(1))))
                  .values())
          .containsExactly(1L);
      backends
          .protection()
          .recordFailure("203.0.113.9", 5, Duration.ofMinutes(1), Duration.ofMinutes(5));
    }

    assertThat(db9.getKeys().getKeysStreamByPattern(prefix + ":*").toList())
        .as("keys in database %d", DATABASE)
        .anyMatch(k -> k.startsWith(prefix + ":{segment/public"))
        .anyMatch(k -> k.startsWith(prefix + ":rls:"))
        .anyMatch(k -> k.contains("203.0.113.9"));
    assertThat(db0.getKeys().getKeysStreamByPattern(prefix + ":*").toList())
        .as("keys in database 0")
        .isEmpty();
  }

  @Test
  void aDatabaseTheServerDoesNotHave_failsEveryCall_sayingWhyRedisRefused() {
    TestRedis.requireReachable();
    int databases =
        Integer.parseInt(
            inspector(0)
                .getRedisNodes(RedisNodes.SINGLE)
                .getInstance()
                .getConfig("databases")
                .get("databases"));
    RedissonClient missing =
        RedissonClients.create(
            RedisSettings.builder()
                .address(TestRedis.url() + "/" + databases) // 0 to databases - 1 exist
                .timeout(Duration.ofSeconds(2))
                .build());
    try {
      assertEveryCallFailsNamingTheDatabase(missing);
    } finally {
      missing.shutdown(); // holds no keys to delete
    }
  }

  private void assertEveryCallFailsNamingTheDatabase(RedissonClient missing) {
    LimitDefinition limit =
        new LimitDefinition(
            "per-client",
            "segment/public",
            List.of(LimitKey.Attribute.CLIENT),
            new LimitKind.Rate(10, Duration.ofMinutes(1), 10));

    // not just "Unable to connect to Redis server", which sends the operator to the network
    assertThatThrownBy(
            () ->
                RedisGcraLimiter.builder(missing)
                    .keyPrefix(prefix)
                    .build()
                    .acquire(List.of(new LimitRequest(limit, "acme", 1)), true))
        .isInstanceOf(LimitBackendException.class)
        .hasMessageContaining("ERR DB index is out of range");
    assertThatThrownBy(
            () ->
                new RedisFixedWindowCounters(missing, prefix)
                    .add(
                        List.of(
                            new FixedWindowCounters.Hit("edge_path_0", 1, Duration.ofMinutes(1)))))
        .isInstanceOf(LimitBackendException.class)
        .hasMessageContaining("ERR DB index is out of range")
        .message()
        .doesNotContain("channel:");
  }

  /** The Redis backends as {@code serve} builds them from a runtime configuration. */
  private LimitBackends backendsFromConfig(String address) throws Exception {
    Path file = dir.resolve("portcullis.yaml");
    Files.writeString(
        file,
        "ratelimit:\n"
            + "  backend: redis\n"
            + "  on_backend_failure: local\n"
            + "  redis: { address: \""
            + address
            + "\", timeout: 2s }\n");
    RuntimeConfigLoader.Result r = RuntimeConfigLoader.load(file, null, k -> null);
    assertThat(r).as("%s", r).isInstanceOf(RuntimeConfigLoader.Loaded.class);
    RateLimitSettings loaded = ((RuntimeConfigLoader.Loaded) r).config().ratelimit();
    RedisSettings s = loaded.redis();
    // the configuration has no key prefix: this test's own, so that it deletes only its keys
    RedisSettings ownPrefix =
        new RedisSettings(
            s.mode(),
            s.addresses(),
            s.sentinelMaster(),
            s.username(),
            s.password(),
            s.sentinelUsername(),
            s.sentinelPassword(),
            s.database(),
            s.timeout(),
            s.connectTimeout(),
            s.retryAttempts(),
            prefix);
    return RedisLimitBackends.create(
        RateLimitSettings.builder()
            .backend(RateLimitSettings.Backend.REDIS)
            .onBackendFailure(BackendFailurePolicy.LOCAL)
            .redis(ownPrefix)
            .build(),
        InstantSource.system(),
        new SimpleMeterRegistry());
  }

  /** A client on one database of the shared server, to look at (and clean up) its keys. */
  private RedissonClient inspector(int database) {
    RedissonClient c =
        RedissonClients.create(
            RedisSettings.builder()
                .address(TestRedis.url())
                .database(database)
                .timeout(Duration.ofSeconds(2))
                .build());
    clients.add(c);
    return c;
  }
}
