package io.portcullis.server.http;

import java.nio.ByteBuffer;
import java.time.Duration;
import java.util.Arrays;
import java.util.concurrent.atomic.AtomicBoolean;
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
 * <p>The body must arrive within a deadline; a client still sending after it gets {@link
 * Listener#expired()} and no decision. Exactly one of the listener's methods is called, once, on a
 * thread that may block (a pool thread or the scheduler's; never a selector).
 */
final class BodyReader implements Runnable {

  /** What becomes of the body. */
  interface Listener {
    /**
     * @param bytes at most {@code max} bytes, the start of the body
     * @param truncated the body was longer than {@code max}
     */
    void read(byte[] bytes, boolean truncated);

    /** The body did not arrive within the deadline. */
    void expired();

    /** Reading failed (the client went away, or the connection's idle timeout passed). */
    void failed(Throwable failure);
  }

  private final Request request;
  private final int max;
  private final Duration deadline;
  private final Listener listener;
  private final AtomicBoolean finished = new AtomicBoolean();
  private byte[] bytes = new byte[0];
  private int size;
  private Scheduler.@Nullable Task timer;

  private BodyReader(Request request, int max, Duration deadline, Listener listener) {
    this.request = request;
    this.max = max;
    this.deadline = deadline;
    this.listener = listener;
  }

  /** Reads at most {@code max} bytes of {@code request}'s body (one more shows truncation). */
  static void read(Request request, int max, Duration deadline, Listener listener) {
    new BodyReader(request, max, deadline, listener).run();
  }

  /** Copies what has arrived; called once at first, then by Jetty when more is there. */
  @Override
  public void run() {
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
          if (finish()) {
            listener.failed(chunk.getFailure());
          }
          return;
        }
        append(chunk.getByteBuffer());
        if (chunk.isLast() || size > max) {
          if (finish()) {
            boolean truncated = size > max;
            listener.read(Arrays.copyOf(bytes, Math.min(size, max)), truncated);
          }
          return;
        }
      } finally {
        chunk.release();
      }
    }
  }

  private void append(ByteBuffer buffer) {
    int n = Math.min(buffer.remaining(), max + 1 - size);
    if (size + n > bytes.length) {
      bytes = Arrays.copyOf(bytes, Math.min(max + 1, Math.max(size + n, bytes.length * 2)));
    }
    buffer.get(bytes, size, n);
    size += n;
  }

  private void expire() {
    if (finished.compareAndSet(false, true)) {
      listener.expired();
    }
  }

  private boolean finish() {
    if (!finished.compareAndSet(false, true)) {
      return false;
    }
    Scheduler.Task t = timer;
    if (t != null) {
      t.cancel();
    }
    return true;
  }
}
