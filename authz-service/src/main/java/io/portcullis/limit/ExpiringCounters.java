package io.portcullis.limit;

import com.github.benmanes.caffeine.cache.Cache;
import com.github.benmanes.caffeine.cache.Caffeine;
import com.github.benmanes.caffeine.cache.Expiry;
import java.time.Instant;
import java.time.InstantSource;
import java.util.concurrent.atomic.AtomicLong;

/**
 * In-memory counters that disappear at an instant fixed when they are created (the end of the
 * calendar or fixed window they count), bounded in number. The in-memory quota buckets and the
 * in-memory Envoy rate limit service counters both use it.
 *
 * <p>Thread-safe and lock-free per counter (an {@link AtomicLong}). Expiry follows the injected
 * clock. When more than {@code maximumSize} counters are live, Caffeine evicts the least valuable
 * ones (TinyLFU), which forgets their counts: size it above the number of buckets one window sees.
 */
public final class ExpiringCounters {
  private final Cache<String, Counter> counters;

  /** One counter and the epoch-nanosecond instant it expires at. */
  private record Counter(AtomicLong value, long expiresAtNanos) {}

  public ExpiringCounters(InstantSource clock, long maximumSize) {
    this.counters =
        Caffeine.newBuilder()
            .maximumSize(maximumSize)
            .ticker(EpochNanos.ticker(clock))
            .executor(Runnable::run)
            .expireAfter(
                new Expiry<String, Counter>() {
                  @Override
                  public long expireAfterCreate(String key, Counter c, long currentTime) {
                    return Math.max(0, c.expiresAtNanos - currentTime);
                  }

                  @Override
                  public long expireAfterUpdate(
                      String key, Counter c, long currentTime, long currentDuration) {
                    return Math.max(0, c.expiresAtNanos - currentTime);
                  }

                  @Override
                  public long expireAfterRead(
                      String key, Counter c, long currentTime, long currentDuration) {
                    return currentDuration;
                  }
                })
            .build();
  }

  /**
   * The live counter for {@code key}, created at zero (expiring at {@code expiresAt}) if absent or
   * expired. Callers update the returned value atomically.
   */
  public AtomicLong counter(String key, Instant expiresAt) {
    long expires = EpochNanos.of(expiresAt);
    return counters.get(key, k -> new Counter(new AtomicLong(), expires)).value();
  }

  /** The value of {@code key}'s live counter, or 0. */
  public long get(String key) {
    Counter c = counters.getIfPresent(key);
    return c == null ? 0 : c.value().get();
  }

  /** Live counters (approximate, after pending expiry is applied); for tests and gauges. */
  public long size() {
    counters.cleanUp();
    return counters.estimatedSize();
  }
}
