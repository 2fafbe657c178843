package io.portcullis.testing;

import java.time.Duration;
import java.time.Instant;
import java.time.InstantSource;
import java.time.temporal.ChronoUnit;
import java.util.concurrent.atomic.AtomicLong;

/**
 * A clock that only moves when a test moves it: {@link #advance} instead of sleeping. Also a
 * monotonic nanosecond ticker ({@link #nanoTime()}) for code that takes a {@code LongSupplier}.
 * Thread-safe.
 */
public final class FakeClock implements InstantSource {
  private final AtomicLong nanos;

  private FakeClock(Instant start) {
    this.nanos = new AtomicLong(toNanos(start));
  }

  /** Starts at {@code start}. */
  public static FakeClock at(Instant start) {
    return new FakeClock(start);
  }

  public static FakeClock at(String isoInstant) {
    return new FakeClock(Instant.parse(isoInstant));
  }

  /**
   * Starts at the current wall-clock second. Use it where libraries mix the injected clock with
   * their own (scheduled refreshes), so that both agree until the test moves this one.
   */
  public static FakeClock atWallClock() {
    return new FakeClock(Instant.now().truncatedTo(ChronoUnit.SECONDS));
  }

  @Override
  public Instant instant() {
    long n = nanos.get();
    return Instant.ofEpochSecond(
        Math.floorDiv(n, 1_000_000_000L), Math.floorMod(n, 1_000_000_000L));
  }

  /** Monotonic nanoseconds, for code that takes a {@code LongSupplier} ticker. */
  public long nanoTime() {
    return nanos.get();
  }

  public FakeClock advance(Duration d) {
    nanos.addAndGet(d.toNanos());
    return this;
  }

  public FakeClock set(Instant t) {
    nanos.set(toNanos(t));
    return this;
  }

  private static long toNanos(Instant t) {
    return t.getEpochSecond() * 1_000_000_000L + t.getNano();
  }

  @Override
  public String toString() {
    return "FakeClock[" + instant() + "]";
  }
}
