package io.portcullis.limit;

import java.time.Duration;
import java.util.Locale;
import java.util.Objects;
import org.jspecify.annotations.Nullable;

/**
 * The runtime configuration's {@code ratelimit:} section (interfaces.md), parsed. Wire-free; {@link
 * LimitBackends#inMemory} and {@code io.portcullis.limit.redis.RedisLimitBackends#create} build the
 * backends from it.
 *
 * <pre>{@code
 * ratelimit:
 *   backend: memory                                      # memory | redis
 *   redis: { address: "redis://127.0.0.1:6379", mode: single }   # single | cluster | sentinel
 *   on_backend_failure: local                            # local | deny | allow
 * }</pre>
 *
 * @param backend where limit state lives
 * @param redis how to reach Redis (used when {@code backend} is {@code redis})
 * @param onBackendFailure what limits do while Redis fails
 * @param maximumBuckets the most in-memory buckets (rate) and counters (quota, Envoy RLS) kept at
 *     once, per kind; also bounds the protection tables
 * @param retryInterval after a Redis failure, how long to decide by {@code onBackendFailure} before
 *     asking Redis again
 * @param blockSyncInterval how often each instance re-reads the shared protection blocks from
 *     Redis, in addition to pub/sub notifications
 */
public record RateLimitSettings(
    Backend backend,
    RedisSettings redis,
    BackendFailurePolicy onBackendFailure,
    long maximumBuckets,
    Duration retryInterval,
    Duration blockSyncInterval) {

  /** Where limit state lives. */
  public enum Backend {
    /** Each instance counts alone (default; exact for a single instance). */
    MEMORY,
    /** All instances share counts in Redis. */
    REDIS;

    /** Parses {@code memory | redis}; {@code null} if unknown. */
    public static @Nullable Backend parse(String value) {
      return switch (value.toLowerCase(Locale.ROOT)) {
        case "memory" -> MEMORY;
        case "redis" -> REDIS;
        default -> null;
      };
    }
  }

  public RateLimitSettings {
    Objects.requireNonNull(backend, "backend");
    Objects.requireNonNull(redis, "redis");
    Objects.requireNonNull(onBackendFailure, "onBackendFailure");
    if (maximumBuckets <= 0) {
      throw new IllegalArgumentException("maximumBuckets must be positive");
    }
    if (retryInterval.isNegative()
        || blockSyncInterval.isNegative()
        || blockSyncInterval.isZero()) {
      throw new IllegalArgumentException("intervals must be positive");
    }
  }

  /** The embedded defaults: in-memory limits, fallback {@code local}. */
  public static RateLimitSettings defaults() {
    return builder().build();
  }

  public static Builder builder() {
    return new Builder();
  }

  /** Builds {@link RateLimitSettings}; not thread-safe. */
  public static final class Builder {
    private Backend backend = Backend.MEMORY;
    private RedisSettings redis = RedisSettings.defaults();
    private BackendFailurePolicy onBackendFailure = BackendFailurePolicy.LOCAL;
    private long maximumBuckets = 1_000_000;
    private Duration retryInterval = Duration.ofSeconds(1);
    private Duration blockSyncInterval = Duration.ofSeconds(30);

    private Builder() {}

    public Builder backend(Backend backend) {
      this.backend = backend;
      return this;
    }

    public Builder redis(RedisSettings redis) {
      this.redis = redis;
      return this;
    }

    public Builder onBackendFailure(BackendFailurePolicy onBackendFailure) {
      this.onBackendFailure = onBackendFailure;
      return this;
    }

    public Builder maximumBuckets(long maximumBuckets) {
      this.maximumBuckets = maximumBuckets;
      return this;
    }

    public Builder retryInterval(Duration retryInterval) {
      this.retryInterval = retryInterval;
      return this;
    }

    public Builder blockSyncInterval(Duration blockSyncInterval) {
      this.blockSyncInterval = blockSyncInterval;
      return this;
    }

    public RateLimitSettings build() {
      return new RateLimitSettings(
          backend, redis, onBackendFailure, maximumBuckets, retryInterval, blockSyncInterval);
    }
  }
}
