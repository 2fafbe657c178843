package io.portcullis.limit;

/**
 * The generic cell rate algorithm (GCRA, "leaky bucket as a meter"): the math behind every {@code
 * rate:} limit, shared by {@link InMemoryGcraLimiter} and mirrored line by line in the Redis
 * backend's Lua script ({@code io/portcullis/limit/redis/gcra.lua}).
 *
 * <h2>Design note</h2>
 *
 * A limit of N per period with burst B keeps one number per bucket, the <em>theoretical arrival
 * time</em> (TAT): the instant at which the bucket would be full again if nothing else arrived.
 *
 * <ul>
 *   <li>Emission interval {@code T = period / N}: the refill time of one unit.
 *   <li>Delay variation tolerance {@code τ = T·(B − 1)}: how far ahead of now the TAT may be. The
 *       bucket's capacity in time is {@code τ + T = T·B}, so a full bucket admits B at once.
 *   <li>A request of cost c at {@code now}: {@code tat₀ = max(TAT, now)}, {@code newTat = tat₀ +
 *       c·T}. It is admitted iff {@code newTat − now ≤ T·B} (for c = 1: {@code tat₀ − now ≤ τ});
 *       then TAT becomes {@code newTat}. A refused request leaves TAT unchanged.
 *   <li>Remaining after an admit: {@code ⌊(T·B − (newTat − now)) / T⌋} (B − 1 for the first request
 *       into a full bucket); reset (time until full again): {@code newTat − now}.
 *   <li>Retry-After of a refused request: {@code newTat − T·B − now}, the time until c units are
 *       available (for c = 1, until one unit is).
 *   <li>A stored TAT later than {@code now + T·B} is taken as {@code now + T·B} (an empty bucket):
 *       admits never move the TAT further ahead, so only a backwards step of the clock (NTP, a VM
 *       restored, Redis failing over to a host whose clock is behind) can leave one there. Taken at
 *       face value, a step back of 60 s would refuse every recently active client for about 60 s;
 *       clamped, it costs them at most one bucket's capacity. Callers store the clamped TAT ({@link
 *       #clampTat}) so the bucket then refills as time passes.
 * </ul>
 *
 * Because the state is one number that only moves forward, an admit is one compare-and-set in
 * memory and one {@code SET} in Redis, and a bucket whose TAT is in the past is identical to a
 * missing one, so idle buckets can be evicted after {@code T·B} without changing any answer.
 *
 * <p>References: Brandur Leach, "Rate Limiting, Cells, and GCRA" (brandur.org/rate-limiting);
 * Wikipedia, "Generic cell rate algorithm"; ITU-T I.371 (the ATM traffic-control origin).
 *
 * <p>All times are in one unit chosen by the caller (nanoseconds in memory, microseconds in Redis).
 * Products saturate instead of overflowing, so absurd configurations are strict, not wrong.
 */
public final class Gcra {
  private Gcra() {}

  /**
   * The answer for one bucket.
   *
   * @param admitted whether the cost fits
   * @param tat the bucket's TAT afterwards ({@code newTat} if admitted, unchanged otherwise)
   * @param remaining units available after this request (if admitted) or now (if refused)
   * @param reset time until the bucket is full again
   * @param retryAfter when refused, time until the cost fits; 0 when admitted
   */
  public record Result(boolean admitted, long tat, long remaining, long reset, long retryAfter) {}

  /**
   * Asks a bucket for {@code cost} units at {@code now}.
   *
   * @param storedTat the bucket's TAT; anything at or before {@code now} (e.g. 0 for a new bucket)
   *     means full, anything after {@code now + T·B} means empty ({@link #clampTat})
   * @param interval the emission interval T (positive)
   * @param burst the burst B (positive)
   */
  public static Result check(long storedTat, long now, long cost, long interval, long burst) {
    storedTat = clampTat(storedTat, now, interval, burst);
    long tat0 = Math.max(storedTat, now);
    long capacity = saturatedMultiply(interval, burst);
    long newTat = saturatedAdd(tat0, saturatedMultiply(cost, interval));
    long ahead = newTat - now; // >= cost * T
    if (ahead <= capacity) {
      return new Result(true, newTat, (capacity - ahead) / interval, ahead, 0);
    }
    long available = Math.max(0, (capacity - (tat0 - now)) / interval);
    return new Result(false, storedTat, available, tat0 - now, ahead - capacity);
  }

  /**
   * {@code storedTat}, or {@code now + T·B} (an empty bucket) if it is later than that, which only
   * a backwards step of the clock can cause. A caller that finds its stored TAT clamped stores the
   * clamped value, so the bucket refills from then on instead of staying empty until the clock has
   * caught up.
   */
  public static long clampTat(long storedTat, long now, long interval, long burst) {
    return Math.min(storedTat, saturatedAdd(now, saturatedMultiply(interval, burst)));
  }

  /** Units available in a bucket at {@code now} without taking any (0 to {@code burst}). */
  public static long available(long storedTat, long now, long interval, long burst) {
    long tat0 = Math.max(storedTat, now);
    long capacity = saturatedMultiply(interval, burst);
    return Math.max(0, Math.min(burst, (capacity - (tat0 - now)) / interval));
  }

  static long saturatedMultiply(long a, long b) {
    long hi = Math.multiplyHigh(a, b);
    long lo = a * b;
    if ((hi == 0 && lo >= 0) || (hi == -1 && lo < 0)) {
      return lo;
    }
    return (a ^ b) < 0 ? Long.MIN_VALUE : Long.MAX_VALUE;
  }

  static long saturatedAdd(long a, long b) {
    long r = a + b;
    if (((a ^ r) & (b ^ r)) < 0) {
      return a < 0 ? Long.MIN_VALUE : Long.MAX_VALUE;
    }
    return r;
  }
}
