package io.portcullis.limit.rls;

import io.portcullis.limit.ExpiringCounters;
import io.portcullis.limit.InMemoryGcraLimiter;
import java.time.Instant;
import java.time.InstantSource;
import java.util.List;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Fixed-window counters in this process's memory ({@link ExpiringCounters}): exact for one
 * instance, and the per-instance fallback of the Redis counters. Thread-safe; never throws.
 */
public final class InMemoryFixedWindowCounters implements FixedWindowCounters {
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
   * Long#MAX_VALUE} (over any limit) with {@link Totals#degraded()} {@value
   * InMemoryGcraLimiter#FULL_LABEL}; no live counter is evicted for it. A hit of 0 on a missing
   * counter reads 0 and creates none.
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
        out[i] = Long.MAX_VALUE;
        degraded = InMemoryGcraLimiter.FULL_LABEL;
      }
    }
    return new Totals(out, degraded);
  }
}
