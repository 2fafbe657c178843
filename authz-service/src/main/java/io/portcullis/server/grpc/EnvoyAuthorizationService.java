package io.portcullis.server.grpc;

import io.envoyproxy.envoy.service.auth.v3.AuthorizationGrpc;
import io.envoyproxy.envoy.service.auth.v3.CheckRequest;
import io.envoyproxy.envoy.service.auth.v3.CheckResponse;
import io.grpc.BindableService;
import io.grpc.Context;
import io.grpc.Deadline;
import io.grpc.MethodDescriptor;
import io.grpc.ServerServiceDefinition;
import io.grpc.ServiceDescriptor;
import io.grpc.protobuf.ProtoUtils;
import io.grpc.stub.ServerCalls;
import io.grpc.stub.StreamObserver;
import io.portcullis.decision.Decision;
import io.portcullis.decision.DecisionIds;
import io.portcullis.decision.DecisionPipeline;
import io.portcullis.request.RequestAttributes;
import java.time.InstantSource;
import java.util.concurrent.TimeUnit;
import org.jspecify.annotations.Nullable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Envoy's ext_authz {@code Check}: CheckRequest in, one decision, CheckResponse out. It always
 * answers with a {@code CheckResponse}, never a gRPC error: a malformed request is a {@code
 * malformed_request} deny, and an unexpected failure inside the pipeline (a bug) is a fail-closed
 * 500 deny that is logged with the decision id.
 *
 * <p>That includes a request protobuf cannot parse: {@link #bindService()} registers {@code Check}
 * with {@link CheckRequestMarshaller}, which reads a body or header values that are not UTF-8 as
 * bytes and makes an unreadable message a {@code malformed_request} deny, decided and audited here,
 * instead of the gRPC error grpc-java's own marshaller would end the call with.
 *
 * <p>The call's deadline ({@code grpc-timeout}: Envoy's ext_authz {@code timeout}, 200 ms by
 * default) bounds the decision's wait for Redis (limits and {@code protect.failed_auth}): Redis
 * that has not answered by four fifths of the time the call had left when it started is treated as
 * failed for this call, so {@code on_backend_failure} decides while Envoy still waits, rather than
 * Envoy giving up on a Redis slower than its timeout but within Portcullis's ({@code
 * ratelimit.redis.timeout}, 250 ms by default) and answering by its own {@code failure_mode_allow}.
 * A call without a deadline waits for Redis up to {@code ratelimit.redis.timeout}.
 */
public final class EnvoyAuthorizationService
    implements BindableService, AuthorizationGrpc.AsyncService {
  private static final Logger log = LoggerFactory.getLogger(EnvoyAuthorizationService.class);

  private final DecisionPipeline pipeline;
  private final DecisionIds ids;

  public EnvoyAuthorizationService(DecisionPipeline pipeline, InstantSource clock) {
    this.pipeline = pipeline;
    this.ids = new DecisionIds(clock);
  }

  /**
   * The Authorization service with {@code Check}'s request parsed by {@link
   * CheckRequestMarshaller}; the same name, schema and wire format as the generated binding.
   */
  @Override
  public ServerServiceDefinition bindService() {
    MethodDescriptor<CheckRequestMarshaller.Inbound, CheckResponse> check =
        AuthorizationGrpc.getCheckMethod().toBuilder(
                CheckRequestMarshaller.INSTANCE,
                ProtoUtils.marshaller(CheckResponse.getDefaultInstance()))
            .build();
    ServiceDescriptor service =
        ServiceDescriptor.newBuilder(AuthorizationGrpc.SERVICE_NAME)
            .setSchemaDescriptor(AuthorizationGrpc.getServiceDescriptor().getSchemaDescriptor())
            .addMethod(check)
            .build();
    return ServerServiceDefinition.builder(service)
        .addMethod(
            check,
            ServerCalls.asyncUnaryCall(
                (inbound, responses) -> check(inbound.request(), inbound.refusal(), responses)))
        .build();
  }

  @Override
  public void check(CheckRequest request, StreamObserver<CheckResponse> responses) {
    check(request, null, responses);
  }

  private void check(
      CheckRequest request, @Nullable String refusal, StreamObserver<CheckResponse> responses) {
    CheckResponse response;
    try {
      Deadline deadline = Context.current().getDeadline();
      long answerBy =
          deadline == null
              ? 0
              : System.nanoTime() + CallBudget.usable(deadline.timeRemaining(TimeUnit.NANOSECONDS));
      RequestAttributes attributes = CheckRequests.toAttributes(request, refusal);
      Decision decision =
          deadline == null ? pipeline.decide(attributes) : pipeline.decideBy(attributes, answerBy);
      response = CheckResponses.toCheckResponse(decision);
    } catch (RuntimeException | StackOverflowError e) {
      // A StackOverflowError (a pathological body or schema) leaves the JVM usable: it must end
      // as the fail-closed deny too, not as a gRPC UNKNOWN that a failure_mode_allow proxy allows.
      String id = ids.mint();
      log.error("decision {} failed unexpectedly; denied with 500", id, e);
      response = CheckResponses.internalError(id);
    }
    responses.onNext(response);
    responses.onCompleted();
  }
}
