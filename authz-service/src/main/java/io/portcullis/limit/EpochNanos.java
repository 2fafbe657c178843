package io.portcullis.limit;

import com.github.benmanes.caffeine.cache.Ticker;
import java.time.Instant;
import java.time.InstantSource;

/**
 * The in-memory backends' single time base: nanoseconds since the epoch, read from the injected
 * {@link InstantSource} (so tests move time with a fake clock, and quotas and rates agree on
 * "now"). A {@code long} holds epoch nanoseconds until the year 2262.
 */
public final class EpochNanos {
  private EpochNanos() {}

  /** {@code t} in nanoseconds since the epoch. */
  public static long of(Instant t) {
    return Math.addExact(Math.multiplyExact(t.getEpochSecond(), 1_000_000_000L), t.getNano());
  }

  /** A Caffeine ticker that reads {@code clock}, so cache expiry follows the injected time. */
  public static Ticker ticker(InstantSource clock) {
    return () -> of(clock.instant());
  }
}
