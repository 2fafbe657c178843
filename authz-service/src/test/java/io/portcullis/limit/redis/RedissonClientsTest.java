package io.portcullis.limit.redis;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.portcullis.identity.Secret;
import io.portcullis.limit.RedisSettings;
import java.time.Duration;
import org.junit.jupiter.api.Test;
import org.redisson.client.codec.StringCodec;
import org.redisson.config.Config;
import org.redisson.config.SentinelServersConfig;
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
    RedisSettings s = RedisSettings.builder().address("redis://user:hunter2@cache:6379").build();

    assertThat(s.toString())
        .doesNotContain("hunter2")
        .contains("redis://cache:6379")
        .contains("username=user")
        .contains("password=redacted");
  }

  @Test
  void addressUrl_databaseAndUserInfo_areTakenOutOfTheAddress_andUsed() {
    RedisSettings s =
        RedisSettings.builder().address("rediss://limits:p%40ss+w%3Ard@cache:6380/7").build();

    assertThat(s.addresses()).containsExactly("rediss://cache:6380");
    assertThat(s.database()).isEqualTo(7);
    assertThat(s.username()).isEqualTo("limits");
    assertThat(s.password()).isEqualTo(Secret.of("p@ss+w:rd"));
    SingleServerConfig single = RedissonClients.config(s).useSingleServer();
    assertThat(single.getAddress()).isEqualTo("rediss://cache:6380");
    assertThat(single.getDatabase()).isEqualTo(7);
    assertThat(single.getUsername()).isEqualTo("limits");
    assertThat(single.getPassword()).isEqualTo("p@ss+w:rd");
  }

  @Test
  void addressUrl_asRedisCliReadsIt() {
    RedisSettings passwordOnly = RedisSettings.builder().address("redis://s3cret@h:6379/").build();
    assertThat(passwordOnly.username()).isNull();
    assertThat(passwordOnly.password()).isEqualTo(Secret.of("s3cret"));
    assertThat(passwordOnly.database()).as("a bare / names no database").isZero();
    assertThat(RedisSettings.builder().address("redis://[::1]:6379/3").build())
        .extracting(RedisSettings::addresses, RedisSettings::database)
        .containsExactly(java.util.List.of("redis://[::1]:6379"), 3);
  }

  @Test
  void sentinel_theDatabaseInTheAddressesIsThePrimarys() {
    Config c =
        RedissonClients.config(
            RedisSettings.builder()
                .mode(RedisSettings.Mode.SENTINEL)
                .address("redis://s1:26379/4,redis://s2:26379")
                .sentinelMaster("mymaster")
                .build());

    assertThat(c.useSentinelServers().getDatabase()).isEqualTo(4);
    assertThat(c.useSentinelServers().getSentinelAddresses())
        .containsExactly("redis://s1:26379", "redis://s2:26379");
  }

  @Test
  void sentinel_theUserInfoIsTheSentinels_andPasswordIsThePrimarysAndReplicas() {
    RedisSettings s =
        RedisSettings.builder()
            .mode(RedisSettings.Mode.SENTINEL)
            .sentinelMaster("mymaster")
            .address("redis://watch:sentinelpw@s1:26379,redis://watch:sentinelpw@s2:26379")
            .username("limits")
            .password(Secret.of("masterpw"))
            .build();

    SentinelServersConfig c = RedissonClients.config(s).useSentinelServers();
    assertThat(c.getSentinelUsername()).isEqualTo("watch");
    assertThat(c.getSentinelPassword()).isEqualTo("sentinelpw");
    assertThat(c.getUsername()).as("the primary's and replicas'").isEqualTo("limits");
    assertThat(c.getPassword()).as("the primary's and replicas'").isEqualTo("masterpw");
    assertThat(c.getSentinelAddresses()).containsExactly("redis://s1:26379", "redis://s2:26379");
    assertThat(s.toString()).doesNotContain("sentinelpw").doesNotContain("masterpw");

    SentinelServersConfig urlOnly =
        RedissonClients.config(
                RedisSettings.builder()
                    .mode(RedisSettings.Mode.SENTINEL)
                    .sentinelMaster("mymaster")
                    .address("redis://:sentinelpw@s1:26379")
                    .build())
            .useSentinelServers();
    assertThat(urlOnly.getSentinelPassword()).isEqualTo("sentinelpw");
    assertThat(urlOnly.getPassword()).as("the sentinels' password is not the primary's").isNull();

    SentinelServersConfig passwordOnly =
        RedissonClients.config(
                RedisSettings.builder()
                    .mode(RedisSettings.Mode.SENTINEL)
                    .sentinelMaster("mymaster")
                    .address("redis://s1:26379")
                    .password(Secret.of("masterpw"))
                    .build())
            .useSentinelServers();
    assertThat(passwordOnly.getPassword()).isEqualTo("masterpw");
    assertThat(passwordOnly.getSentinelPassword())
        .as("none of their own: Redisson gives sentinels the primary's")
        .isNull();
  }

  @Test
  void sentinel_addressesGivingDifferentSentinelCredentials_areRefused_neverShowingThem() {
    assertThatThrownBy(
            () ->
                RedisSettings.builder()
                    .mode(RedisSettings.Mode.SENTINEL)
                    .sentinelMaster("m")
                    .address("redis://:hunter2@s1:26379,redis://:hunter3@s2:26379")
                    .password(Secret.of("hunter2"))
                    .build())
        .isInstanceOfSatisfying(
            RedisSettings.InvalidAddressException.class, e -> assertThat(e.index()).isEqualTo(1))
        .hasMessageContaining("another address gives another")
        .message()
        .doesNotContain("hunter");
    assertThatThrownBy(
            () ->
                RedisSettings.builder()
                    .mode(RedisSettings.Mode.SENTINEL)
                    .sentinelMaster("m")
                    .address("redis://a:pw@s1:26379,redis://b:pw@s2:26379")
                    .build())
        .hasMessageContaining("give the user once");
  }

  @Test
  void addressUrl_whatCannotBeHonoured_isRefused_namingTheAddress_neverThePassword() {
    assertThatThrownBy(
            () ->
                RedisSettings.builder()
                    .mode(RedisSettings.Mode.CLUSTER)
                    .address("redis://r1:7000,redis://r2:7000/3")
                    .build())
        .isInstanceOfSatisfying(
            RedisSettings.InvalidAddressException.class, e -> assertThat(e.index()).isEqualTo(1))
        .hasMessageContaining("Redis Cluster has only database 0");
    assertThat(
            RedisSettings.builder()
                .mode(RedisSettings.Mode.CLUSTER)
                .address("redis://r1:7000/0")
                .build()
                .database())
        .isZero();
    assertThatThrownBy(
            () ->
                RedisSettings.builder()
                    .mode(RedisSettings.Mode.SENTINEL)
                    .sentinelMaster("m")
                    .address("redis://s1:26379/1,redis://s2:26379/2")
                    .build())
        .hasMessageContaining("names database 2, but another address names 1");
    for (String bad :
        new String[] {
          "redis://:hunter2@h:6379/x",
          "redis://:hunter2@h:6379/-1",
          "redis://:hunter2@h:6379/99999999999",
          "redis://:hunter2@h:6379/0?timeout=1",
          "redis://:hunter2@h",
          "redis://:hunter2@h:0",
          "http://:hunter2@h:6379",
          "redis://:hunter%2@h:6379"
        }) {
      assertThatThrownBy(() -> RedisSettings.builder().address(bad).build())
          .as(bad)
          .isInstanceOf(RedisSettings.InvalidAddressException.class)
          .message()
          .doesNotContain("hunter");
    }
    assertThatThrownBy(
            () ->
                RedisSettings.builder()
                    .address("redis://:hunter2@h:6379")
                    .password(Secret.of("other"))
                    .build())
        .hasMessageContaining("a different password is set as well")
        .message()
        .doesNotContain("hunter2")
        .doesNotContain("other");
  }

  @Test
  void addressUrl_aQueryOrFragment_isRefused_neverEchoingWhatFollows() {
    for (String bad :
        new String[] {
          "redis://cache:6379?password=hunter2",
          "redis://cache:6379/0?password=hunter2",
          "redis://cache:6379/0#hunter2",
          "redis://cache:6379#?hunter2",
          "rediss://cache?password=hunter2",
          "http://cache:6379?password=hunter2"
        }) {
      assertThatThrownBy(() -> RedisSettings.builder().address(bad).build())
          .as(bad)
          .isInstanceOf(RedisSettings.InvalidAddressException.class)
          .message()
          .doesNotContain("hunter2")
          .doesNotContain("password=");
    }
    assertThatThrownBy(
            () -> RedisSettings.builder().address("redis://cache:6379/0?password=hunter2").build())
        .hasMessageContaining("query parameters and fragments are not supported")
        .hasMessageContaining("got 'redis://cache:6379/0?...'");
  }

  private static Config cluster(RedisSettings.Mode mode, String addresses) {
    return RedissonClients.config(RedisSettings.builder().mode(mode).address(addresses).build());
  }
}
