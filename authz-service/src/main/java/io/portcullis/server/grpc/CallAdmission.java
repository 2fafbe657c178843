package io.portcullis.server.grpc;

import io.grpc.Context;
import io.grpc.ForwardingServerCallListener;
import io.grpc.Metadata;
import io.grpc.ServerCall;
import io.grpc.ServerCallHandler;
import io.grpc.ServerInterceptor;
import io.grpc.ServerStreamTracer;
import io.grpc.Status;
import java.time.Duration;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.LongAdder;
import java.util.function.LongSupplier;

/**
 * Admission control on the gRPC listener: refuses, before any decision work, the calls an
 * overloaded server would only answer too late.
 *
 * <h2>Design note</h2>
 *
 * <p>Calls run on virtual threads, queued for the two or so carrier threads. When more calls arrive
 * than the cores can decide, the queue grows, and every queued call holds its messages, stream
 * state and (once started) a stack: in the load suite the cost per request rose from 85 to 233 µs
 * as the backlog grew, and the server answered a quarter of what it could (loadtest/RESULTS.md,
 * "Overload"). Envoy has long given up on such calls (ext_authz's timeout is 200 ms by default, the
 * rate limit service's 20 ms), so deciding them is pure waste. Three refusals, counted apart:
 *
 * <ul>
 *   <li><b>{@code deadline}</b>: the caller's deadline ({@code grpc-timeout}, which Envoy sets to
 *       its timeout) passed, or the caller cancelled, while the call was queued: gRPC has already
 *       answered {@code DEADLINE_EXCEEDED} or {@code CANCELLED}; the call is not started. A caller
 *       that states its deadline gets exactly that much patience.
 *   <li><b>{@code queue_time}</b>: a call <em>without</em> a deadline waited longer than {@code
 *       maxQueueTime} between its headers arriving (stamped on the transport thread by a {@link
 *       ServerStreamTracer}) and a thread starting it. Refused with {@code RESOURCE_EXHAUSTED},
 *       cheaply, so the cores go to calls whose caller still waits, and goodput stays near capacity
 *       instead of collapsing. (A fixed bound for calls with a deadline would refuse calls their
 *       caller still waits for, e.g. behind a slow cold start.)
 *   <li><b>{@code in_flight}</b>: {@code maxInFlight} calls are already running (a bound on memory
 *       when calls block, e.g. on a slow Redis). Refused with {@code RESOURCE_EXHAUSTED}.
 * </ul>
 *
 * <p>A refused call is not a decision: it is not audited; Envoy applies its failure policy ({@code
 * failure_mode_allow: false} denies). Thread-safe.
 */
final class CallAdmission implements ServerInterceptor {
  /** Why a call was refused; the {@code reason} tag of {@code portcullis_grpc_rejected_calls}. */
  enum Refusal {
    QUEUE_TIME("queue_time"),
    DEADLINE("deadline"),
    IN_FLIGHT("in_flight");

    final String tag;

    Refusal(String tag) {
      this.tag = tag;
    }
  }

  private static final Context.Key<Long> ARRIVED = Context.key("portcullis-arrived-nanos");

  private final Semaphore permits;
  private final long maxQueueNanos;
  private final LongSupplier nanoTime;
  private final LongAdder[] refused = new LongAdder[Refusal.values().length];

  /**
   * @param maxInFlight the most calls running at once
   * @param maxQueueTime the longest a call may wait for a thread; zero turns the check off
   * @param nanoTime the monotonic clock ({@link System#nanoTime} outside tests)
   */
  CallAdmission(int maxInFlight, Duration maxQueueTime, LongSupplier nanoTime) {
    if (maxInFlight <= 0) {
      throw new IllegalArgumentException("maxInFlight must be positive");
    }
    if (maxQueueTime.isNegative()) {
      throw new IllegalArgumentException("maxQueueTime must not be negative");
    }
    this.permits = new Semaphore(maxInFlight);
    this.maxQueueNanos = maxQueueTime.isZero() ? Long.MAX_VALUE : maxQueueTime.toNanos();
    this.nanoTime = nanoTime;
    for (int i = 0; i < refused.length; i++) {
      refused[i] = new LongAdder();
    }
  }

  long refused(Refusal why) {
    return refused[why.ordinal()].sum();
  }

  /** Stamps each call's arrival on the transport thread, before it queues for a thread. */
  ServerStreamTracer.Factory arrivalStamp() {
    return new ServerStreamTracer.Factory() {
      @Override
      public ServerStreamTracer newServerStreamTracer(String method, Metadata headers) {
        long arrived = nanoTime.getAsLong();
        return new ServerStreamTracer() {
          @Override
          public Context filterContext(Context context) {
            return context.withValue(ARRIVED, arrived);
          }
        };
      }
    };
  }

  @Override
  public <Q, R> ServerCall.Listener<Q> interceptCall(
      ServerCall<Q, R> call, Metadata headers, ServerCallHandler<Q, R> next) {
    Context context = Context.current();
    if (context.isCancelled()) { // gRPC has closed the call already
      refused[Refusal.DEADLINE.ordinal()].increment();
      return new ServerCall.Listener<>() {};
    }
    Long arrived = context.getDeadline() == null ? ARRIVED.get(context) : null;
    if (arrived != null) {
      long waited = nanoTime.getAsLong() - arrived;
      if (waited > maxQueueNanos) {
        return refuse(
            call,
            Refusal.QUEUE_TIME,
            "overloaded: the call waited "
                + TimeUnit.NANOSECONDS.toMillis(waited)
                + " ms for a thread");
      }
    }
    if (!permits.tryAcquire()) {
      return refuse(call, Refusal.IN_FLIGHT, "overloaded: too many calls in flight");
    }
    AtomicBoolean released = new AtomicBoolean();
    Runnable release =
        () -> {
          if (released.compareAndSet(false, true)) {
            permits.release();
          }
        };
    ServerCall.Listener<Q> delegate;
    try {
      delegate = next.startCall(call, headers);
    } catch (RuntimeException e) {
      release.run();
      throw e;
    }
    return new ForwardingServerCallListener.SimpleForwardingServerCallListener<>(delegate) {
      @Override
      public void onComplete() {
        try {
          super.onComplete();
        } finally {
          release.run();
        }
      }

      @Override
      public void onCancel() {
        try {
          super.onCancel();
        } finally {
          release.run();
        }
      }
    };
  }

  private <Q, R> ServerCall.Listener<Q> refuse(
      ServerCall<Q, R> call, Refusal why, String description) {
    refused[why.ordinal()].increment();
    call.close(Status.RESOURCE_EXHAUSTED.withDescription(description), new Metadata());
    return new ServerCall.Listener<>() {};
  }
}
