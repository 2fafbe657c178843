package io.portcullis.limit.redis;

import io.micrometer.core.instrument.MeterRegistry;
import io.portcullis.limit.BackendCircuit;
import io.portcullis.limit.FailoverRateLimiter;
import io.portcullis.limit.InMemoryGcraLimiter;
import io.portcullis.limit.LimitBackends;
import io.portcullis.limit.RateLimitSettings;
import io.portcullis.limit.RateLimiter;
import io.portcullis.limit.rls.FailoverFixedWindowCounters;
import io.portcullis.limit.rls.FixedWindowCounters;
import io.portcullis.limit.rls.InMemoryFixedWindowCounters;
import java.time.InstantSource;
import org.redisson.api.RedissonClient;

/**
 * Builds the Redis-backed {@link LimitBackends} for {@code ratelimit.backend: redis}: the shared
 * GCRA limiter, source protection and Envoy rate limit counters, each behind the {@code
 * on_backend_failure} policy, all sharing one Redis client and one {@link BackendCircuit} (so one
 * outage opens the circuit for all of them, and is logged and counted once for all of them).
 */
public final class RedisLimitBackends {
  private RedisLimitBackends() {}

  /**
   * Creates a Redis client from {@code settings.redis()} and the backends on it; {@link
   * LimitBackends#close()} stops the protection sync and shuts the client down. Does not need Redis
   * to be up: until it is, the failure policy decides.
   */
  public static LimitBackends create(
      RateLimitSettings settings, InstantSource clock, MeterRegistry registry) {
    RedissonClient client = RedissonClients.create(settings.redis());
    return on(client, settings, clock, registry, true);
  }

  /**
   * The backends on an existing client, which the caller keeps owning (closing the result does not
   * shut it down).
   */
  public static LimitBackends on(
      RedissonClient client,
      RateLimitSettings settings,
      InstantSource clock,
      MeterRegistry registry) {
    return on(client, settings, clock, registry, false);
  }

  private static LimitBackends on(
      RedissonClient client,
      RateLimitSettings settings,
      InstantSource clock,
      MeterRegistry registry,
      boolean ownsClient) {
    String prefix = settings.redis().keyPrefix();
    BackendCircuit circuit =
        new BackendCircuit(clock, settings.retryInterval(), settings.onBackendFailure(), registry);
    RateLimiter limiter =
        new FailoverRateLimiter(
            RedisGcraLimiter.builder(client)
                .keyPrefix(prefix)
                .clock(clock)
                .circuit(circuit)
                .build(),
            InMemoryGcraLimiter.builder()
                .clock(clock)
                .maximumBuckets(settings.maximumBuckets())
                .build()
                .bindMetrics(registry, "fallback"),
            settings.onBackendFailure(),
            circuit,
            clock);
    RedisSourceProtection protection =
        RedisSourceProtection.builder(client, circuit)
            .keyPrefix(prefix)
            .clock(clock)
            .maximumSources(settings.maximumBuckets())
            .syncInterval(settings.blockSyncInterval())
            .meterRegistry(registry)
            .build();
    FixedWindowCounters counters =
        new FailoverFixedWindowCounters(
            new RedisFixedWindowCounters(client, prefix, circuit),
            new InMemoryFixedWindowCounters(clock, settings.maximumBuckets()),
            settings.onBackendFailure(),
            circuit);
    return new LimitBackends(
        limiter,
        protection,
        counters,
        () -> {
          protection.close();
          if (ownsClient) {
            client.shutdown();
          }
        });
  }
}
