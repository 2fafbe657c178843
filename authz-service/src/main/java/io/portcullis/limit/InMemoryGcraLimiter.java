package io.portcullis.limit;

import io.micrometer.core.instrument.FunctionCounter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import io.portcullis.metrics.MetricNames;
import java.time.Duration;
import java.time.Instant;
import java.time.InstantSource;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.LongAdder;
import org.jspecify.annotations.Nullable;

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
 *   <li><b>Bounded memory.</b> Rate buckets live in {@link RateBuckets}: one map per limit, at most
 *       {@code maximumBuckets} buckets, stale ones (TAT in the past, which GCRA treats as absent)
 *       swept lazily, so removing them changes no answer. A bucket is only created when a request
 *       takes from it; looking ({@code consume = false}) and refusals create none.
 *   <li><b>When full.</b> If every one of the {@code maximumBuckets} rate buckets is live, a
 *       request that needs a new bucket is refused ({@code rate_limited}, {@link
 *       LimitOutcome.Refusal#LIMITER_FULL} with {@link LimitOutcome#degraded()} {@value
 *       #FULL_LABEL} so the audit record says why) and takes nothing; requests to existing buckets
 *       are answered exactly as before. No live bucket is evicted, as that would give its client a
 *       fresh burst. Quota counters work the same way: when {@code maximumBuckets} of them are
 *       live, a request that needs a new one is refused ({@code quota_exceeded}, same label,
 *       Retry-After 1 s) instead of evicting a live count, which would hand its client its quota
 *       back. The limit was not checked, so the refusal reports it as {@link
 *       LimitStatus#unavailable} does (nothing remaining, reset = Retry-After), not the missing
 *       bucket's state. Looking ({@code consume = false}, explain) reports the same refusal without
 *       counting it; {@link #refusedWhenFull()} counts the others. A request whose other limit is
 *       found exhausted is refused for that limit ({@link LimitOutcome.Refusal#EXHAUSTED}, its
 *       reason, status and Retry-After, no label, not counted): room for the new bucket would not
 *       have admitted it.
 *   <li><b>All-or-nothing.</b> {@link #acquire} first checks every bucket without writing; if any
 *       refuses, nothing was taken (a request with one bucket skips the check: taking from one
 *       bucket already refuses without writing). Otherwise it takes from each bucket in order with
 *       compare-and-set; if a concurrent request took the last unit between check and take (or a
 *       new bucket found no room), the buckets already taken from are rolled back and the request
 *       is refused. A quota rollback is an exact decrement. A rate rollback restores the previous
 *       TAT by compare-and-set when no one else wrote in between, and otherwise subtracts the
 *       cost's {@code c·T}; that can credit at most {@code c} units too many, and only when the
 *       bucket ran full in the microseconds between take and rollback. A refused request never
 *       keeps anything.
 *   <li><b>Injected time.</b> "Now" comes from the {@link InstantSource}; tests advance a fake
 *       clock. Staleness and quota expiry follow the same clock.
 * </ul>
 *
 * <p>Thread-safe; never blocks and never throws for a well-formed request.
 */
public final class InMemoryGcraLimiter implements RateLimiter {
  /** {@link LimitOutcome#degraded()} of a request refused because no new bucket fits. */
  public static final String FULL_LABEL = "ratelimit_memory:full";

  private static final long MIN_FULL_RETRY_NANOS = 1_000_000_000L;

  private final InstantSource clock;
  private final RateBuckets rates;
  private final ExpiringCounters quotas;
  private final LongAdder refusedWhenFull = new LongAdder();

  private InMemoryGcraLimiter(Builder b) {
    this.clock = b.clock;
    this.rates = new RateBuckets(b.maximumBuckets);
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
    if (consume && requests.size() == 1) {
      // one bucket: take refuses without writing, so a check first would only repeat it
      Slot slot = slot(requests.get(0), nowInstant);
      BucketResult r = slot.take(now, nowInstant);
      return r.admitted() ? LimitOutcome.admitted(r.status()) : refused(slot, r, true);
    }
    List<Slot> slots = new ArrayList<>(requests.size());
    List<BucketResult> checked = new ArrayList<>(requests.size());
    // check every bucket without writing: a refusal takes nothing from any bucket
    for (LimitRequest r : requests) {
      Slot slot = slot(r, nowInstant);
      slots.add(slot);
      checked.add(slot.check(now, nowInstant));
    }
    int refusing = refusing(slots, checked);
    if (refusing >= 0) {
      return refused(slots.get(refusing), checked.get(refusing), consume);
    }
    if (!consume) {
      return BucketResult.outcome(checked);
    }
    // take from each bucket in order; if a concurrent request won a race, give back and refuse
    List<BucketResult> taken = new ArrayList<>(slots.size());
    for (int i = 0; i < slots.size(); i++) {
      BucketResult r = slots.get(i).take(now, nowInstant);
      if (!r.admitted()) {
        for (int j = i - 1; j >= 0; j--) {
          slots.get(j).giveBack();
        }
        return refused(slots.get(i), r, true);
      }
      taken.add(r);
    }
    return BucketResult.outcome(taken);
  }

  /**
   * The index of the refusal to report among {@code checked}, or -1 when every bucket had room. A
   * limit found exhausted refuses the request whatever room there is, so it comes first: the
   * exhausted bucket with the longest wait ({@link BucketResult#refusing}), with its own reason,
   * status and Retry-After. A bucket that had no room to be created is reported only when no limit
   * is exhausted: its own limit was not checked, and room for it would not have admitted the
   * request anyway.
   */
  private static int refusing(List<Slot> slots, List<BucketResult> checked) {
    int refusing = -1;
    for (int i = 0; i < checked.size(); i++) {
      BucketResult r = checked.get(i);
      if (!r.admitted()
          && (refusing < 0
              || precedes(slots.get(i), r, slots.get(refusing), checked.get(refusing)))) {
        refusing = i;
      }
    }
    return refusing;
  }

  /**
   * Whether refusal {@code r} of {@code slot} is reported before {@code other} of {@code
   * otherSlot}.
   */
  private static boolean precedes(Slot slot, BucketResult r, Slot otherSlot, BucketResult other) {
    if (slot.noRoom() != otherSlot.noRoom()) {
      return otherSlot.noRoom(); // exhausted before not checked
    }
    return r.retryAfter().compareTo(other.retryAfter()) > 0; // the longest wait, as outcome does
  }

  /**
   * The outcome of a request that {@code slot} refused ({@code r}); says so if for lack of room,
   * counting it in {@link #refusedWhenFull()} when {@code counted} (not when only looking).
   */
  private LimitOutcome refused(Slot slot, BucketResult r, boolean counted) {
    LimitOutcome refused = BucketResult.refused(r);
    if (!slot.noRoom()) {
      return refused;
    }
    if (counted) {
      refusedWhenFull.increment();
    }
    return new LimitOutcome(
        LimitOutcome.Refusal.LIMITER_FULL,
        refused.reason(),
        refused.exceeded(),
        refused.tightest(),
        refused.retryAfter(),
        FULL_LABEL);
  }

  @Override
  public LimitUsage usage(LimitDefinition limit, String bucket) {
    Instant nowInstant = clock.instant();
    long now = EpochNanos.of(nowInstant);
    return switch (limit.kind()) {
      case LimitKind.Rate rate -> {
        AtomicLong cell = rates.of(limit).find(bucket);
        long tat =
            cell == null
                ? 0
                : Math.max(
                    0, Gcra.clampTat(cell.get(), now, rate.emissionIntervalNanos(), rate.burst()));
        long available = Gcra.available(tat, now, rate.emissionIntervalNanos(), rate.burst());
        Instant full = nowInstant.plusNanos(Math.max(0, tat - now));
        yield new LimitUsage(
            limit, bucket, rate.burst() - available, rate.burst(), available, full);
      }
      case LimitKind.Quota quota -> {
        Instant start = quota.windowStart(nowInstant);
        long used = quotas.get(quotaKey(limit.bucketId(bucket), start));
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

  /**
   * Live rate buckets (TAT after now) plus live quota counters (after expiry); walks every rate
   * bucket, for tests and diagnostics.
   */
  public long liveBuckets() {
    return rates.live(EpochNanos.of(clock.instant())) + quotas.size();
  }

  /** Requests refused because every rate bucket (or quota counter) was live and one was needed. */
  public long refusedWhenFull() {
    return refusedWhenFull.sum();
  }

  /** Rate buckets held, stale ones not yet swept included; at most {@code maximumBuckets}. */
  public long rateBucketsHeld() {
    return rates.size();
  }

  /**
   * Publishes {@code portcullis_ratelimit_memory_buckets} (rate buckets held) and {@code
   * portcullis_ratelimit_memory_full_refusals_total} ({@link #refusedWhenFull()}), so an operator
   * can alert before and when the table fills.
   *
   * @param role {@code primary} for the memory backend, {@code fallback} for the local limiter
   *     behind Redis
   */
  public InMemoryGcraLimiter bindMetrics(MeterRegistry registry, String role) {
    Gauge.builder(MetricNames.RATELIMIT_MEMORY_BUCKETS, this, InMemoryGcraLimiter::rateBucketsHeld)
        .tag("role", role)
        .description("in-memory rate buckets held (stale ones not yet swept included)")
        .register(registry);
    FunctionCounter.builder(
            MetricNames.RATELIMIT_MEMORY_FULL_REFUSALS, this, InMemoryGcraLimiter::refusedWhenFull)
        .tag("role", role)
        .description(
            "requests refused because every in-memory rate bucket or quota counter was live")
        .register(registry);
    return this;
  }

  private Slot slot(LimitRequest r, Instant now) {
    return switch (r.limit().kind()) {
      case LimitKind.Rate rate -> new RateSlot(r, rate, rates.of(r.limit()));
      case LimitKind.Quota quota -> {
        Instant start = quota.windowStart(now);
        Instant end = quota.windowEnd(now);
        String id = r.limit().bucketId(r.bucket());
        yield new QuotaSlot(r, quota, quotaKey(id, start), start, end);
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

    /**
     * Whether {@link #check} or {@link #take} refused because the bucket is missing and no new one
     * fits (see {@link RateBuckets}, {@link ExpiringCounters}).
     */
    boolean noRoom();
  }

  /**
   * The answer of a bucket that is missing and has no room to be created: not checked, so nothing
   * remaining until {@code retryAfter} ({@link LimitStatus#unavailable}), not the state of a bucket
   * that does not exist (a rate bucket read as full again at once, a quota as used up until the
   * window ends).
   */
  private static BucketResult noRoomFor(LimitRequest request, Duration retryAfter, Instant now) {
    return new BucketResult(
        request, false, LimitStatus.unavailable(request.limit(), retryAfter, now), retryAfter);
  }

  private final class RateSlot implements Slot {
    private final LimitRequest request;
    private final LimitKind.Rate rate;
    private final RateBuckets.Table buckets;
    private @Nullable AtomicLong tat; // the bucket's cell: found by check, or created by take
    private boolean noRoom;
    private long before;
    private long after;

    RateSlot(LimitRequest request, LimitKind.Rate rate, RateBuckets.Table buckets) {
      this.request = request;
      this.rate = rate;
      this.buckets = buckets;
    }

    @Override
    public BucketResult check(long now, Instant nowInstant) {
      tat = buckets.find(request.bucket());
      long current = tat == null ? 0 : clamped(tat, tat.get(), now); // missing or DEAD: full
      Gcra.Result r =
          Gcra.check(current, now, request.cost(), rate.emissionIntervalNanos(), rate.burst());
      if (tat == null && r.admitted() && rates.full(now)) {
        return noRoom(now, nowInstant); // taking would need a new bucket, and none fits
      }
      return result(r);
    }

    private BucketResult noRoom(long now, Instant nowInstant) {
      noRoom = true;
      long retry = Math.max(MIN_FULL_RETRY_NANOS, rates.untilSweepDue(now));
      return noRoomFor(request, Duration.ofNanos(retry), nowInstant);
    }

    @Override
    public BucketResult take(long now, Instant nowInstant) {
      if (tat == null) {
        tat = buckets.find(request.bucket());
      }
      while (true) {
        AtomicLong cell = tat;
        if (cell == null) {
          Gcra.Result full =
              Gcra.check(0, now, request.cost(), rate.emissionIntervalNanos(), rate.burst());
          if (!full.admitted()) {
            return result(full); // more than the burst: no bucket needed to say no
          }
          cell = buckets.getOrCreate(request.bucket(), now);
          if (cell == null) {
            return noRoom(now, nowInstant);
          }
          tat = cell;
        }
        long current = cell.get();
        if (current == RateBuckets.DEAD) { // swept while stale: look it up again
          buckets.unlink(request.bucket(), cell);
          tat = null;
          continue;
        }
        if (clamped(cell, current, now) != current) {
          continue; // stored as just emptied (or someone else wrote): read it again
        }
        Gcra.Result r =
            Gcra.check(current, now, request.cost(), rate.emissionIntervalNanos(), rate.burst());
        if (!r.admitted() || cell.compareAndSet(current, r.tat())) {
          before = current;
          after = r.tat();
          return result(r);
        }
      }
    }

    /**
     * {@code current}, the TAT read from {@code cell}, clamped to an empty bucket if a backwards
     * clock step left it further ahead ({@link Gcra#clampTat}); a clamped value is stored, so the
     * bucket refills from now on (also when this request only looks or is refused).
     */
    private long clamped(AtomicLong cell, long current, long now) {
      long clamped = Gcra.clampTat(current, now, rate.emissionIntervalNanos(), rate.burst());
      if (clamped != current) {
        cell.compareAndSet(current, clamped); // lost to a concurrent writer: its value is as good
      }
      return clamped;
    }

    @Override
    public void giveBack() {
      AtomicLong cell = Objects.requireNonNull(tat, "giveBack before take");
      long credit = Gcra.saturatedMultiply(request.cost(), rate.emissionIntervalNanos());
      while (true) {
        long current = cell.get();
        if (current == RateBuckets.DEAD) {
          return; // swept: the bucket was full again anyway
        }
        long back = current == after ? before : Math.max(0, Gcra.saturatedAdd(current, -credit));
        if (cell.compareAndSet(current, back)) {
          return;
        }
      }
    }

    @Override
    public boolean noRoom() {
      return noRoom;
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

  private final class QuotaSlot implements Slot {
    private final LimitRequest request;
    private final LimitKind.Quota quota;
    private final String key;
    private final Instant start;
    private final Instant end;
    private @Nullable AtomicLong count; // the window's counter: found by check, or created by take
    private boolean noRoom;

    QuotaSlot(LimitRequest request, LimitKind.Quota quota, String key, Instant start, Instant end) {
      this.request = request;
      this.quota = quota;
      this.key = key;
      this.start = start;
      this.end = end;
    }

    @Override
    public BucketResult check(long now, Instant nowInstant) {
      count = quotas.find(key);
      long used = count == null ? 0 : count.get(); // a missing counter has used nothing
      boolean fits = used + request.cost() <= quota.permits();
      if (count == null && fits && quotas.full()) {
        return noRoom(nowInstant); // taking would need a new counter, and none fits
      }
      return result(fits, used, nowInstant);
    }

    private BucketResult noRoom(Instant nowInstant) {
      noRoom = true;
      return noRoomFor(request, Duration.ofNanos(MIN_FULL_RETRY_NANOS), nowInstant);
    }

    @Override
    public BucketResult take(long now, Instant nowInstant) {
      AtomicLong cell = count;
      if (cell == null) {
        if (request.cost() > quota.permits()) {
          return result(false, 0, nowInstant); // more than the quota: no counter needed to say no
        }
        cell = quotas.counter(key, end);
        if (cell == null) { // every counter live: refuse rather than evict one (a reset quota)
          return noRoom(nowInstant);
        }
        count = cell;
      }
      while (true) {
        long used = cell.get();
        if (used + request.cost() > quota.permits()) {
          return result(false, used, nowInstant);
        }
        if (cell.compareAndSet(used, used + request.cost())) {
          return result(true, used, nowInstant);
        }
      }
    }

    @Override
    public void giveBack() {
      Objects.requireNonNull(count, "giveBack before take").addAndGet(-request.cost());
    }

    @Override
    public boolean noRoom() {
      return noRoom;
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
     * 1,000,000). A rate bucket costs about 120 bytes (its key string included); when all of them
     * (or all quota counters) are live, requests that need a new one are refused (see the class's
     * design note).
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
