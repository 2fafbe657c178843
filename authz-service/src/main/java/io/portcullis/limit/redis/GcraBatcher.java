package io.portcullis.limit.redis;

import io.portcullis.limit.BackendCircuit;
import io.portcullis.limit.LimitBackendException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import org.jspecify.annotations.Nullable;
import org.redisson.api.RScript;
import org.redisson.api.RedissonClient;

/**
 * Carries the decisions of concurrent callers to Redis in as few {@code gcra.lua} calls as it can,
 * without making any caller wait for a timer.
 *
 * <h2>Design note</h2>
 *
 * <p>Automatic batching ({@link CallSlots}: the "smart batching" of Martin Thompson's Mechanical
 * Sympathy blog, the batching effect of the LMAX Disruptor): decisions are grouped in
 * <em>lanes</em>, one per hash tag (so that every call stays within one cluster slot). A lane has
 * at most {@code maxInFlight} calls in flight. A decision that finds a free slot goes out at once,
 * alone. One that arrives while every slot is busy joins the lane's queue; when a call returns,
 * everything queued (at most {@code maxBatch} decisions) goes out as <em>one</em> {@code EVALSHA},
 * whose script decides them one after another in arrival order. So:
 *
 * <ul>
 *   <li>At low load nothing changes: a lone decision is one call, sent immediately.
 *   <li>Under load the number of Redis calls per second is bounded by {@code maxInFlight} per round
 *       trip per lane, whatever the number of callers (virtual threads), so the client's connection
 *       pool cannot run dry and Redis does one script call for many decisions.
 *   <li>A decision waits for at most the call in flight before it and its own call; the {@code
 *       timeout}, or the caller's own deadline when that is sooner, bounds both together. A
 *       decision whose caller gave up while it was still queued is dropped, not sent. A call that
 *       fails after all its callers gave up at their deadlines opens the {@link BackendCircuit}
 *       ({@link BackendCircuit#failedLate}): no caller is left to report it, and without it a Redis
 *       that stopped answering would make every caller wait out its deadline.
 *   <li>Semantics are those of one call per decision: the script decides each request atomically
 *       and in order (the same bucket twice in one batch sees the first take), and a request that
 *       fails inside the script (a key of another type) fails alone. A failed or timed-out call
 *       fails every decision it carried; each caller then applies its failure policy.
 * </ul>
 *
 * <p>Thread-safe and lock-free. Replies are distributed on the client's I/O thread, which only
 * finds each request's line of the script's one-string reply ({@link GcraReply}); callers parse
 * their own numbers.
 */
final class GcraBatcher {
  private final RedissonClient redis;
  private final LuaScript script;
  private final int maxInFlight;
  private final int maxBatch;
  private final long timeoutNanos;
  private final @Nullable BackendCircuit circuit;
  private final ConcurrentHashMap<String, CallSlots<Decision>> lanes = new ConcurrentHashMap<>();

  /**
   * @param circuit opened by a call that fails after all its callers gave up at their deadlines
   *     ({@code null}: no circuit, as in tests of the batcher alone)
   */
  GcraBatcher(
      RedissonClient redis,
      LuaScript script,
      int maxInFlight,
      int maxBatch,
      Duration timeout,
      @Nullable BackendCircuit circuit) {
    this.redis = Objects.requireNonNull(redis, "redis");
    this.script = Objects.requireNonNull(script, "script");
    if (maxInFlight < 1 || maxBatch < 1) {
      throw new IllegalArgumentException("maxInFlight and maxBatch must be at least 1");
    }
    this.maxInFlight = maxInFlight;
    this.maxBatch = maxBatch;
    this.timeoutNanos = timeout.toNanos();
    this.circuit = circuit;
  }

  /**
   * One request's part of a call.
   *
   * @param keys its buckets' keys
   * @param args its script arguments: consume flag, bucket count, then four per bucket
   */
  record Decision(List<String> keys, String[] args, CompletableFuture<GcraReply> reply) {
    Decision(List<String> keys, String[] args) {
      this(keys, args, new CompletableFuture<>());
    }
  }

  /**
   * Queues {@code d} in the lane of {@code hashTag}, sends it as soon as a call slot is free, and
   * waits for its answer.
   *
   * @throws LimitBackendException when Redis fails, times out, or does not answer within the
   *     timeout (queueing included), or the script fails for this request
   */
  GcraReply decide(String hashTag, Decision d) {
    return await(hashTag, d, timeoutNanos);
  }

  /**
   * As {@link #decide(String, Decision)}, but waits at most until {@code answerByNanos} (a {@link
   * System#nanoTime()} value) when that is sooner than the timeout.
   *
   * @throws LimitBackendException as {@link #decide(String, Decision)}, or {@link
   *     LimitBackendException#callersDeadline} when Redis has not answered by {@code answerByNanos}
   *     (nothing is sent when that time has already come)
   */
  GcraReply decide(String hashTag, Decision d, long answerByNanos) {
    long left = answerByNanos - System.nanoTime();
    if (left <= 0) {
      throw LimitBackendException.callersDeadline(
          "the caller's deadline had passed before redis script " + script.name() + " was sent",
          null);
    }
    return await(hashTag, d, Math.min(timeoutNanos, left));
  }

  private GcraReply await(String hashTag, Decision d, long waitNanos) {
    CallSlots<Decision> lane = lanes.get(hashTag);
    if (lane == null) {
      lane =
          lanes.computeIfAbsent(
              hashTag,
              t -> new CallSlots<>(maxInFlight, maxBatch, x -> x.reply().isDone(), this::send));
    }
    lane.submit(d);
    try {
      try {
        return d.reply().get(waitNanos, TimeUnit.NANOSECONDS);
      } catch (TimeoutException e) {
        // still queued: dropped when its turn comes; already sent: its answer is ignored (a call
        // that fails with no caller left waiting opens the circuit, see fail())
        if (d.reply().cancel(false)) {
          if (waitNanos < timeoutNanos) {
            throw LimitBackendException.callersDeadline(
                "redis script "
                    + script.name()
                    + " did not answer within the caller's "
                    + Duration.ofNanos(waitNanos),
                e);
          }
          throw new LimitBackendException(
              "redis script "
                  + script.name()
                  + " timed out after "
                  + Duration.ofNanos(timeoutNanos),
              e);
        }
        return d.reply().get(); // the answer came in just now
      }
    } catch (InterruptedException e) {
      d.reply().cancel(false);
      Thread.currentThread().interrupt();
      throw new LimitBackendException("interrupted while waiting for redis", e);
    } catch (ExecutionException e) {
      if (e.getCause() instanceof LimitBackendException b) {
        throw b;
      }
      throw new LimitBackendException(
          "redis script " + script.name() + " failed: " + LuaScript.describe(e.getCause()),
          e.getCause());
    }
  }

  private void send(List<Decision> batch, Runnable done) {
    CallSlots.<String>call(
        () -> start(batch),
        done,
        (reply, error) -> {
          if (error != null) {
            fail(batch, LuaScript.unwrap(error));
          } else {
            deliver(batch, reply);
          }
        });
  }

  /**
   * Starts the script call of {@code batch}: its keys and arguments assembled inside {@link
   * CallSlots#call}, so that a failure while assembling them fails this batch's callers at once and
   * frees its slot.
   */
  @SuppressWarnings("unchecked") // the keys are strings; the client takes them as objects
  private java.util.concurrent.CompletionStage<String> start(List<Decision> batch) {
    List<Object> keys;
    Object[] args;
    if (batch.size() == 1) {
      keys = (List<Object>) (List<?>) batch.get(0).keys();
      args = batch.get(0).args();
    } else {
      int k = 0;
      int a = 0;
      for (Decision d : batch) {
        k += d.keys().size();
        a += d.args().length;
      }
      keys = new ArrayList<>(k);
      args = new Object[a];
      a = 0;
      for (Decision d : batch) {
        keys.addAll(d.keys());
        System.arraycopy(d.args(), 0, args, a, d.args().length);
        a += d.args().length;
      }
    }
    return script.runAsync(redis, RScript.ReturnType.VALUE, keys, args);
  }

  /** Hands every request its line of the reply, or its own error. */
  private void deliver(List<Decision> batch, String reply) {
    GcraReply[] lines;
    try {
      lines = GcraReply.split(reply, batch.size());
    } catch (RuntimeException e) { // a reply of an unexpected shape
      fail(batch, e);
      return;
    }
    for (int i = 0; i < lines.length; i++) {
      GcraReply line = lines[i];
      if (line.failed()) {
        LimitBackendException e =
            new LimitBackendException("redis script " + script.name() + " failed: " + line.error());
        if (!batch.get(i).reply().completeExceptionally(e)) {
          failedLate(e);
        }
      } else {
        batch.get(i).reply().complete(line);
      }
    }
  }

  private void fail(List<Decision> batch, Throwable error) {
    LimitBackendException e =
        error instanceof LimitBackendException b
            ? b
            : new LimitBackendException(
                "redis script " + script.name() + " failed: " + LuaScript.describe(error), error);
    boolean heard = false;
    for (Decision d : batch) {
      heard |= d.reply().completeExceptionally(e);
    }
    if (!heard) {
      failedLate(e);
    }
  }

  /**
   * A call failed after every caller it carried had stopped waiting (their deadlines were sooner
   * than the timeout): no caller reports it, so it is reported here (the circuit opens; those
   * callers counted their degraded answers already).
   */
  private void failedLate(LimitBackendException e) {
    if (circuit != null) {
      circuit.failedLate(BackendCircuit.Caller.LIMITS, e.getMessage());
    }
  }
}
