package io.portcullis.limit;

import io.micrometer.core.instrument.MeterRegistry;
import io.portcullis.limit.rls.FixedWindowCounters;
import io.portcullis.limit.rls.InMemoryFixedWindowCounters;
import java.time.InstantSource;
import java.util.Objects;

/**
 * Everything that keeps limit state, built once from {@link RateLimitSettings} and closed at
 * shutdown: the policy's rate limiter, the {@code protect} source protection, and the counters of
 * the Envoy rate limit service. Wiring:
 *
 * <pre>{@code
 * LimitBackends backends = settings.backend() == RateLimitSettings.Backend.REDIS
 *     ? RedisLimitBackends.create(settings, clock, registry)   // io.portcullis.limit.redis
 *     : LimitBackends.inMemory(settings, clock, registry);
 * DecisionPipeline.builder().limiter(backends.limiter()).protection(backends.protection())...
 * DescriptorLimiter.builder().configDirectory(rlsDir).counters(backends.rlsCounters()).build();
 * }</pre>
 *
 * @param limiter the policy's limits (never throws for a backend failure)
 * @param protection {@code protect.failed_auth}
 * @param rlsCounters counters for {@link io.portcullis.limit.rls.DescriptorLimiter}
 * @param resources what {@link #close()} releases (the Redis client, protection sync), or a no-op
 */
public record LimitBackends(
    RateLimiter limiter,
    SourceProtection protection,
    FixedWindowCounters rlsCounters,
    AutoCloseable resources)
    implements AutoCloseable {

  public LimitBackends {
    Objects.requireNonNull(limiter, "limiter");
    Objects.requireNonNull(protection, "protection");
    Objects.requireNonNull(rlsCounters, "rlsCounters");
    Objects.requireNonNull(resources, "resources");
  }

  /**
   * Per-instance state in memory ({@code ratelimit.backend: memory}); publishes {@code
   * portcullis_blocked_sources} and the limit backend's meters ({@link
   * BackendCircuit#registerWithoutBackend}) to {@code registry}.
   */
  public static LimitBackends inMemory(
      RateLimitSettings settings, InstantSource clock, MeterRegistry registry) {
    BackendCircuit.registerWithoutBackend(registry);
    return new LimitBackends(
        InMemoryGcraLimiter.builder()
            .clock(clock)
            .maximumBuckets(settings.maximumBuckets())
            .build()
            .bindMetrics(registry, "primary"),
        InMemorySourceProtection.builder()
            .clock(clock)
            .maximumSources(settings.maximumBuckets())
            .meterRegistry(registry)
            .build(),
        new InMemoryFixedWindowCounters(clock, settings.maximumBuckets()),
        () -> {});
  }

  @Override
  public void close() throws Exception {
    resources.close();
  }
}
