package io.portcullis.limit;

import com.github.benmanes.caffeine.cache.Cache;
import com.github.benmanes.caffeine.cache.Caffeine;
import com.github.benmanes.caffeine.cache.Expiry;
import java.time.Instant;
import java.time.InstantSource;
import java.util.concurrent.atomic.AtomicLong;
import org.jspecify.annotations.Nullable;

/**
 * In-memory counters that disappear at an instant fixed when they are created (the end of the
 * calendar or fixed window they count), bounded in number. The in-memory quota buckets and the
 * in-memory Envoy rate limit service counters both use it.
 *
 * <p>Thread-safe and lock-free per counter (an {@link AtomicLong}). Expiry follows the injected
 * clock. At most about {@code maximumSize} counters are held (concurrent creations may pass it by a
 * few): when that many are live, {@link #counter} creates none and answers {@code null}, and the
 * caller refuses the request that needed it. A live counter is never evicted, since one that came
 * back at zero would hand its client a fresh quota, so a flood of new keys could reset everyone's.
 */
public final class ExpiringCounters {
  private final Cache<String, Counter> counters;
  private final long maximumSize;
  private final com.github.benmanes.caffeine.cache.Ticker ticker;

  /** Clean-ups of a full table happen at most this often (on the cache's own clock). */
  private static final long CLEAN_UP_EVERY_NANOS = 100_000_000L;

  private final java.util.concurrent.atomic.AtomicLong lastCleanUp =
      new java.util.concurrent.atomic.AtomicLong(Long.MIN_VALUE);

  /** One counter and the epoch-nanosecond instant it expires at. */
  private record Counter(AtomicLong value, long expiresAtNanos) {}

  public ExpiringCounters(InstantSource clock, long maximumSize) {
    if (maximumSize <= 0) {
      throw new IllegalArgumentException("maximumSize must be positive");
    }
    this.maximumSize = maximumSize;
    this.ticker = EpochNanos.ticker(clock);
    this.counters =
        Caffeine.newBuilder()
            .ticker(ticker)
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
   * expired; {@code null} if it would have to be created and {@code maximumSize} counters are live.
   * Callers update the returned value atomically.
   */
  public @Nullable AtomicLong counter(String key, Instant expiresAt) {
    AtomicLong live = find(key);
    if (live != null) {
      return live;
    }
    if (full()) {
      return null;
    }
    long expires = EpochNanos.of(expiresAt);
    return counters.get(key, k -> new Counter(new AtomicLong(), expires)).value();
  }

  /**
   * Whether a new counter would find no room: {@code maximumSize} counters live ({@link #counter}
   * would answer {@code null} for a new key). Creates none.
   */
  public boolean full() {
    if (counters.estimatedSize() < maximumSize) {
      return false;
    }
    // Drop the expired ones first (only live counters make it full), but at most every 100 ms:
    // under a flood of new keys every miss would otherwise take Caffeine's maintenance lock.
    long now = ticker.read();
    long last = lastCleanUp.get();
    if ((last == Long.MIN_VALUE || now - last >= CLEAN_UP_EVERY_NANOS)
        && lastCleanUp.compareAndSet(last, now)) {
      counters.cleanUp();
    }
    return counters.estimatedSize() >= maximumSize;
  }

  /** The live counter for {@code key}, or {@code null}; creates none. */
  public @Nullable AtomicLong find(String key) {
    Counter c = counters.getIfPresent(key);
    return c == null ? null : c.value();
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
