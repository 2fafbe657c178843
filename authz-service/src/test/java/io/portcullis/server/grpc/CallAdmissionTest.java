package io.portcullis.server.grpc;

import static org.assertj.core.api.Assertions.assertThat;

import io.grpc.Attributes;
import io.grpc.Context;
import io.grpc.Metadata;
import io.grpc.MethodDescriptor;
import io.grpc.ServerCall;
import io.grpc.ServerCallHandler;
import io.grpc.Status;
import io.grpc.testing.TestMethodDescriptors;
import java.time.Duration;
import java.util.concurrent.atomic.AtomicInteger;
import org.jspecify.annotations.Nullable;
import org.junit.jupiter.api.Test;

/**
 * The refusal that a real server cannot be made to show on demand: a call whose deadline passed (or
 * whose caller cancelled) while it waited for a thread. GrpcServerTest covers the other two over a
 * real listener.
 */
class CallAdmissionTest {

  /** A call that records how it was closed. */
  static final class RecordingCall extends ServerCall<Void, Void> {
    @Nullable Status closedWith;

    @Override
    public void request(int numMessages) {}

    @Override
    public void sendHeaders(Metadata headers) {}

    @Override
    public void sendMessage(Void message) {}

    @Override
    public void close(Status status, Metadata trailers) {
      closedWith = status;
    }

    @Override
    public boolean isCancelled() {
      return false;
    }

    @Override
    public Attributes getAttributes() {
      return Attributes.EMPTY;
    }

    @Override
    public MethodDescriptor<Void, Void> getMethodDescriptor() {
      return TestMethodDescriptors.voidMethod();
    }
  }

  final AtomicInteger started = new AtomicInteger();
  final ServerCallHandler<Void, Void> handler =
      (call, headers) -> {
        started.incrementAndGet();
        return new ServerCall.Listener<>() {};
      };

  @Test
  void aCallCancelledWhileQueued_isNotStarted_andCountedAsDeadline() {
    CallAdmission admission = new CallAdmission(10, Duration.ofMillis(200), System::nanoTime);
    RecordingCall call = new RecordingCall();
    Context.CancellableContext context = Context.current().withCancellation();
    context.cancel(null); // what gRPC does when the deadline passes

    context.run(() -> admission.interceptCall(call, new Metadata(), handler));

    assertThat(started).hasValue(0);
    assertThat(call.closedWith).as("gRPC has answered the caller already").isNull();
    assertThat(admission.refused(CallAdmission.Refusal.DEADLINE)).isEqualTo(1);
  }

  @Test
  void aLiveCall_withoutAnArrivalStamp_isStarted() {
    CallAdmission admission = new CallAdmission(10, Duration.ofMillis(200), System::nanoTime);
    RecordingCall call = new RecordingCall();

    admission.interceptCall(call, new Metadata(), handler);

    assertThat(started).hasValue(1);
    assertThat(call.closedWith).isNull();
    for (CallAdmission.Refusal r : CallAdmission.Refusal.values()) {
      assertThat(admission.refused(r)).isZero();
    }
  }
}
