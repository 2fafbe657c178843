package io.portcullis.limit;

import io.portcullis.identity.Secret;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Objects;
import org.jspecify.annotations.Nullable;

/**
 * {@code ratelimit.redis} of the runtime configuration: how to reach the Redis that holds shared
 * limits, protection blocks and Envoy rate limit counters. Wire-free; {@code
 * io.portcullis.limit.redis.RedissonClients} turns it into a Redisson configuration.
 *
 * @param mode single server, cluster, or sentinel-managed primary
 * @param addresses {@code redis://host:port} or {@code rediss://host:port} URIs: the server
 *     (single), seed nodes (cluster) or sentinels (sentinel)
 * @param sentinelMaster the primary's name under sentinel; required for {@code sentinel}
 * @param username ACL user, or {@code null}
 * @param password password, or {@code null}; never logged
 * @param database database number (single and sentinel; cluster has only 0)
 * @param timeout how long one command may take before it counts as a backend failure
 * @param connectTimeout how long opening a connection may take
 * @param retryAttempts how often Redisson retries a failed command before reporting the failure
 * @param keyPrefix the first part of every key, so several deployments can share one Redis
 */
public record RedisSettings(
    Mode mode,
    List<String> addresses,
    @Nullable String sentinelMaster,
    @Nullable String username,
    @Nullable Secret password,
    int database,
    Duration timeout,
    Duration connectTimeout,
    int retryAttempts,
    String keyPrefix) {

  /** The deployment shapes Redisson supports. */
  public enum Mode {
    SINGLE,
    CLUSTER,
    SENTINEL;

    /** Parses {@code single | cluster | sentinel}; {@code null} if unknown. */
    public static @Nullable Mode parse(String value) {
      return switch (value.toLowerCase(Locale.ROOT)) {
        case "single" -> SINGLE;
        case "cluster" -> CLUSTER;
        case "sentinel" -> SENTINEL;
        default -> null;
      };
    }
  }

  public RedisSettings {
    Objects.requireNonNull(mode, "mode");
    addresses = List.copyOf(addresses);
    if (addresses.isEmpty()) {
      throw new IllegalArgumentException("redis needs at least one address");
    }
    for (String a : addresses) {
      if (!a.startsWith("redis://") && !a.startsWith("rediss://")) {
        throw new IllegalArgumentException(
            "redis address must start with redis:// or rediss://: " + a);
      }
    }
    if (mode == Mode.SENTINEL && (sentinelMaster == null || sentinelMaster.isBlank())) {
      throw new IllegalArgumentException("redis mode sentinel needs the master's name");
    }
    if (mode == Mode.SINGLE && addresses.size() != 1) {
      throw new IllegalArgumentException("redis mode single takes exactly one address");
    }
    if (timeout.isNegative() || timeout.isZero() || connectTimeout.isNegative()) {
      throw new IllegalArgumentException("redis timeouts must be positive");
    }
    if (retryAttempts < 0 || database < 0) {
      throw new IllegalArgumentException("retry attempts and database must not be negative");
    }
    if (keyPrefix.isEmpty() || keyPrefix.indexOf('{') >= 0 || keyPrefix.indexOf('}') >= 0) {
      throw new IllegalArgumentException("key prefix must be non-empty and contain no braces");
    }
  }

  /** Settings for one local server: {@code redis://127.0.0.1:6379}, defaults otherwise. */
  public static RedisSettings defaults() {
    return builder().build();
  }

  public static Builder builder() {
    return new Builder();
  }

  @Override
  public String toString() {
    return "RedisSettings[mode="
        + mode
        + ", addresses="
        + addresses.stream().map(RedisSettings::withoutUserInfo).toList()
        + ", sentinelMaster="
        + sentinelMaster
        + ", username="
        + username
        + ", password="
        + (password == null ? "none" : "redacted")
        + ", database="
        + database
        + ", timeout="
        + timeout
        + ", connectTimeout="
        + connectTimeout
        + ", retryAttempts="
        + retryAttempts
        + ", keyPrefix="
        + keyPrefix
        + "]";
  }

  /** {@code redis://user:pw@host:6379} without {@code user:pw@}, for messages. */
  static String withoutUserInfo(String uri) {
    int scheme = uri.indexOf("://");
    int at = uri.lastIndexOf('@');
    return scheme >= 0 && at > scheme ? uri.substring(0, scheme + 3) + uri.substring(at + 1) : uri;
  }

  /** Builds {@link RedisSettings}; not thread-safe. */
  public static final class Builder {
    private Mode mode = Mode.SINGLE;
    private List<String> addresses = List.of("redis://127.0.0.1:6379");
    private @Nullable String sentinelMaster;
    private @Nullable String username;
    private @Nullable Secret password;
    private int database;
    private Duration timeout = Duration.ofMillis(250);
    private Duration connectTimeout = Duration.ofSeconds(1);
    private int retryAttempts;
    private String keyPrefix = "portcullis";

    private Builder() {}

    public Builder mode(Mode mode) {
      this.mode = mode;
      return this;
    }

    /** One address, or several separated by commas (cluster seeds, sentinels). */
    public Builder address(String addresses) {
      List<String> list = new ArrayList<>();
      for (String a : addresses.split(",")) {
        if (!a.isBlank()) {
          list.add(a.strip());
        }
      }
      this.addresses = list;
      return this;
    }

    public Builder addresses(List<String> addresses) {
      this.addresses = List.copyOf(addresses);
      return this;
    }

    public Builder sentinelMaster(@Nullable String sentinelMaster) {
      this.sentinelMaster = sentinelMaster;
      return this;
    }

    public Builder username(@Nullable String username) {
      this.username = username;
      return this;
    }

    public Builder password(@Nullable Secret password) {
      this.password = password;
      return this;
    }

    public Builder database(int database) {
      this.database = database;
      return this;
    }

    /** Command timeout (default 250 ms). */
    public Builder timeout(Duration timeout) {
      this.timeout = timeout;
      return this;
    }

    /** Connect timeout (default 1 s). */
    public Builder connectTimeout(Duration connectTimeout) {
      this.connectTimeout = connectTimeout;
      return this;
    }

    /** Retries of a failed command before it is reported (default 0: fail fast, fail over). */
    public Builder retryAttempts(int retryAttempts) {
      this.retryAttempts = retryAttempts;
      return this;
    }

    /** First part of every key (default {@code portcullis}). */
    public Builder keyPrefix(String keyPrefix) {
      this.keyPrefix = keyPrefix;
      return this;
    }

    public RedisSettings build() {
      return new RedisSettings(
          mode,
          addresses,
          sentinelMaster,
          username,
          password,
          database,
          timeout,
          connectTimeout,
          retryAttempts,
          keyPrefix);
    }
  }
}
