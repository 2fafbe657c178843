package io.portcullis.limit;

import com.github.benmanes.caffeine.cache.Cache;
import com.github.benmanes.caffeine.cache.Caffeine;
import com.github.benmanes.caffeine.cache.Expiry;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import io.portcullis.metrics.MetricNames;
import java.time.Duration;
import java.time.Instant;
import java.time.InstantSource;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Objects;
import org.jspecify.annotations.Nullable;

/**
 * {@code protect.failed_auth} in this process's memory: a fixed-window failure counter per source
 * (the window opens at the source's first failure) and a block table. Used for {@code
 * ratelimit.backend: memory} and as the fallback of the Redis protection while Redis is down.
 *
 * <p>Both tables are Caffeine caches bounded by {@code maximumSources}; a counter expires when its
 * window ends and a block when it is lifted, following the injected clock. Under a flood of
 * distinct sources the least valuable counters are evicted first (TinyLFU), so an attacker rotating
 * addresses cannot grow memory, only slow down its own blocking. {@link #blockedUntil} is one map
 * lookup.
 *
 * <p>Publishes {@code portcullis_blocked_sources} when given a registry. Thread-safe.
 */
public final class InMemorySourceProtection implements SourceProtection {
  private final InstantSource clock;
  private final Cache<String, FailureWindow> failures;
  private final Cache<String, BlockedSource> blocks;

  /** Failures of one source in the window that opened at its first failure. */
  private static final class FailureWindow {
    final Instant end;
    long count; // only changed inside the map's atomic compute for this key

    FailureWindow(Instant start, Duration window) {
      this.end = start.plus(window);
    }
  }

  private InMemorySourceProtection(Builder b) {
    this.clock = b.clock;
    this.failures =
        Caffeine.newBuilder()
            .maximumSize(b.maximumSources)
            .ticker(EpochNanos.ticker(clock))
            .executor(Runnable::run)
            .expireAfter(untilInstant((FailureWindow w) -> w.end))
            .build();
    this.blocks =
        Caffeine.newBuilder()
            .maximumSize(b.maximumSources)
            .ticker(EpochNanos.ticker(clock))
            .executor(Runnable::run)
            .expireAfter(untilInstant(BlockedSource::blockedUntil))
            .build();
    if (b.registry != null) {
      Gauge.builder(MetricNames.BLOCKED_SOURCES, this, p -> p.blocked().size())
          .description("Sources currently blocked by protect.failed_auth")
          .register(b.registry);
    }
  }

  public static Builder builder() {
    return new Builder();
  }

  @Override
  public @Nullable Instant blockedUntil(String key) {
    BlockedSource b = blocks.getIfPresent(key);
    if (b == null || !b.blockedUntil().isAfter(clock.instant())) {
      return null;
    }
    return b.blockedUntil();
  }

  @Override
  public void recordFailure(String key, int threshold, Duration window, Duration blockFor) {
    Instant now = clock.instant();
    if (blockedUntil(key) != null) {
      return; // already blocked: its failures are refused before identification anyway
    }
    long[] count = new long[1];
    FailureWindow w =
        failures
            .asMap()
            .compute(
                key,
                (k, old) -> {
                  FailureWindow current = fresh(old, now, window);
                  count[0] = ++current.count;
                  return current;
                });
    if (count[0] >= threshold) {
      blocks.put(key, new BlockedSource(key, now, now.plus(blockFor), count[0]));
      failures.asMap().remove(key, w);
    }
  }

  @Override
  public List<BlockedSource> blocked() {
    Instant now = clock.instant();
    List<BlockedSource> out = new ArrayList<>();
    for (BlockedSource b : blocks.asMap().values()) {
      if (b.blockedUntil().isAfter(now)) {
        out.add(b);
      }
    }
    out.sort(Comparator.comparing(BlockedSource::blockedAt).thenComparing(BlockedSource::key));
    return out;
  }

  @Override
  public boolean unblock(String key) {
    failures.invalidate(key);
    BlockedSource removed = blocks.asMap().remove(key);
    return removed != null && removed.blockedUntil().isAfter(clock.instant());
  }

  private static FailureWindow fresh(@Nullable FailureWindow old, Instant now, Duration window) {
    return old == null || !old.end.isAfter(now) ? new FailureWindow(now, window) : old;
  }

  /** Expire each entry at an instant taken from its value; reads do not extend it. */
  private static <V> Expiry<String, V> untilInstant(java.util.function.Function<V, Instant> at) {
    return new Expiry<>() {
      @Override
      public long expireAfterCreate(String key, V value, long currentTime) {
        return Math.max(0, EpochNanos.of(at.apply(value)) - currentTime);
      }

      @Override
      public long expireAfterUpdate(String key, V value, long currentTime, long currentDuration) {
        return Math.max(0, EpochNanos.of(at.apply(value)) - currentTime);
      }

      @Override
      public long expireAfterRead(String key, V value, long currentTime, long currentDuration) {
        return currentDuration;
      }
    };
  }

  /** Builds an {@link InMemorySourceProtection}; not thread-safe. */
  public static final class Builder {
    private InstantSource clock = InstantSource.system();
    private long maximumSources = 100_000;
    private @Nullable MeterRegistry registry;

    private Builder() {}

    public Builder clock(InstantSource clock) {
      this.clock = Objects.requireNonNull(clock, "clock");
      return this;
    }

    /** The most sources counted, and separately the most blocked, at once (default 100,000). */
    public Builder maximumSources(long maximumSources) {
      if (maximumSources <= 0) {
        throw new IllegalArgumentException("maximumSources must be positive");
      }
      this.maximumSources = maximumSources;
      return this;
    }

    /** Publish {@code portcullis_blocked_sources} here (default: no gauge). */
    public Builder meterRegistry(MeterRegistry registry) {
      this.registry = registry;
      return this;
    }

    public InMemorySourceProtection build() {
      return new InMemorySourceProtection(this);
    }
  }
}
