package io.portcullis.testing;

import java.time.Duration;
import java.time.Instant;
import java.time.InstantSource;
import java.util.concurrent.atomic.AtomicLong;

/** A settable clock for tests: {@link #advance} instead of sleeping. Thread-safe. */
public final class FakeClock implements InstantSource {
  private final AtomicLong nanos;

  private FakeClock(Instant start) {
    this.nanos = new AtomicLong(start.getEpochSecond() * 1_000_000_000L + start.getNano());
  }

  public static FakeClock at(Instant start) {
    return new FakeClock(start);
  }

  public static FakeClock at(String isoInstant) {
    return new FakeClock(Instant.parse(isoInstant));
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
    nanos.set(t.getEpochSecond() * 1_000_000_000L + t.getNano());
    return this;
  }
}
