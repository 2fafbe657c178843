package io.portcullis.limit.redis;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.BiConsumer;
import java.util.function.Predicate;
import java.util.function.Supplier;
import org.jspecify.annotations.Nullable;

/**
 * Automatic batching without a timer (the "smart batching" of Martin Thompson's Mechanical Sympathy
 * blog, the batching effect of the LMAX Disruptor), shared by the GCRA script calls ({@link
 * GcraBatcher}) and the Envoy RLS pipelines ({@link RedisFixedWindowCounters}).
 *
 * <p>At most {@code maxInFlight} calls are in flight. An item that finds a free slot goes out at
 * once, alone. Items that arrive while every slot is busy wait in the queue, and when a call
 * returns everything queued (at most {@code maxBatch} items) goes out as <em>one</em> call. An item
 * whose caller gave up while it was queued ({@code abandoned}) is dropped, not sent. So at low load
 * nothing waits, and under load the calls per second are bounded by {@code maxInFlight} per round
 * trip, whatever the number of callers (virtual threads).
 *
 * <p>Thread-safe and lock-free.
 *
 * @param <T> what one caller sends
 */
final class CallSlots<T> {
  /** Sends one batch; must call {@code done} exactly once, when the call has ended either way. */
  interface Sender<T> {
    void send(List<T> batch, Runnable done);
  }

  private final int maxInFlight;
  private final int maxBatch;
  private final Predicate<T> abandoned;
  private final Sender<T> sender;
  private final ConcurrentLinkedQueue<T> queue = new ConcurrentLinkedQueue<>();
  private final AtomicInteger inFlight = new AtomicInteger();

  CallSlots(int maxInFlight, int maxBatch, Predicate<T> abandoned, Sender<T> sender) {
    if (maxInFlight < 1 || maxBatch < 1) {
      throw new IllegalArgumentException("maxInFlight and maxBatch must be at least 1");
    }
    this.maxInFlight = maxInFlight;
    this.maxBatch = maxBatch;
    this.abandoned = abandoned;
    this.sender = sender;
  }

  /**
   * Starts a batch's call and, when it ends, runs {@code done} (the slot is free and what queued
   * meanwhile goes out: Redis stays busy) before {@code then} wakes the batch's callers. A call
   * that cannot even start (the client is shutting down, or an Error while building it) ends at
   * once with that error, so its slot is freed and its callers woken; an Error is thrown on after.
   */
  static <R> void call(
      Supplier<? extends CompletionStage<R>> start,
      Runnable done,
      BiConsumer<? super @Nullable R, ? super @Nullable Throwable> then) {
    CompletionStage<R> call;
    Error fatal = null;
    try {
      call = start.get();
    } catch (RuntimeException e) {
      call = CompletableFuture.failedFuture(e);
    } catch (Error e) {
      fatal = e;
      call = CompletableFuture.failedFuture(e);
    }
    call.whenComplete(
        (result, error) -> {
          try {
            done.run();
          } finally {
            then.accept(result, error);
          }
        });
    if (fatal != null) {
      throw fatal;
    }
  }

  /** Queues {@code item} and sends it, with whatever else is queued, as soon as a slot is free. */
  void submit(T item) {
    queue.add(item);
    dispatch();
  }

  /** Items waiting for a slot (tests). */
  int queued() {
    return queue.size();
  }

  /**
   * Sends what is queued while there are free slots. A sender that throws has its slot back and the
   * rest of the queue still goes out (an item queued behind it would otherwise wait for the next
   * submit); the first such failure is thrown on afterwards.
   */
  private void dispatch() {
    RuntimeException failedWith = null;
    Error fatal = null;
    while (!queue.isEmpty()) {
      int n = inFlight.get();
      if (n >= maxInFlight) {
        return; // the call in flight dispatches again when it returns
      }
      if (!inFlight.compareAndSet(n, n + 1)) {
        continue;
      }
      List<T> batch = take();
      if (batch.isEmpty()) {
        inFlight.decrementAndGet();
        continue;
      }
      try {
        send(batch);
      } catch (RuntimeException e) {
        failedWith = failedWith == null ? e : failedWith;
      } catch (Error e) {
        fatal = fatal == null ? e : fatal;
      }
    }
    if (fatal != null) {
      throw fatal;
    }
    if (failedWith != null) {
      throw failedWith;
    }
  }

  /**
   * Hands {@code batch} to the sender. A sender that throws instead of calling {@code done} (a bug,
   * or an Error) still frees its slot: a slot lost per such batch would, after {@code maxInFlight}
   * of them, leave every later item queued forever.
   */
  private void send(List<T> batch) {
    AtomicBoolean ended = new AtomicBoolean();
    Runnable once =
        () -> {
          if (ended.compareAndSet(false, true)) {
            done();
          }
        };
    try {
      sender.send(batch, once);
    } catch (RuntimeException | Error e) {
      if (ended.compareAndSet(false, true)) {
        inFlight.decrementAndGet(); // dispatch() goes on with the queue: no recursion here
      }
      throw e;
    }
  }

  /** A call ended: free its slot, then keep Redis busy with what queued meanwhile. */
  private void done() {
    inFlight.decrementAndGet();
    dispatch();
  }

  /** Up to {@link #maxBatch} queued items whose callers still wait, in arrival order. */
  private List<T> take() {
    List<T> batch = new ArrayList<>(Math.min(maxBatch, 16));
    T item;
    while (batch.size() < maxBatch && (item = queue.poll()) != null) {
      if (!abandoned.test(item)) {
        batch.add(item);
      }
    }
    return batch;
  }
}
