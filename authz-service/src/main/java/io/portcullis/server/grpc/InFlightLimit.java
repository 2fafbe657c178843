package io.portcullis.server.grpc;

import io.grpc.ForwardingServerCallListener;
import io.grpc.Metadata;
import io.grpc.ServerCall;
import io.grpc.ServerCallHandler;
import io.grpc.ServerInterceptor;
import io.grpc.Status;
import java.util.concurrent.Semaphore;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.LongAdder;

/**
 * Bounds the calls in flight on the gRPC listener. Calls run on virtual threads, so without a bound
 * an overload (or a slow Redis) turns into an unbounded number of parked calls and, in the load
 * suite, a heap that grew past 200 MB without recovering. Past the bound a call is refused at once
 * with {@code RESOURCE_EXHAUSTED}; Envoy then applies its ext_authz failure policy (fail closed:
 * {@code failure_mode_allow: false}, {@code status_on_error}). Thread-safe.
 */
final class InFlightLimit implements ServerInterceptor {
  private final Semaphore permits;
  private final LongAdder rejected = new LongAdder();

  InFlightLimit(int maxInFlight) {
    if (maxInFlight <= 0) {
      throw new IllegalArgumentException("maxInFlight must be positive");
    }
    this.permits = new Semaphore(maxInFlight);
  }

  long rejected() {
    return rejected.sum();
  }

  @Override
  public <Q, R> ServerCall.Listener<Q> interceptCall(
      ServerCall<Q, R> call, Metadata headers, ServerCallHandler<Q, R> next) {
    if (!permits.tryAcquire()) {
      rejected.increment();
      call.close(Status.RESOURCE_EXHAUSTED.withDescription("overloaded"), new Metadata());
      return new ServerCall.Listener<>() {};
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
}
