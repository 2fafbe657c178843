package io.portcullis.limit.redis;

import io.portcullis.limit.BackendCircuit;
import io.portcullis.limit.LimitBackendException;
import io.portcullis.limit.rls.FixedWindowCounters;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicLong;
import org.jspecify.annotations.Nullable;
import org.redisson.api.BatchOptions;
import org.redisson.api.RAtomicLongAsync;
import org.redisson.api.RBatch;
import org.redisson.api.RFuture;
import org.redisson.api.RedissonClient;

/**
 * The Envoy rate limit service's fixed-window counters in Redis, as envoyproxy/ratelimit keeps
 * them: per descriptor {@code INCRBY key hits} and {@code PEXPIRE key <window length>}, pipelined
 * (in a cluster, Redisson splits a pipeline by slot). Descriptors are counted independently, so no
 * multi-key atomicity (and no hash tag) is needed. Keys are {@code
 * <prefix>:rls:<domain>_<key>_<value>_..._<window start>}, with {@code %} and {@code _} in values
 * percent-encoded ({@link io.portcullis.limit.rls.DescriptorLimiter}).
 *
 * <p>Concurrent requests share pipelines ({@link CallSlots}, as {@link GcraBatcher} shares script
 * calls): at most {@code maxInFlight} pipelines are in flight; a request that finds a free slot
 * goes out at once, alone; requests that arrive while every slot is busy go out together (at most
 * {@code maxBatch} requests) when a pipeline returns. One pipeline per request, as this class sent
 * before, let a flood of virtual threads put thousands of pipelines on the client at once: at 5,000
 * requests/s the client fell behind ("Command still hasn't been written into connection"), its
 * calls timed out, and the service answered from each instance's local counters
 * (loadtest/RESULTS.md, finding 9).
 *
 * <p>Thread-safe. Throws {@link LimitBackendException} when Redis fails or does not answer within
 * the timeout (queueing included); use it behind {@link
 * io.portcullis.limit.rls.FailoverFixedWindowCounters}. A pipeline that fails after all its callers
 * gave up at their own deadlines opens the {@link BackendCircuit} given ({@link
 * BackendCircuit#failedLate}): no caller is left to report it, and without it a Redis that stopped
 * answering would make every call wait out its deadline.
 */
public final class RedisFixedWindowCounters implements FixedWindowCounters {
  /** Pipelines in flight at once, as for the GCRA script calls. */
  static final int MAX_IN_FLIGHT = 2;

  /** Requests per pipeline (each adds two commands per descriptor). */
  static final int MAX_BATCH = 128;

  private final RedissonClient redis;
  private final String keyPrefix;
  private final long timeoutNanos;
  private final @Nullable BackendCircuit circuit;
  private final CallSlots<Pending> slots;
  private final AtomicLong pipelines = new AtomicLong();

  /**
   * @param redis the client (owned by the caller)
   * @param keyPrefix first part of every key
   */
  public RedisFixedWindowCounters(RedissonClient redis, String keyPrefix) {
    this(redis, keyPrefix, MAX_IN_FLIGHT, MAX_BATCH, RedissonClients.callTimeout(redis), null);
  }

  /**
   * @param redis the client (owned by the caller)
   * @param keyPrefix first part of every key
   * @param circuit the backend's circuit (shared with the failover counters), opened by a pipeline
   *     that fails after all its callers gave up at their own deadlines
   */
  public RedisFixedWindowCounters(RedissonClient redis, String keyPrefix, BackendCircuit circuit) {
    this(
        redis,
        keyPrefix,
        MAX_IN_FLIGHT,
        MAX_BATCH,
        RedissonClients.callTimeout(redis),
        Objects.requireNonNull(circuit, "circuit"));
  }

  RedisFixedWindowCounters(
      RedissonClient redis,
      String keyPrefix,
      int maxInFlight,
      int maxBatch,
      Duration timeout,
      @Nullable BackendCircuit circuit) {
    this.redis = Objects.requireNonNull(redis, "redis");
    this.keyPrefix = Objects.requireNonNull(keyPrefix, "keyPrefix");
    this.timeoutNanos = timeout.toNanos();
    this.circuit = circuit;
    this.slots = new CallSlots<>(maxInFlight, maxBatch, p -> p.totals().isDone(), this::send);
  }

  /** One request's hits and the totals its caller waits for. */
  private record Pending(List<Hit> hits, CompletableFuture<long[]> totals) {}

  @Override
  public Totals add(List<Hit> hits) {
    return add(hits, Duration.ofNanos(timeoutNanos));
  }

  /**
   * {@inheritDoc}
   *
   * <p>Waits at most the shorter of {@code within} and the Redis timeout (queueing included).
   */
  @Override
  public Totals add(List<Hit> hits, Duration within) {
    if (within.isNegative() || within.isZero()) {
      throw LimitBackendException.callersDeadline(
          "the caller's deadline had passed before the redis rate limit counters were asked", null);
    }
    long wait = Math.min(timeoutNanos, within.toNanos());
    Pending p = new Pending(hits, new CompletableFuture<>());
    slots.submit(p);
    try {
      return Totals.counted(p.totals().get(wait, TimeUnit.NANOSECONDS));
    } catch (TimeoutException e) {
      // still queued: dropped when its turn comes; already sent: its totals are ignored
      p.totals().cancel(false);
      if (wait < timeoutNanos) {
        throw LimitBackendException.callersDeadline(
            "redis rate limit counters did not answer within the caller's "
                + Duration.ofNanos(wait),
            e);
      }
      throw new LimitBackendException(
          "redis rate limit counters timed out after " + Duration.ofNanos(timeoutNanos), e);
    } catch (InterruptedException e) {
      p.totals().cancel(false);
      Thread.currentThread().interrupt();
      throw new LimitBackendException("interrupted while counting", e);
    } catch (ExecutionException e) {
      Throwable cause = LuaScript.unwrap(e.getCause());
      throw new LimitBackendException(
          "redis rate limit counters failed: " + LuaScript.describe(cause), cause);
    }
  }

  private void send(List<Pending> batch, Runnable done) {
    List<List<RFuture<Long>>> values = new ArrayList<>(batch.size());
    CallSlots.call(
        () -> {
          RBatch pipeline = redis.createBatch(BatchOptions.defaults());
          for (Pending p : batch) {
            List<RFuture<Long>> own = new ArrayList<>(p.hits().size());
            for (Hit h : p.hits()) {
              RAtomicLongAsync counter = pipeline.getAtomicLong(key(h.key()));
              own.add(counter.addAndGetAsync(h.amount()));
              counter.expireAsync(h.ttl());
            }
            values.add(own);
          }
          pipelines.incrementAndGet();
          return pipeline.executeAsync();
        },
        done,
        (result, error) -> deliver(batch, values, error));
  }

  /**
   * Hands every request its counters' new values, or the error of its own command. A pipeline that
   * fails as a whole (Redisson fails it when any one command fails) still completes its other
   * commands, so a request on a key of another type fails alone; a request whose commands never
   * completed (the connection failed) gets the pipeline's error.
   */
  private void deliver(
      List<Pending> batch, List<List<RFuture<Long>>> values, @Nullable Throwable error) {
    for (int i = 0; i < batch.size(); i++) {
      CompletableFuture<long[]> totals = batch.get(i).totals();
      if (i >= values.size()) { // the pipeline was never built
        if (!totals.completeExceptionally(Objects.requireNonNull(error))) {
          failedLate(error);
        }
        continue;
      }
      List<RFuture<Long>> own = values.get(i);
      long[] out = new long[own.size()];
      Throwable failed = null;
      for (int j = 0; j < out.length && failed == null; j++) {
        CompletableFuture<Long> v = own.get(j).toCompletableFuture();
        if (!v.isDone()) {
          failed = error != null ? error : new IllegalStateException("pipeline left a command");
        } else if (v.isCompletedExceptionally()) {
          failed = v.exceptionNow();
        } else {
          out[j] = v.resultNow();
        }
      }
      if (failed != null) {
        if (!totals.completeExceptionally(failed)) {
          failedLate(failed);
        }
      } else {
        totals.complete(out);
      }
    }
  }

  /**
   * A request's commands failed after its caller had stopped waiting (its deadline was sooner than
   * the timeout): no caller reports it, so it is reported here (the circuit opens; the caller
   * counted its degraded answer already).
   */
  private void failedLate(Throwable error) {
    if (circuit != null) {
      circuit.failedLate(BackendCircuit.Caller.RLS, LuaScript.describe(error));
    }
  }

  /** Requests waiting for a pipeline slot (tests). */
  int queued() {
    return slots.queued();
  }

  /** Pipelines sent so far (tests: how requests were shared). */
  long pipelines() {
    return pipelines.get();
  }

  String key(String counter) {
    return keyPrefix + ":rls:" + counter;
  }
}
