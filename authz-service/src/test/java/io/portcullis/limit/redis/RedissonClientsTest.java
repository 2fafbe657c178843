package io.portcullis.limit.redis;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.portcullis.identity.Secret;
import io.portcullis.limit.RedisSettings;
import java.time.Duration;
import org.junit.jupiter.api.Test;
import org.redisson.client.codec.StringCodec;
import org.redisson.config.Config;
import org.redisson.config.SingleServerConfig;

class RedissonClientsTest {

  @Test
  void callTimeout_isTheCommandTimeoutTimesOnePlusRetries() {
    var client =
        RedissonClients.create( // lazy: does not connect
            RedisSettings.builder()
                .address("redis://127.0.0.1:1")
                .timeout(Duration.ofMillis(300))
                .retryAttempts(2)
                .build());
    try {
      assertThat(RedissonClients.callTimeout(client)).isEqualTo(Duration.ofMillis(900));
    } finally {
      client.shutdown();
    }
  }

  @Test
  void single_setsAddressDatabaseTimeoutsAndCredentials_andInitializesLazily() {
    Config c =
        RedissonClients.config(
            RedisSettings.builder()
                .address("redis://cache.internal:6380")
                .database(2)
                .timeout(Duration.ofMillis(150))
                .connectTimeout(Duration.ofMillis(700))
                .username("limits")
                .password(Secret.of("s3cret"))
                .build());

    // useSingleServer() hands back the configuration already set
    SingleServerConfig s = c.useSingleServer();
    assertThat(c.isSingleConfig()).isTrue();
    assertThat(s.getAddress()).isEqualTo("redis://cache.internal:6380");
    assertThat(s.getDatabase()).isEqualTo(2);
    assertThat(s.getTimeout()).isEqualTo(150);
    assertThat(s.getConnectTimeout()).isEqualTo(700);
    assertThat(s.getRetryAttempts()).isZero();
    assertThat(s.getUsername()).isEqualTo("limits");
    assertThat(s.getPassword()).isEqualTo("s3cret");
    assertThat(s.getReconnectionDelay().calcDelay(100)).isLessThanOrEqualTo(Duration.ofSeconds(2));
    assertThat(c.isLazyInitialization()).isTrue();
    assertThat(c.getCodec()).isSameAs(StringCodec.INSTANCE);
  }

  @Test
  void cluster_usesEveryAddressAsSeedNode() {
    Config c =
        cluster(RedisSettings.Mode.CLUSTER, "redis://r1:7000, redis://r2:7000,redis://r3:7000");

    assertThat(c.isClusterConfig()).isTrue();
    assertThat(c.useClusterServers().getNodeAddresses())
        .containsExactly("redis://r1:7000", "redis://r2:7000", "redis://r3:7000");
  }

  @Test
  void sentinel_usesTheMasterNameAndEverySentinel() {
    Config c =
        RedissonClients.config(
            RedisSettings.builder()
                .mode(RedisSettings.Mode.SENTINEL)
                .address("redis://s1:26379,redis://s2:26379")
                .sentinelMaster("mymaster")
                .build());

    assertThat(c.isSentinelConfig()).isTrue();
    assertThat(c.useSentinelServers().getMasterName()).isEqualTo("mymaster");
    assertThat(c.useSentinelServers().getSentinelAddresses())
        .containsExactly("redis://s1:26379", "redis://s2:26379");
  }

  @Test
  void settings_refuseWhatRedissonCouldNotUse() {
    assertThatThrownBy(() -> RedisSettings.builder().mode(RedisSettings.Mode.SENTINEL).build())
        .hasMessageContaining("master");
    assertThatThrownBy(() -> RedisSettings.builder().address("127.0.0.1:6379").build())
        .hasMessageContaining("redis://");
    assertThatThrownBy(() -> RedisSettings.builder().address("redis://a:1,redis://b:1").build())
        .hasMessageContaining("exactly one");
    assertThatThrownBy(() -> RedisSettings.builder().keyPrefix("a{b}").build())
        .hasMessageContaining("braces");
    assertThat(RedisSettings.Mode.parse("Cluster")).isEqualTo(RedisSettings.Mode.CLUSTER);
    assertThat(RedisSettings.Mode.parse("ring")).isNull();
  }

  @Test
  void settings_toString_neverShowsThePassword() {
    RedisSettings s =
        RedisSettings.builder()
            .address("redis://user:hunter2@cache:6379")
            .password(Secret.of("hunter3"))
            .build();

    assertThat(s.toString())
        .doesNotContain("hunter2")
        .doesNotContain("hunter3")
        .contains("redis://cache:6379")
        .contains("password=redacted");
  }

  private static Config cluster(RedisSettings.Mode mode, String addresses) {
    return RedissonClients.config(RedisSettings.builder().mode(mode).address(addresses).build());
  }
}
