package io.portcullis.limit.rls;

import io.portcullis.limit.ExpiringCounters;
import java.time.Instant;
import java.time.InstantSource;
import java.util.List;

/**
 * Fixed-window counters in this process's memory ({@link ExpiringCounters}): exact for one
 * instance, and the per-instance fallback of the Redis counters. Thread-safe; never throws.
 */
public final class InMemoryFixedWindowCounters implements FixedWindowCounters {
  private final InstantSource clock;
  private final ExpiringCounters counters;

  /**
   * @param clock the time source for expiry
   * @param maximumCounters the most live counters (least valuable evicted first)
   */
  public InMemoryFixedWindowCounters(InstantSource clock, long maximumCounters) {
    this.clock = clock;
    this.counters = new ExpiringCounters(clock, maximumCounters);
  }

  @Override
  public Totals add(List<Hit> hits) {
    Instant now = clock.instant();
    long[] out = new long[hits.size()];
    for (int i = 0; i < out.length; i++) {
      Hit h = hits.get(i);
      out[i] = counters.counter(h.key(), now.plus(h.ttl())).addAndGet(h.amount());
    }
    return new Totals(out, null);
  }
}
