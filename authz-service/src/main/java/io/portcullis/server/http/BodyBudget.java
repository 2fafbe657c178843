package io.portcullis.server.http;

import java.util.concurrent.atomic.AtomicLong;

/**
 * The bytes of request bodies forward-auth may hold at once, across all its connections and
 * streams. Without it each unfinished body could hold up to the body limit (64 KiB) for the body
 * deadline, on every one of up to 10,000 connections: 1,000 connections that each sent 64 KiB of a
 * 70,000-byte body and stalled held 71 MB of a 256 MB heap, and over h2c (128 streams a connection)
 * a few dozen connections would have filled it, taking gRPC decisions in the same JVM down with the
 * OutOfMemoryError.
 *
 * <p>Thread-safe. A reader reserves bytes before it buffers them and releases all it reserved when
 * it is done, whichever way it ends; a reservation past the budget fails instead of waiting.
 */
final class BodyBudget {
  private final long capacity;
  private final AtomicLong held = new AtomicLong();

  BodyBudget(long capacity) {
    if (capacity < 0) {
      throw new IllegalArgumentException("capacity " + capacity + " < 0");
    }
    this.capacity = capacity;
  }

  /** Reserves {@code bytes}; false, reserving nothing, if that would exceed the capacity. */
  boolean tryReserve(long bytes) {
    while (true) {
      long now = held.get();
      if (now + bytes > capacity) {
        return false;
      }
      if (held.compareAndSet(now, now + bytes)) {
        return true;
      }
    }
  }

  /** Returns {@code bytes} reserved earlier. */
  void release(long bytes) {
    held.addAndGet(-bytes);
  }

  /** The bytes reserved now. */
  long held() {
    return held.get();
  }
}
