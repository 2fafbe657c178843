package io.portcullis.limit;

import com.github.benmanes.caffeine.cache.Cache;
import com.github.benmanes.caffeine.cache.Caffeine;
import com.github.benmanes.caffeine.cache.Expiry;
import java.time.Duration;
import java.time.Instant;
import java.time.InstantSource;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Rate limits and quotas in this process's memory: GCRA for {@code rate:} limits (see {@link Gcra})
 * and calendar-window counters for {@code quota:} limits. Used for {@code ratelimit.backend:
 * memory} and as the per-instance fallback of {@code on_backend_failure: local}.
 *
 * <h2>Design note</h2>
 *
 * <ul>
 *   <li><b>Lock-free buckets.</b> A rate bucket is one {@link AtomicLong} holding its TAT in epoch
 *       nanoseconds; admitting is a compare-and-set loop. A quota bucket is an {@link AtomicLong}
 *       count per (bucket, window start) in {@link ExpiringCounters}, created to expire at the
 *       window's end (calendar windows in the limit's IANA zone, so a Berlin day across a DST
 *       change is 23 or 25 hours).
 *   <li><b>Bounded memory.</b> Rate buckets live in a Caffeine cache with a maximum size and a
 *       per-entry expire-after-access of {@code T·B}: by then the TAT is in the past, so an evicted
 *       idle bucket answers exactly like the full bucket that replaces it. Only size-based eviction
 *       of a busy bucket (more live buckets than {@code maximumBuckets}) forgets state, in the
 *       client's favour.
 *   <li><b>All-or-nothing.</b> {@link #acquire} first checks every bucket without writing; if any
 *       refuses, nothing was taken. Otherwise it takes from each bucket in order with
 *       compare-and-set; if a concurrent request took the last unit between check and take, the
 *       buckets already taken from are rolled back and the request is refused. A quota rollback is
 *       an exact decrement. A rate rollback restores the previous TAT by compare-and-set when no
 *       one else wrote in between, and otherwise subtracts the cost's {@code c·T}; that can credit
 *       at most {@code c} units too many, and only when the bucket ran full in the microseconds
 *       between take and rollback. A refused request never keeps anything.
 *   <li><b>Injected time.</b> "Now" comes from the {@link InstantSource}; tests advance a fake
 *       clock. Cache expiry follows the same clock.
 * </ul>
 *
 * <p>Thread-safe; never blocks and never throws for a well-formed request.
 */
public final class InMemoryGcraLimiter implements RateLimiter {
  private final InstantSource clock;
  private final Cache<String, RateCell> rates;
  private final ExpiringCounters quotas;

  /**
   * A rate bucket: its TAT (the inherited value), and how long it may sit idle before it is full
   * (T·B). Extending {@link AtomicLong} instead of holding one saves an object per bucket (16 bytes
   * of a bucket's ~220; measured by the load suite's footprint benchmark).
   */
  @SuppressWarnings("serial") // never serialized
  private static final class RateCell extends AtomicLong {
    volatile long idleNanos;

    RateCell(long idleNanos) {
      this.idleNanos = idleNanos;
    }
  }

  private InMemoryGcraLimiter(Builder b) {
    this.clock = b.clock;
    this.rates =
        Caffeine.newBuilder()
            .maximumSize(b.maximumBuckets)
            .ticker(EpochNanos.ticker(b.clock))
            .executor(Runnable::run)
            .expireAfter(
                new Expiry<String, RateCell>() {
                  @Override
                  public long expireAfterCreate(String key, RateCell cell, long currentTime) {
                    return cell.idleNanos;
                  }

                  @Override
                  public long expireAfterUpdate(
                      String key, RateCell cell, long currentTime, long currentDuration) {
                    return cell.idleNanos;
                  }

                  @Override
                  public long expireAfterRead(
                      String key, RateCell cell, long currentTime, long currentDuration) {
                    return cell.idleNanos;
                  }
                })
            .build();
    this.quotas = new ExpiringCounters(b.clock, b.maximumBuckets);
  }

  public static Builder builder() {
    return new Builder();
  }

  @Override
  public LimitOutcome acquire(List<LimitRequest> requests, boolean consume) {
    if (requests.isEmpty()) {
      return LimitOutcome.admitted(null);
    }
    Instant nowInstant = clock.instant();
    long now = EpochNanos.of(nowInstant);
    List<Slot> slots = new ArrayList<>(requests.size());
    List<BucketResult> checked = new ArrayList<>(requests.size());
    // check every bucket without writing: a refusal takes nothing from any bucket
    for (LimitRequest r : requests) {
      Slot slot = slot(r, nowInstant);
      slots.add(slot);
      checked.add(slot.check(now, nowInstant));
    }
    LimitOutcome outcome = BucketResult.outcome(checked);
    if (!outcome.admitted() || !consume) {
      return outcome;
    }
    // take from each bucket in order; if a concurrent request won a race, give back and refuse
    List<BucketResult> taken = new ArrayList<>(slots.size());
    for (int i = 0; i < slots.size(); i++) {
      BucketResult r = slots.get(i).take(now, nowInstant);
      if (!r.admitted()) {
        for (int j = i - 1; j >= 0; j--) {
          slots.get(j).giveBack();
        }
        return BucketResult.refused(r);
      }
      taken.add(r);
    }
    return BucketResult.outcome(taken);
  }

  @Override
  public LimitUsage usage(LimitDefinition limit, String bucket) {
    Instant nowInstant = clock.instant();
    long now = EpochNanos.of(nowInstant);
    String id = limit.bucketId(bucket);
    return switch (limit.kind()) {
      case LimitKind.Rate rate -> {
        RateCell cell = rates.getIfPresent(id);
        long tat = cell == null ? 0 : cell.get();
        long available = Gcra.available(tat, now, rate.emissionIntervalNanos(), rate.burst());
        Instant full = nowInstant.plusNanos(Math.max(0, tat - now));
        yield new LimitUsage(
            limit, bucket, rate.burst() - available, rate.burst(), available, full);
      }
      case LimitKind.Quota quota -> {
        Instant start = quota.windowStart(nowInstant);
        long used = quotas.get(quotaKey(id, start));
        yield new LimitUsage(
            limit,
            bucket,
            used,
            quota.permits(),
            Math.max(0, quota.permits() - used),
            quota.windowEnd(nowInstant));
      }
    };
  }

  /** Live rate buckets plus live quota counters (after expiry); for tests and diagnostics. */
  public long liveBuckets() {
    rates.cleanUp();
    return rates.estimatedSize() + quotas.size();
  }

  private Slot slot(LimitRequest r, Instant now) {
    String id = r.limit().bucketId(r.bucket());
    return switch (r.limit().kind()) {
      case LimitKind.Rate rate -> {
        long idle = Gcra.saturatedMultiply(rate.emissionIntervalNanos(), rate.burst());
        RateCell cell = rates.get(id, k -> new RateCell(idle));
        if (cell.idleNanos != idle) {
          cell.idleNanos = idle; // the policy changed this limit's rate
        }
        yield new RateSlot(r, rate, cell);
      }
      case LimitKind.Quota quota -> {
        Instant start = quota.windowStart(now);
        Instant end = quota.windowEnd(now);
        yield new QuotaSlot(r, quota, quotas.counter(quotaKey(id, start), end), start, end);
      }
    };
  }

  private static String quotaKey(String bucketId, Instant windowStart) {
    return bucketId + '@' + windowStart.getEpochSecond();
  }

  /** One bucket of one acquire: check, take, and give back what was taken. */
  private sealed interface Slot permits RateSlot, QuotaSlot {
    BucketResult check(long now, Instant nowInstant);

    BucketResult take(long now, Instant nowInstant);

    void giveBack();
  }

  private static final class RateSlot implements Slot {
    private final LimitRequest request;
    private final LimitKind.Rate rate;
    private final AtomicLong tat;
    private long before;
    private long after;

    RateSlot(LimitRequest request, LimitKind.Rate rate, AtomicLong tat) {
      this.request = request;
      this.rate = rate;
      this.tat = tat;
    }

    @Override
    public BucketResult check(long now, Instant nowInstant) {
      return result(
          Gcra.check(tat.get(), now, request.cost(), rate.emissionIntervalNanos(), rate.burst()));
    }

    @Override
    public BucketResult take(long now, Instant nowInstant) {
      while (true) {
        long current = tat.get();
        Gcra.Result r =
            Gcra.check(current, now, request.cost(), rate.emissionIntervalNanos(), rate.burst());
        if (!r.admitted() || tat.compareAndSet(current, r.tat())) {
          before = current;
          after = r.tat();
          return result(r);
        }
      }
    }

    @Override
    public void giveBack() {
      if (!tat.compareAndSet(after, before)) {
        tat.addAndGet(-Gcra.saturatedMultiply(request.cost(), rate.emissionIntervalNanos()));
      }
    }

    private BucketResult result(Gcra.Result r) {
      return BucketResult.rate(
          request,
          rate,
          r.admitted(),
          r.remaining(),
          Duration.ofNanos(r.reset()),
          Duration.ofNanos(r.retryAfter()));
    }
  }

  private static final class QuotaSlot implements Slot {
    private final LimitRequest request;
    private final LimitKind.Quota quota;
    private final AtomicLong count;
    private final Instant start;
    private final Instant end;

    QuotaSlot(
        LimitRequest request, LimitKind.Quota quota, AtomicLong count, Instant start, Instant end) {
      this.request = request;
      this.quota = quota;
      this.count = count;
      this.start = start;
      this.end = end;
    }

    @Override
    public BucketResult check(long now, Instant nowInstant) {
      long used = count.get();
      return result(used + request.cost() <= quota.permits(), used, nowInstant);
    }

    @Override
    public BucketResult take(long now, Instant nowInstant) {
      while (true) {
        long used = count.get();
        if (used + request.cost() > quota.permits()) {
          return result(false, used, nowInstant);
        }
        if (count.compareAndSet(used, used + request.cost())) {
          return result(true, used, nowInstant);
        }
      }
    }

    @Override
    public void giveBack() {
      count.addAndGet(-request.cost());
    }

    private BucketResult result(boolean admitted, long usedBefore, Instant now) {
      long remaining =
          admitted
              ? quota.permits() - usedBefore - request.cost()
              : Math.max(0, quota.permits() - usedBefore);
      return BucketResult.quota(request, quota, admitted, remaining, start, end, now);
    }
  }

  /** Builds an {@link InMemoryGcraLimiter}; not thread-safe. */
  public static final class Builder {
    private InstantSource clock = InstantSource.system();
    private long maximumBuckets = 1_000_000;

    private Builder() {}

    /** The time source (default: the system clock). */
    public Builder clock(InstantSource clock) {
      this.clock = Objects.requireNonNull(clock, "clock");
      return this;
    }

    /**
     * The most rate buckets, and separately the most quota counters, kept at once (default
     * 1,000,000); each costs roughly 100 bytes.
     */
    public Builder maximumBuckets(long maximumBuckets) {
      if (maximumBuckets <= 0) {
        throw new IllegalArgumentException("maximumBuckets must be positive");
      }
      this.maximumBuckets = maximumBuckets;
      return this;
    }

    public InMemoryGcraLimiter build() {
      return new InMemoryGcraLimiter(this);
    }
  }
}
