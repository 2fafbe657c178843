package io.portcullis.server.http;

import java.nio.ByteBuffer;
import java.time.Duration;
import java.util.Arrays;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import org.eclipse.jetty.io.Content;
import org.eclipse.jetty.server.Request;
import org.eclipse.jetty.util.thread.Scheduler;
import org.jspecify.annotations.Nullable;

/**
 * Reads the first bytes of a request body without holding a thread while they are on their way:
 * what has arrived is copied, and for the rest the reader asks Jetty to call it back ({@link
 * Request#demand}) and returns its thread to the pool. A blocking read held one of forward-auth's
 * threads per request for as long as the client took to send the body: 220 connections that each
 * sent one byte of a 1,000-byte body held all 200 threads for the 30 s idle timeout, and every
 * other check waited.
 *
 * <p>The body must arrive within a deadline; a client still sending after it, or silent for longer
 * than the connection's idle timeout, gets {@link Listener#expired()} and no decision. What the
 * reader buffers is reserved from a {@link BodyBudget} shared by every request, as it grows; a body
 * that would take it past its capacity gets {@link Listener#overBudget()}, and all a reader
 * reserved is returned once its listener has been called, whichever way the body ended. Exactly one
 * of the listener's methods is called, once, on a thread that may block (a pool thread or the
 * scheduler's; never a selector).
 */
final class BodyReader implements Runnable {

  /** What becomes of the body. */
  interface Listener {
    /**
     * @param bytes at most {@code max} bytes, the start of the body
     * @param truncated the body was longer than {@code max}
     */
    void read(byte[] bytes, boolean truncated);

    /**
     * The body did not arrive within the deadline, or the connection's idle timeout passed before
     * the deadline did.
     */
    void expired();

    /** Buffering the body would take the server past its {@link BodyBudget}. */
    void overBudget();

    /** Reading failed (the client went away, or the connection broke). */
    void failed(Throwable failure);
  }

  private final Request request;
  private final int max;
  private final Duration deadline;
  private final BodyBudget budget;
  private final Listener listener;
  private final AtomicBoolean finished = new AtomicBoolean();
  // What this reader has reserved from the budget and not yet returned.
  private final AtomicLong reserved = new AtomicLong();
  private byte[] bytes = new byte[0];
  private int size;
  private Scheduler.@Nullable Task timer;

  private BodyReader(
      Request request, int max, Duration deadline, BodyBudget budget, Listener listener) {
    this.request = request;
    this.max = max;
    this.deadline = deadline;
    this.budget = budget;
    this.listener = listener;
  }

  /**
   * Reads at most {@code max} bytes of {@code request}'s body (one more shows truncation), holding
   * them in {@code budget}.
   */
  static void read(
      Request request, int max, Duration deadline, BodyBudget budget, Listener listener) {
    new BodyReader(request, max, deadline, budget, listener).run();
  }

  /** Copies what has arrived; called once at first, then by Jetty when more is there. */
  @Override
  public void run() {
    try {
      readAvailable();
    } finally {
      if (finished.get()) {
        // The deadline may have passed while this thread reserved more: return that too.
        releaseAll();
      }
    }
  }

  private void readAvailable() {
    while (!finished.get()) {
      Content.Chunk chunk = request.read();
      if (chunk == null) {
        if (timer == null) {
          // Only a body still on its way costs a timer: most checks have none, or all of it.
          timer = request.getComponents().getScheduler().schedule(this::expire, deadline);
        }
        request.demand(this);
        return;
      }
      try {
        if (Content.Chunk.isFailure(chunk)) {
          Throwable failure = chunk.getFailure();
          if (!chunk.isLast() && failure instanceof TimeoutException) {
            // The connection's idle timeout, which Jetty reports as transient: at the connection
            // limit it is 5 s, before the deadline. Failing the request there answered 500.
            end(listener::expired);
          } else {
            end(() -> listener.failed(failure));
          }
          return;
        }
        if (!append(chunk.getByteBuffer())) {
          end(listener::overBudget);
          return;
        }
        if (chunk.isLast() || size > max) {
          boolean truncated = size > max;
          int length = Math.min(size, max);
          byte[] body = length == bytes.length ? bytes : Arrays.copyOf(bytes, length);
          end(() -> listener.read(body, truncated));
          return;
        }
      } finally {
        chunk.release();
      }
    }
  }

  /** Copies what fits under {@code max + 1}; false if the budget has no room for it. */
  private boolean append(ByteBuffer buffer) {
    int n = Math.min(buffer.remaining(), max + 1 - size);
    if (size + n > bytes.length) {
      int capacity = Math.min(max + 1, Math.max(size + n, bytes.length * 2));
      if (!budget.tryReserve(capacity - bytes.length)) {
        return false;
      }
      reserved.addAndGet(capacity - bytes.length);
      bytes = Arrays.copyOf(bytes, capacity);
    }
    buffer.get(bytes, size, n);
    size += n;
    return true;
  }

  private void expire() {
    end(listener::expired);
  }

  /**
   * Calls {@code outcome} if the body has not ended yet, then returns what was reserved for it (the
   * decision reads the bytes, so they are counted until it is done).
   */
  private void end(Runnable outcome) {
    if (!finished.compareAndSet(false, true)) {
      return;
    }
    Scheduler.Task t = timer;
    if (t != null) {
      t.cancel();
    }
    try {
      outcome.run();
    } finally {
      releaseAll();
    }
  }

  private void releaseAll() {
    budget.release(reserved.getAndSet(0));
  }
}
