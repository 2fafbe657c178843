package io.portcullis.testing;

import java.time.Duration;
import java.time.Instant;
import java.time.InstantSource;
import java.time.temporal.ChronoUnit;
import java.util.concurrent.atomic.AtomicReference;

/** A clock that only moves when a test moves it. Thread-safe. */
public final class FakeClock implements InstantSource {
  private final AtomicReference<Instant> now;

  private FakeClock(Instant start) {
    this.now = new AtomicReference<>(start);
  }

  /** Starts at {@code start}. */
  public static FakeClock at(Instant start) {
    return new FakeClock(start);
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
    return now.get();
  }

  public void advance(Duration d) {
    now.updateAndGet(t -> t.plus(d));
  }

  public void set(Instant t) {
    now.set(t);
  }

  @Override
  public String toString() {
    return "FakeClock[" + now.get() + "]";
  }
}
