package io.portcullis.server.grpc;

import io.envoyproxy.envoy.service.auth.v3.AuthorizationGrpc;
import io.envoyproxy.envoy.service.auth.v3.CheckRequest;
import io.envoyproxy.envoy.service.auth.v3.CheckResponse;
import io.grpc.stub.StreamObserver;
import io.portcullis.decision.DecisionIds;
import io.portcullis.decision.DecisionPipeline;
import java.time.InstantSource;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Envoy's ext_authz {@code Check}: CheckRequest in, one decision, CheckResponse out. It always
 * answers with a {@code CheckResponse}, never a gRPC error: a malformed request is a {@code
 * malformed_request} deny, and an unexpected failure inside the pipeline (a bug) is a fail-closed
 * 500 deny that is logged with the decision id.
 */
public final class EnvoyAuthorizationService extends AuthorizationGrpc.AuthorizationImplBase {
  private static final Logger log = LoggerFactory.getLogger(EnvoyAuthorizationService.class);

  private final DecisionPipeline pipeline;
  private final DecisionIds ids;

  public EnvoyAuthorizationService(DecisionPipeline pipeline, InstantSource clock) {
    this.pipeline = pipeline;
    this.ids = new DecisionIds(clock);
  }

  @Override
  public void check(CheckRequest request, StreamObserver<CheckResponse> responses) {
    CheckResponse response;
    try {
      response =
          CheckResponses.toCheckResponse(pipeline.decide(CheckRequests.toAttributes(request)));
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
