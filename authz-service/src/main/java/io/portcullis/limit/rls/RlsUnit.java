package io.portcullis.limit.rls;

import java.time.Duration;
import java.util.Locale;
import org.jspecify.annotations.Nullable;

/**
 * The time units of envoyproxy/ratelimit's {@code rate_limit.unit}. Windows are fixed and aligned
 * to the Unix epoch, with the lengths that project uses: a month is 30 days and a year 365 days
 * (not calendar months; that is what the policy's {@code quota:} is for).
 */
public enum RlsUnit {
  SECOND(1),
  MINUTE(60),
  HOUR(3_600),
  DAY(86_400),
  WEEK(604_800),
  MONTH(2_592_000),
  YEAR(31_536_000);

  private final long seconds;

  RlsUnit(long seconds) {
    this.seconds = seconds;
  }

  /** The window's length in seconds. */
  public long seconds() {
    return seconds;
  }

  public Duration length() {
    return Duration.ofSeconds(seconds);
  }

  /** Start (epoch second) of the window containing {@code epochSecond}. */
  public long windowStart(long epochSecond) {
    return Math.floorDiv(epochSecond, seconds) * seconds;
  }

  /** Seconds from {@code epochSecond} to the end of its window (1 to {@link #seconds()}). */
  public long untilReset(long epochSecond) {
    return seconds - Math.floorMod(epochSecond, seconds);
  }

  /** Parses a unit name in any case ({@code second}, {@code MINUTE}); {@code null} if unknown. */
  public static @Nullable RlsUnit parse(String name) {
    try {
      return valueOf(name.toUpperCase(Locale.ROOT));
    } catch (IllegalArgumentException e) {
      return null;
    }
  }
}
