package io.portcullis.testing;

import java.time.Duration;
import java.time.Instant;
import java.time.InstantSource;
import java.util.concurrent.atomic.AtomicReference;

/** A clock that stands still until a test moves it. Thread-safe. */
public final class FakeClock implements InstantSource {
  private final AtomicReference<Instant> now;

  private FakeClock(Instant start) {
    this.now = new AtomicReference<>(start);
  }

  /** A clock at {@code start}. */
  public static FakeClock at(Instant start) {
    return new FakeClock(start);
  }

  /** A clock at {@code start}, e.g. {@code "2026-03-29T00:30:00+01:00"} or {@code "...Z"}. */
  public static FakeClock at(String start) {
    return new FakeClock(java.time.OffsetDateTime.parse(start).toInstant());
  }

  @Override
  public Instant instant() {
    return now.get();
  }

  /** Moves the clock forward by {@code d}. */
  public void advance(Duration d) {
    now.updateAndGet(t -> t.plus(d));
  }

  /** Sets the clock to {@code t}. */
  public void set(Instant t) {
    now.set(t);
  }
}
