package io.portcullis.limit.redis;

import io.portcullis.identity.Secret;
import io.portcullis.limit.RedisSettings;
import java.time.Duration;
import org.redisson.Redisson;
import org.redisson.api.RedissonClient;
import org.redisson.client.codec.StringCodec;
import org.redisson.config.BaseConfig;
import org.redisson.config.Config;
import org.redisson.config.EqualJitterDelay;
import org.redisson.config.SentinelServersConfig;

/**
 * Turns {@link RedisSettings} into a Redisson client for a single server, a cluster, or a
 * sentinel-managed primary.
 *
 * <p>The client initializes lazily: the service starts while Redis is down (limits then follow
 * {@code on_backend_failure}) and connects when Redis appears. Commands fail after {@code timeout}
 * with {@code retryAttempts} retries (default none), so a Redis outage costs each request at most
 * one timeout before the circuit opens; reconnection is retried with jittered backoff of at most 2
 * s, so limits recover within seconds of Redis returning. Keys and values use the plain string
 * codec.
 */
public final class RedissonClients {
  private RedissonClients() {}

  /** A started client; close it with {@link RedissonClient#shutdown()}. */
  public static RedissonClient create(RedisSettings settings) {
    return Redisson.create(config(settings));
  }

  /** The Redisson configuration for {@code settings} (does not connect). */
  public static Config config(RedisSettings s) {
    Config c = new Config();
    c.setCodec(StringCodec.INSTANCE);
    c.setLazyInitialization(true);
    switch (s.mode()) {
      case SINGLE ->
          common(c.useSingleServer(), s).setAddress(s.addresses().get(0)).setDatabase(s.database());
      case CLUSTER -> common(c.useClusterServers(), s).addNodeAddress(array(s));
      case SENTINEL ->
          sentinelCredentials(common(c.useSentinelServers(), s), s)
              .setMasterName(s.sentinelMaster())
              .addSentinelAddress(array(s))
              .setDatabase(s.database());
    }
    return c;
  }

  private static <T extends BaseConfig<T>> T common(T cfg, RedisSettings s) {
    cfg.setTimeout(Math.toIntExact(s.timeout().toMillis()))
        .setConnectTimeout(Math.toIntExact(s.connectTimeout().toMillis()))
        .setRetryAttempts(s.retryAttempts())
        // reconnect quickly after an outage: limits are degraded until the connection is back
        .setReconnectionDelay(new EqualJitterDelay(Duration.ofMillis(100), Duration.ofSeconds(2)))
        .setClientName("portcullis");
    if (s.username() != null) {
      cfg.setUsername(s.username());
    }
    Secret password = s.password();
    if (password != null) {
      cfg.setPassword(password.reveal());
    }
    return cfg;
  }

  /**
   * The sentinels' own credentials, when the addresses give them; without, Redisson uses the
   * primary's password (and no user) for sentinels that ask for one.
   */
  private static SentinelServersConfig sentinelCredentials(
      SentinelServersConfig cfg, RedisSettings s) {
    if (s.sentinelUsername() != null) {
      cfg.setSentinelUsername(s.sentinelUsername());
    }
    Secret password = s.sentinelPassword();
    if (password != null) {
      cfg.setSentinelPassword(password.reveal());
    }
    return cfg;
  }

  /**
   * How long {@code client} lets one command take, retries included: its timeout times one plus its
   * retry attempts (250 ms, the default timeout, if the deployment shape is not one of ours).
   */
  public static Duration callTimeout(RedissonClient client) {
    Config c = client.getConfig();
    BaseConfig<?> cfg =
        c.isClusterConfig()
            ? c.useClusterServers()
            : c.isSentinelConfig()
                ? c.useSentinelServers()
                : c.isSingleConfig() ? c.useSingleServer() : null;
    if (cfg == null) {
      return Duration.ofMillis(250);
    }
    return Duration.ofMillis((long) cfg.getTimeout() * (1 + cfg.getRetryAttempts()));
  }

  private static String[] array(RedisSettings s) {
    return s.addresses().toArray(String[]::new);
  }
}
