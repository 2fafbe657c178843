package io.portcullis.limit;

import java.time.Duration;
import java.time.Instant;
import java.time.ZoneId;

/** The two kinds of limit in the spec: a GCRA rate with burst, and a calendar-window quota. */
public sealed interface LimitKind permits LimitKind.Rate, LimitKind.Quota {

  /**
   * {@code rate: N/s|m|h} with optional {@code burst}: at most {@code burst} at once, refilling at
   * {@code permits} per {@code period} (GCRA, leaky bucket as a meter).
   */
  record Rate(long permits, Duration period, long burst) implements LimitKind {
    public Rate {
      if (permits <= 0 || burst <= 0 || period.isNegative() || period.isZero()) {
        throw new IllegalArgumentException("rate, burst and period must be positive");
      }
    }

    /** Nanoseconds between two admitted requests at the steady rate (GCRA emission interval). */
    public long emissionIntervalNanos() {
      return Math.max(1, period.toNanos() / permits);
    }
  }

  /**
   * {@code quota: N/minute|hour|day|month}: a counter over a calendar window in {@code zone} (a
   * real day or month, not 24 h or 30 days).
   */
  record Quota(long permits, QuotaWindow window, ZoneId zone) implements LimitKind {
    public Quota {
      if (permits <= 0) {
        throw new IllegalArgumentException("quota must be positive");
      }
    }

    /** Start of the calendar window containing {@code now}. */
    public Instant windowStart(Instant now) {
      return window.start(now, zone).toInstant();
    }

    /** End of the calendar window containing {@code now} (start of the next one). */
    public Instant windowEnd(Instant now) {
      return window.next(now.atZone(zone)).toInstant();
    }
  }
}
