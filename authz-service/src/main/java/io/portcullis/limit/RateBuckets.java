package io.portcullis.limit;

import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.ReentrantLock;
import org.jspecify.annotations.Nullable;

/**
 * The rate buckets of {@link InMemoryGcraLimiter}: one TAT per bucket, bounded in number, with
 * stale buckets swept lazily.
 *
 * <h2>Design note</h2>
 *
 * <ul>
 *   <li><b>Layout.</b> One {@link ConcurrentHashMap} per limit (scope and name), keyed by the
 *       request's bucket string as it comes (no {@code scope/name|} prefix per bucket), whose value
 *       is an {@link AtomicLong} holding the TAT in epoch nanoseconds. Per bucket: the key string
 *       (56 B for an IPv4 address), the map node (32 B), its table slot (~8 B) and the cell (24 B),
 *       about 120 B. The Caffeine cache this replaces cost ~200 B: a longer key, a 48 B node and a
 *       per-bucket idle time. Caffeine cannot drop its node, and GCRA does not need its expiry.
 *   <li><b>Stale is absent.</b> A bucket whose TAT is at or before now answers exactly like a
 *       missing one (see {@link Gcra}), so removing it changes no answer. There are no timers: a
 *       sweep walks every map and removes the stale buckets.
 *   <li><b>Removal never loses an admit.</b> A sweep first moves a stale cell's TAT to {@link
 *       #DEAD} by compare-and-set and only then removes that key-cell pair. A concurrent taker
 *       either wins the compare-and-set (the sweep then keeps the bucket) or reads {@code DEAD},
 *       unlinks the cell and creates a new one, which starts full, as the stale one was.
 *   <li><b>Sweeps are amortized.</b> Creating a bucket when the count is at the sweep threshold
 *       sweeps (one thread at a time; the others go on). The threshold then becomes twice the
 *       surviving count (at least 1,024, at most the maximum), so sweep work grows with the number
 *       of buckets created, not with the number of checks. A sweep is not started while it cannot
 *       free anything (before the earliest TAT it left behind, unless buckets were created since),
 *       nor within ten times its own duration after the last one, so even a flood of new keys
 *       against a full table spends at most about a tenth of a core on sweeping.
 *   <li><b>When full.</b> There are never more than {@code maximum} buckets. When every bucket is
 *       live and no sweep is due, a new bucket is not created ({@link Table#getOrCreate} returns
 *       {@code null}) and the limiter refuses that request: new keys fail closed, with a
 *       Retry-After of at least the time until the next sweep may run. A live bucket is never
 *       evicted, since that would hand its client a fresh burst; existing buckets keep their exact
 *       state.
 * </ul>
 *
 * <p>Thread-safe and lock-free apart from the sweep, which runs on the creating thread under a
 * {@code tryLock}. Maps of limits removed from the policy empty out by sweeps; the empty maps stay.
 */
final class RateBuckets {
  /** The TAT of a cell removed by a sweep: a taker that reads it must look the bucket up again. */
  static final long DEAD = Long.MIN_VALUE;

  private static final long MIN_SWEEP_THRESHOLD = 1024;
  private static final long SWEEP_COOLDOWN_FACTOR = 10;

  /** The identity of a limit's buckets: the same as the Redis key prefix, scope plus name. */
  private record LimitId(String scope, String name) {}

  private final ConcurrentHashMap<LimitId, Table> tables = new ConcurrentHashMap<>();
  private final long maximum;
  private final AtomicLong size = new AtomicLong();
  private final ReentrantLock sweepLock = new ReentrantLock();

  /** No bucket can be stale before this (epoch ns); lowered by every bucket created. */
  private final AtomicLong earliestStale = new AtomicLong(Long.MIN_VALUE);

  private volatile long sweepThreshold;
  private volatile long cooldownUntil = Long.MIN_VALUE;

  RateBuckets(long maximum) {
    if (maximum <= 0) {
      throw new IllegalArgumentException("maximum must be positive");
    }
    this.maximum = maximum;
    this.sweepThreshold = Math.min(maximum, MIN_SWEEP_THRESHOLD);
  }

  /** The buckets of {@code limit} (created empty on first use). */
  Table of(LimitDefinition limit) {
    LimitId id = new LimitId(limit.scope(), limit.name());
    Table t = tables.get(id);
    return t != null ? t : tables.computeIfAbsent(id, k -> new Table());
  }

  /** Buckets held, stale ones not yet swept included. */
  long size() {
    return size.get();
  }

  /** Buckets whose TAT is after {@code now}; walks every bucket. */
  long live(long now) {
    long live = 0;
    for (Table t : tables.values()) {
      for (AtomicLong cell : t.cells.values()) {
        if (cell.get() > now) {
          live++;
        }
      }
    }
    return live;
  }

  /**
   * Whether a new bucket would find no room now: as many buckets as allowed, and no sweep due that
   * could free one ({@link Table#getOrCreate} would answer {@code null}). Creates nothing.
   */
  boolean full(long now) {
    return size.get() >= maximum && !sweepDue(now);
  }

  /** Nanoseconds from {@code now} until a sweep may run again (0 if it may now). */
  long untilSweepDue(long now) {
    long due = Math.max(earliestStale.get(), cooldownUntil);
    return Math.max(0, Gcra.saturatedAdd(due, -now));
  }

  /** One limit's buckets. */
  final class Table {
    private final ConcurrentHashMap<String, AtomicLong> cells = new ConcurrentHashMap<>();

    private Table() {}

    /** The bucket's cell, or {@code null} if it has none (a full bucket). */
    @Nullable AtomicLong find(String bucket) {
      return cells.get(bucket);
    }

    /**
     * The bucket's cell, created full if absent; {@code null} if there is no room for a new bucket
     * (every bucket live and no sweep due). The returned cell may turn {@link #DEAD} at any time
     * while its TAT is not after now: the caller then {@link #unlink}s it and asks again.
     */
    @Nullable AtomicLong getOrCreate(String bucket, long now) {
      AtomicLong cell = cells.get(bucket);
      if (cell != null) {
        return cell;
      }
      if (!reserve(now)) {
        return null;
      }
      lowerEarliestStale(now);
      AtomicLong fresh = new AtomicLong();
      AtomicLong raced = cells.putIfAbsent(bucket, fresh);
      if (raced != null) {
        size.decrementAndGet();
        return raced;
      }
      return fresh;
    }

    /** Removes a {@link #DEAD} cell if it is still the bucket's. */
    void unlink(String bucket, AtomicLong cell) {
      if (cells.remove(bucket, cell)) {
        size.decrementAndGet();
      }
    }
  }

  /** Counts one more bucket if there is room, sweeping first when due. */
  private boolean reserve(long now) {
    while (true) {
      long s = size.get();
      if (s >= sweepThreshold) {
        trySweep(now);
        s = size.get();
      }
      if (s >= maximum) {
        return false;
      }
      if (size.compareAndSet(s, s + 1)) {
        return true;
      }
    }
  }

  private void lowerEarliestStale(long now) {
    if (now < earliestStale.get()) {
      earliestStale.accumulateAndGet(now, Math::min);
    }
  }

  private boolean sweepDue(long now) {
    return size.get() >= sweepThreshold && now >= earliestStale.get() && now >= cooldownUntil;
  }

  private void trySweep(long now) {
    if (!sweepDue(now) || !sweepLock.tryLock()) {
      return;
    }
    try {
      if (sweepDue(now)) { // not swept by another thread in the meantime
        sweep(now);
      }
    } finally {
      sweepLock.unlock();
    }
  }

  /** Removes every bucket whose TAT is at or before {@code now}; under {@link #sweepLock}. */
  private void sweep(long now) {
    long started = System.nanoTime();
    earliestStale.set(Long.MAX_VALUE); // buckets created during the sweep lower it again
    Survivors survivors = new Survivors();
    for (Table t : tables.values()) {
      // forEach, not an entry iterator: it allocates nothing per bucket
      t.cells.forEach(
          (bucket, cell) -> {
            long tat = cell.get();
            if (tat <= now && (tat == DEAD || cell.compareAndSet(tat, DEAD))) {
              t.unlink(bucket, cell);
            } else {
              survivors.count++;
              survivors.earliest = Math.min(survivors.earliest, cell.get()); // a taker won
            }
          });
    }
    earliestStale.accumulateAndGet(survivors.earliest, Math::min);
    long took = System.nanoTime() - started;
    cooldownUntil = Gcra.saturatedAdd(now, Gcra.saturatedMultiply(SWEEP_COOLDOWN_FACTOR, took));
    sweepThreshold =
        Math.min(
            maximum, Math.max(MIN_SWEEP_THRESHOLD, Gcra.saturatedMultiply(2, survivors.count)));
  }

  /** What a sweep left behind. */
  private static final class Survivors {
    long count;
    long earliest = Long.MAX_VALUE;
  }
}
