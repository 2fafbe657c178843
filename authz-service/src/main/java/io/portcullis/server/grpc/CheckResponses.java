package io.portcullis.server.grpc;

import com.google.protobuf.Struct;
import com.google.protobuf.Value;
import com.google.rpc.Code;
import com.google.rpc.Status;
import io.envoyproxy.envoy.config.core.v3.HeaderValue;
import io.envoyproxy.envoy.config.core.v3.HeaderValueOption;
import io.envoyproxy.envoy.service.auth.v3.CheckResponse;
import io.envoyproxy.envoy.service.auth.v3.DeniedHttpResponse;
import io.envoyproxy.envoy.service.auth.v3.OkHttpResponse;
import io.envoyproxy.envoy.type.v3.HttpStatus;
import io.portcullis.decision.Decision;
import io.portcullis.decision.DecisionContext;
import io.portcullis.decision.ResponseHeader;
import io.portcullis.decision.ResponsePlan;
import io.portcullis.decision.Responses;
import io.portcullis.identity.Identity;
import org.jspecify.annotations.Nullable;

/**
 * Translates a {@link Decision} into Envoy's {@code CheckResponse} (interfaces.md "Envoy ext_authz
 * (gRPC)").
 *
 * <ul>
 *   <li>Allow: status OK; {@code ok_response.headers} (identity headers, overwriting any client
 *       copy), {@code headers_to_remove}, {@code response_headers_to_add} (decision id, RateLimit).
 *   <li>Deny: {@code PERMISSION_DENIED} ({@code UNAUTHENTICATED} for 401) and a {@code
 *       denied_response} with the HTTP status, headers and problem+json body.
 *   <li>Both: {@code dynamic_metadata} with principal, segment, client, credential, rule,
 *       decision_id and policy_version (absent values omitted), for access logs, routing and the
 *       rate-limit filter's {@code metadata} descriptors.
 * </ul>
 */
public final class CheckResponses {
  private CheckResponses() {}

  public static CheckResponse toCheckResponse(Decision decision) {
    ResponsePlan plan = decision.response();
    CheckResponse.Builder out = CheckResponse.newBuilder().setDynamicMetadata(metadata(decision));
    switch (decision) {
      case Decision.Allow a -> {
        OkHttpResponse.Builder ok = OkHttpResponse.newBuilder();
        for (ResponseHeader h : plan.upstreamHeaders()) {
          ok.addHeaders(option(h));
        }
        ok.addAllHeadersToRemove(plan.upstreamHeadersToRemove());
        for (ResponseHeader h : plan.clientHeaders()) {
          ok.addResponseHeadersToAdd(option(h));
        }
        out.setStatus(Status.newBuilder().setCode(Code.OK_VALUE)).setOkResponse(ok);
      }
      case Decision.Deny d -> {
        DeniedHttpResponse.Builder denied =
            DeniedHttpResponse.newBuilder()
                .setStatus(HttpStatus.newBuilder().setCodeValue(plan.status()))
                .setBody(plan.body());
        for (ResponseHeader h : plan.clientHeaders()) {
          denied.addHeaders(option(h));
        }
        int code = plan.status() == 401 ? Code.UNAUTHENTICATED_VALUE : Code.PERMISSION_DENIED_VALUE;
        out.setStatus(Status.newBuilder().setCode(code).setMessage(d.reason().code()))
            .setDeniedResponse(denied);
      }
    }
    return out.build();
  }

  /**
   * The fail-closed answer when deciding itself failed unexpectedly (a bug, never an expected
   * outcome): 500 with a problem body, so Envoy denies.
   */
  public static CheckResponse internalError(String decisionId) {
    ResponsePlan plan = Responses.internalError(decisionId);
    DeniedHttpResponse.Builder denied =
        DeniedHttpResponse.newBuilder()
            .setStatus(HttpStatus.newBuilder().setCodeValue(plan.status()))
            .setBody(plan.body());
    for (ResponseHeader h : plan.clientHeaders()) {
      denied.addHeaders(option(h));
    }
    return CheckResponse.newBuilder()
        .setStatus(
            Status.newBuilder().setCode(Code.PERMISSION_DENIED_VALUE).setMessage("internal_error"))
        .setDeniedResponse(denied)
        .build();
  }

  static Struct metadata(Decision decision) {
    DecisionContext c = decision.context();
    Identity id = c.identity();
    Struct.Builder s = Struct.newBuilder();
    put(s, "decision_id", c.decisionId());
    put(s, "policy_version", c.policyVersion());
    put(s, "decision", decision.outcome());
    if (id != null) {
      put(s, "principal", id.principal());
      put(s, "client", id.client());
      put(s, "credential", id.credential().wireName());
    }
    put(s, "segment", c.segment());
    put(s, "rule", c.rule());
    if (decision instanceof Decision.Deny d) {
      put(s, "reason", d.reason().code());
    }
    return s.build();
  }

  private static void put(Struct.Builder s, String key, @Nullable String value) {
    if (value != null && !value.isEmpty()) {
      s.putFields(key, Value.newBuilder().setStringValue(value).build());
    }
  }

  private static HeaderValueOption option(ResponseHeader h) {
    return HeaderValueOption.newBuilder()
        .setHeader(HeaderValue.newBuilder().setKey(h.name()).setValue(h.value()))
        .setAppendAction(HeaderValueOption.HeaderAppendAction.OVERWRITE_IF_EXISTS_OR_ADD)
        .build();
  }
}
