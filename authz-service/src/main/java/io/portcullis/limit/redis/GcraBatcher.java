package io.portcullis.limit.redis;

import io.portcullis.limit.LimitBackendException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicInteger;
import org.redisson.api.RedissonClient;

/**
 * Carries the decisions of concurrent callers to Redis in as few {@code gcra.lua} calls as it can,
 * without making any caller wait for a timer.
 *
 * <h2>Design note</h2>
 *
 * <p>Automatic batching (the "smart batching" of Martin Thompson's Mechanical Sympathy blog, the
 * batching effect of the LMAX Disruptor): decisions are grouped in <em>lanes</em>, one per hash tag
 * (so that every call stays within one cluster slot). A lane has at most {@code maxInFlight} calls
 * in flight. A decision that finds a free slot goes out at once, alone. One that arrives while
 * every slot is busy joins the lane's queue; when a call returns, everything queued (at most {@code
 * maxBatch} decisions) goes out as <em>one</em> {@code EVALSHA}, whose script decides them one
 * after another in arrival order. So:
 *
 * <ul>
 *   <li>At low load nothing changes: a lone decision is one call, sent immediately.
 *   <li>Under load the number of Redis calls per second is bounded by {@code maxInFlight} per round
 *       trip per lane, whatever the number of callers (virtual threads), so the client's connection
 *       pool cannot run dry and Redis does one script call for many decisions.
 *   <li>A decision waits for at most the call in flight before it and its own call; the caller's
 *       {@code timeout} bounds both together. A decision whose caller gave up while it was still
 *       queued is dropped, not sent.
 *   <li>Semantics are those of one call per decision: the script decides each request atomically
 *       and in order (the same bucket twice in one batch sees the first take), and a request that
 *       fails inside the script (a key of another type) fails alone. A failed or timed-out call
 *       fails every decision it carried; each caller then applies its failure policy.
 * </ul>
 *
 * <p>Thread-safe and lock-free. Replies are distributed on the client's I/O thread; callers parse
 * their own part.
 */
final class GcraBatcher {
  private final RedissonClient redis;
  private final LuaScript script;
  private final int maxInFlight;
  private final int maxBatch;
  private final long timeoutNanos;
  private final ConcurrentHashMap<String, Lane> lanes = new ConcurrentHashMap<>();

  GcraBatcher(
      RedissonClient redis, LuaScript script, int maxInFlight, int maxBatch, Duration timeout) {
    this.redis = Objects.requireNonNull(redis, "redis");
    this.script = Objects.requireNonNull(script, "script");
    if (maxInFlight < 1 || maxBatch < 1) {
      throw new IllegalArgumentException("maxInFlight and maxBatch must be at least 1");
    }
    this.maxInFlight = maxInFlight;
    this.maxBatch = maxBatch;
    this.timeoutNanos = timeout.toNanos();
  }

  /**
   * One request's part of a call.
   *
   * @param keys its buckets' keys
   * @param args its script arguments: consume flag, bucket count, then four per bucket
   * @param buckets its number of buckets
   */
  record Decision(List<String> keys, String[] args, int buckets, CompletableFuture<Reply> reply) {
    Decision(List<String> keys, String[] args, int buckets) {
      this(keys, args, buckets, new CompletableFuture<>());
    }
  }

  /**
   * A request's answer: the whole call's reply and where this request's part starts.
   *
   * @param values the script's array reply; {@code values.get(0)} is Redis time in microseconds
   * @param offset the index of this request's all-admitted flag; its buckets' five values each
   *     follow
   */
  record Reply(List<Object> values, int offset) {}

  /** The decisions of one hash tag: those waiting to be sent and the number of calls in flight. */
  private static final class Lane {
    final ConcurrentLinkedQueue<Decision> queue = new ConcurrentLinkedQueue<>();
    final AtomicInteger inFlight = new AtomicInteger();
  }

  /**
   * Queues {@code d} in the lane of {@code hashTag}, sends it as soon as a call slot is free, and
   * waits for its answer.
   *
   * @throws LimitBackendException when Redis fails, times out, or does not answer within the
   *     timeout (queueing included), or the script fails for this request
   */
  Reply decide(String hashTag, Decision d) {
    Lane lane = lanes.get(hashTag);
    if (lane == null) {
      lane = lanes.computeIfAbsent(hashTag, t -> new Lane());
    }
    lane.queue.add(d);
    dispatch(lane);
    try {
      return d.reply().get(timeoutNanos, TimeUnit.NANOSECONDS);
    } catch (TimeoutException e) {
      // still queued: dropped when its turn comes; already sent: its answer is ignored
      d.reply().cancel(false);
      throw new LimitBackendException(
          "redis script " + script.name() + " timed out after " + Duration.ofNanos(timeoutNanos),
          e);
    } catch (InterruptedException e) {
      d.reply().cancel(false);
      Thread.currentThread().interrupt();
      throw new LimitBackendException("interrupted while waiting for redis", e);
    } catch (ExecutionException e) {
      if (e.getCause() instanceof LimitBackendException b) {
        throw b;
      }
      throw new LimitBackendException(
          "redis script " + script.name() + " failed: " + e.getCause(), e.getCause());
    }
  }

  /** Sends what the lane has queued while it has free call slots. */
  private void dispatch(Lane lane) {
    while (!lane.queue.isEmpty()) {
      int n = lane.inFlight.get();
      if (n >= maxInFlight) {
        return; // the call in flight dispatches again when it returns
      }
      if (!lane.inFlight.compareAndSet(n, n + 1)) {
        continue;
      }
      List<Decision> batch = take(lane.queue);
      if (batch.isEmpty()) {
        lane.inFlight.decrementAndGet();
        continue;
      }
      send(lane, batch);
    }
  }

  /** Up to {@link #maxBatch} queued decisions whose callers still wait, in arrival order. */
  private List<Decision> take(ConcurrentLinkedQueue<Decision> queue) {
    List<Decision> batch = new ArrayList<>(Math.min(maxBatch, 16));
    Decision d;
    while (batch.size() < maxBatch && (d = queue.poll()) != null) {
      if (!d.reply().isDone()) {
        batch.add(d);
      }
    }
    return batch;
  }

  private void send(Lane lane, List<Decision> batch) {
    List<Object> keys;
    Object[] args;
    if (batch.size() == 1) {
      keys = List.copyOf(batch.get(0).keys());
      args = batch.get(0).args();
    } else {
      keys = new ArrayList<>(batch.size() * 2);
      List<String> a = new ArrayList<>(batch.size() * 6);
      for (Decision d : batch) {
        keys.addAll(d.keys());
        a.addAll(List.of(d.args()));
      }
      args = a.toArray();
    }
    CompletionStage<List<Object>> call;
    try {
      call = script.runAsync(redis, keys, args);
    } catch (RuntimeException e) { // e.g. the client is shutting down
      call = CompletableFuture.failedFuture(e);
    }
    call.whenComplete(
        (reply, error) -> {
          lane.inFlight.decrementAndGet();
          try {
            dispatch(lane); // first keep Redis busy, then wake this batch's callers
          } finally {
            if (error != null) {
              fail(batch, 0, LuaScript.unwrap(error));
            } else {
              deliver(batch, reply);
            }
          }
        });
  }

  /** Hands every request its part of the reply, or its own error. */
  private void deliver(List<Decision> batch, List<Object> reply) {
    int at = 1;
    int i = 0;
    try {
      for (; i < batch.size(); i++) {
        Decision d = batch.get(i);
        if (number(reply.get(at)) < 0) {
          d.reply()
              .completeExceptionally(
                  new LimitBackendException(
                      "redis script " + script.name() + " failed: " + reply.get(at + 1)));
          at += 2;
        } else {
          d.reply().complete(new Reply(reply, at));
          at += 1 + 5 * d.buckets();
        }
      }
    } catch (RuntimeException e) { // a reply of an unexpected shape
      fail(batch, i, e);
    }
  }

  private void fail(List<Decision> batch, int from, Throwable error) {
    LimitBackendException e =
        new LimitBackendException(
            "redis script " + script.name() + " failed: " + error.getMessage(), error);
    for (int i = from; i < batch.size(); i++) {
      batch.get(i).reply().completeExceptionally(e);
    }
  }

  /** An integer of the script's reply ({@link Long} from the string codec). */
  static long number(Object o) {
    if (o instanceof Long l) {
      return l;
    }
    if (o instanceof Number n) {
      return n.longValue();
    }
    return Long.parseLong(String.valueOf(o));
  }
}
