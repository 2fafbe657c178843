package io.portcullis.limit.rls;

import io.portcullis.limit.ExpiringCounters;
import io.portcullis.limit.InMemoryGcraLimiter;
import java.time.Duration;
import java.time.Instant;
import java.time.InstantSource;
import java.util.List;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Fixed-window counters in this process's memory ({@link ExpiringCounters}): exact for one
 * instance, and the per-instance fallback of the Redis counters. Thread-safe; never throws.
 */
public final class InMemoryFixedWindowCounters implements FixedWindowCounters {
  /**
   * When a hit refused for want of room may try again: the in-memory limiter's wait for a full
   * table, 1 s.
   */
  static final Duration FULL_RETRY_AFTER = Duration.ofSeconds(1);

  private final InstantSource clock;
  private final ExpiringCounters counters;

  /**
   * @param clock the time source for expiry
   * @param maximumCounters the most live counters (none is evicted: see {@link #add})
   */
  public InMemoryFixedWindowCounters(InstantSource clock, long maximumCounters) {
    this.clock = clock;
    this.counters = new ExpiringCounters(clock, maximumCounters);
  }

  /**
   * {@inheritDoc}
   *
   * <p>A hit that needs a new counter when {@code maximumCounters} are live is answered {@link
   * #REFUSED} with {@link Totals#degraded()} {@value InMemoryGcraLimiter#FULL_LABEL} and {@link
   * Totals#retryAfter()} 1 s; no live counter is evicted for it. A hit of 0 on a missing counter
   * reads 0 and creates none.
   */
  @Override
  public Totals add(List<Hit> hits) {
    Instant now = clock.instant();
    long[] out = new long[hits.size()];
    String degraded = null;
    for (int i = 0; i < out.length; i++) {
      Hit h = hits.get(i);
      AtomicLong counter =
          h.amount() == 0 ? counters.find(h.key()) : counters.counter(h.key(), now.plus(h.ttl()));
      if (counter != null) {
        out[i] = counter.addAndGet(h.amount());
      } else if (h.amount() > 0) {
        out[i] = REFUSED;
        degraded = InMemoryGcraLimiter.FULL_LABEL;
      }
    }
    return degraded == null ? Totals.counted(out) : new Totals(out, degraded, FULL_RETRY_AFTER);
  }
}
