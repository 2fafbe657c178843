package io.portcullis.server.grpc;

import static org.assertj.core.api.Assertions.assertThat;

import com.google.rpc.Code;
import io.envoyproxy.envoy.config.core.v3.HeaderValue;
import io.envoyproxy.envoy.config.core.v3.HeaderValueOption;
import io.envoyproxy.envoy.service.auth.v3.AttributeContext;
import io.envoyproxy.envoy.service.auth.v3.AuthorizationGrpc;
import io.envoyproxy.envoy.service.auth.v3.CheckRequest;
import io.envoyproxy.envoy.service.auth.v3.CheckResponse;
import io.grpc.ManagedChannel;
import io.grpc.Server;
import io.grpc.inprocess.InProcessChannelBuilder;
import io.grpc.inprocess.InProcessServerBuilder;
import io.portcullis.decision.Decision;
import io.portcullis.decision.DecisionPipeline;
import io.portcullis.limit.LimitOutcome;
import io.portcullis.limit.LimitRequest;
import io.portcullis.limit.RateLimiter;
import io.portcullis.testing.EnvoyChecks;
import io.portcullis.testing.FakeClock;
import io.portcullis.testing.SamplePolicy;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

class EnvoyAuthorizationServiceTest {
  final FakeClock clock = FakeClock.at("2026-11-22T10:00:00Z");
  final List<Decision> audited = new ArrayList<>();
  Server server;
  ManagedChannel channel;
  AuthorizationGrpc.AuthorizationBlockingStub stub;

  @BeforeEach
  void start() throws Exception {
    DecisionPipeline pipeline =
        DecisionPipeline.builder()
            .policy(() -> SamplePolicy.POLICY)
            .clock(clock)
            .audit(audited::add)
            .build();
    String name = InProcessServerBuilder.generateName();
    server =
        InProcessServerBuilder.forName(name)
            .directExecutor()
            .addService(new EnvoyAuthorizationService(pipeline, clock))
            .build()
            .start();
    channel = InProcessChannelBuilder.forName(name).directExecutor().build();
    stub = AuthorizationGrpc.newBlockingStub(channel);
  }

  @AfterEach
  void stop() {
    channel.shutdownNow();
    server.shutdownNow();
  }

  @Test
  void check_anonymousStatus_allowsWithIdentityHeadersAndMetadata() {
    CheckResponse r = stub.check(EnvoyChecks.get("/v1/status").requestId("req-1").build());
    assertThat(r.getStatus().getCode()).isEqualTo(Code.OK_VALUE);
    assertThat(headers(r.getOkResponse().getHeadersList()))
        .containsEntry("x-portcullis-segment", "public")
        .containsEntry("x-portcullis-principal", "anonymous")
        .containsEntry("x-portcullis-credential", "anonymous")
        .containsEntry("x-portcullis-decision-id", "req-1");
    assertThat(headers(r.getOkResponse().getResponseHeadersToAddList()))
        .containsEntry("x-portcullis-decision-id", "req-1");
    assertThat(r.getOkResponse().getHeadersList())
        .allSatisfy(
            h ->
                assertThat(h.getAppendAction())
                    .isEqualTo(HeaderValueOption.HeaderAppendAction.OVERWRITE_IF_EXISTS_OR_ADD));
    Map<String, String> md =
        r.getDynamicMetadata().getFieldsMap().entrySet().stream()
            .collect(Collectors.toMap(Map.Entry::getKey, e -> e.getValue().getStringValue()));
    assertThat(md)
        .containsEntry("segment", "public")
        .containsEntry("principal", "anonymous")
        .containsEntry("credential", "anonymous")
        .containsEntry("rule", "status")
        .containsEntry("decision_id", "req-1")
        .containsEntry("policy_version", SamplePolicy.POLICY.version())
        .doesNotContainKey("client");
  }

  /**
   * Envoy sets {@code attributes.request.http.id} to its stream id (a decimal 64-bit number), which
   * is not the request's {@code x-request-id}: the decision id is the former (docs/decisions.md,
   * the contract error), whatever {@code x-request-id} says.
   */
  @Test
  void check_decisionIdIsEnvoysStreamId_notTheXRequestIdHeader() {
    CheckResponse r =
        stub.check(
            EnvoyChecks.get("/v1/status")
                .requestId("8723490712398471233")
                .header("x-request-id", "5f1c9f3e-6a41-4d43-9b7c-2b1e8f1d2a33")
                .build());

    assertThat(headers(r.getOkResponse().getHeadersList()))
        .containsEntry("x-portcullis-decision-id", "8723490712398471233");
    assertThat(r.getDynamicMetadata().getFieldsOrThrow("decision_id").getStringValue())
        .isEqualTo("8723490712398471233");
  }

  @Test
  void check_invalidToken_isUnauthenticatedWith401ProblemAndWwwAuthenticate() {
    CheckResponse r =
        stub.check(
            EnvoyChecks.get("/v1/status").header("authorization", "Bearer forged.jwt.x").build());
    assertThat(r.getStatus().getCode()).isEqualTo(Code.UNAUTHENTICATED_VALUE);
    assertThat(r.getDeniedResponse().getStatus().getCodeValue()).isEqualTo(401);
    assertThat(headers(r.getDeniedResponse().getHeadersList()))
        .containsEntry("www-authenticate", "Bearer error=\"invalid_token\"")
        .containsEntry("content-type", "application/problem+json")
        .containsKey("x-portcullis-decision-id");
    assertThat(r.getDeniedResponse().getBody())
        .contains("\"type\":\"urn:portcullis:error:invalid_token\"", "\"status\":401")
        .doesNotContain("forged");
  }

  @Test
  void check_forbidden_isPermissionDeniedWith403() {
    CheckResponse r = stub.check(EnvoyChecks.get("/v1/orders").build());
    assertThat(r.getStatus().getCode()).isEqualTo(Code.PERMISSION_DENIED_VALUE);
    assertThat(r.getDeniedResponse().getStatus().getCodeValue()).isEqualTo(403);
    assertThat(r.getDeniedResponse().getBody()).contains("urn:portcullis:error:no_matching_rule");
  }

  @Test
  void check_emptyRequest_isA400DenyNotAGrpcError() {
    CheckResponse r = stub.check(CheckRequest.getDefaultInstance());
    assertThat(r.getStatus().getCode()).isEqualTo(Code.PERMISSION_DENIED_VALUE);
    assertThat(r.getDeniedResponse().getStatus().getCodeValue()).isEqualTo(400);
    assertThat(r.getDeniedResponse().getBody()).contains("malformed_request");
  }

  @Test
  void check_spoofedPortcullisHeaders_areOverwrittenOrRemoved() {
    CheckResponse r =
        stub.check(
            EnvoyChecks.get("/v1/status")
                .header("x-portcullis-segment", "internal")
                .header("x-portcullis-principal", "admin")
                .header("x-portcullis-role", "root")
                .build());
    assertThat(headers(r.getOkResponse().getHeadersList()))
        .containsEntry("x-portcullis-segment", "public")
        .containsEntry("x-portcullis-principal", "anonymous");
    // anonymous has no client: a client's own x-portcullis-client goes too, seen or not
    assertThat(r.getOkResponse().getHeadersToRemoveList())
        .containsExactlyInAnyOrder("x-portcullis-role", "x-portcullis-client");
  }

  @Test
  void check_spoofedXForwardedFor_doesNotChangeTheSource() {
    // The partner segment denies 198.51.100.0/24; a forged XFF claiming another address must not
    // help.
    CheckResponse r =
        stub.check(
            EnvoyChecks.get("/v1/orders")
                .header("x-api-key", "pk_acme")
                .header("x-forwarded-for", "203.0.113.50")
                .source("198.51.100.9")
                .build());
    assertThat(r.getDeniedResponse().getBody()).contains("urn:portcullis:error:ip_denied");
  }

  @Test
  void check_apiKeyPartner_credentialHeaderStripped() {
    CheckResponse r =
        stub.check(EnvoyChecks.get("/v1/orders/42").header("x-api-key", "pk_acme").build());
    assertThat(r.getStatus().getCode()).isEqualTo(Code.OK_VALUE);
    assertThat(r.getOkResponse().getHeadersToRemoveList()).contains("x-api-key");
    assertThat(headers(r.getOkResponse().getHeadersList()))
        .containsEntry("x-portcullis-client", "acme");
  }

  @Test
  void check_rawHeaderMap_isReadLikeTheHeadersMap() {
    CheckRequest base = EnvoyChecks.get("/v1/orders/42").build();
    AttributeContext.HttpRequest http =
        base.getAttributes().getRequest().getHttp().toBuilder()
            .clearHeaders()
            .setHeaderMap(
                io.envoyproxy.envoy.config.core.v3.HeaderMap.newBuilder()
                    .addHeaders(
                        HeaderValue.newBuilder()
                            .setKey("x-api-key")
                            .setRawValue(com.google.protobuf.ByteString.copyFromUtf8("pk_acme"))))
            .build();
    CheckRequest raw =
        base.toBuilder()
            .setAttributes(
                base.getAttributes().toBuilder()
                    .setRequest(base.getAttributes().getRequest().toBuilder().setHttp(http)))
            .build();
    CheckResponse r = stub.check(raw);
    assertThat(r.getStatus().getCode()).isEqualTo(Code.OK_VALUE);
    assertThat(headers(r.getOkResponse().getHeadersList()))
        .containsEntry("x-portcullis-segment", "partners");
  }

  /**
   * With {@code encode_raw_headers: true} (both envoy/*.yaml) Envoy sends no {@code headers} map:
   * every header, pseudo-headers included, is a {@code header_map} entry whose bytes are in {@code
   * raw_value} ({@code value} empty), a header sent twice is two entries, and Envoy's own {@code
   * x-envoy-auth-partial-body} is such an entry too; with {@code pack_as_bytes} the body is {@code
   * raw_body}. Every header the decision reads comes from there: the API key, {@code Authorization}
   * and the truncation mark here, {@code Content-Type} in {@link BodySchemaContentTypeCheckTest}.
   */
  @Test
  void check_encodeRawHeaders_everyHeaderTheDecisionReadsComesFromRawValue() {
    CheckRequest order =
        EnvoyChecks.request("POST", "/v1/orders")
            .header("x-api-key", "pk_acme")
            .header("content-type", "application/json")
            .body("{\"qty\":1}")
            .build();

    CheckResponse allowed =
        stub.check(asEnvoyWithRawHeaders(order, raw("x-envoy-auth-partial-body", "false")));
    assertThat(allowed.getStatus().getCode()).isEqualTo(Code.OK_VALUE);
    assertThat(headers(allowed.getOkResponse().getHeadersList()))
        .containsEntry("x-portcullis-segment", "partners")
        .containsEntry("x-portcullis-client", "acme");
    assertThat(allowed.getOkResponse().getHeadersToRemoveList()).contains("x-api-key");

    assertThat(
            stub.check(asEnvoyWithRawHeaders(order, raw("x-envoy-auth-partial-body", "true")))
                .getDeniedResponse()
                .getStatus()
                .getCodeValue())
        .as("Envoy's truncation mark, as a raw entry")
        .isEqualTo(413);

    CheckResponse expired =
        stub.check(
            asEnvoyWithRawHeaders(
                EnvoyChecks.get("/v1/status").header("authorization", "Bearer expired").build()));
    assertThat(expired.getDeniedResponse().getBody())
        .as("Authorization from raw_value")
        .contains("urn:portcullis:error:expired_token");

    CheckResponse obsText =
        stub.check(
            asEnvoyWithRawHeaders(
                EnvoyChecks.get("/v1/orders/42").build(),
                HeaderValue.newBuilder()
                    .setKey("x-api-key")
                    .setRawValue(
                        com.google.protobuf.ByteString.copyFrom(
                            new byte[] {'p', 'k', '_', 'a', 'c', 'm', 'e', (byte) 0xFF}))
                    .build()));
    assertThat(obsText.getDeniedResponse().getBody())
        .as("a key with a byte that is not UTF-8 is not pk_acme")
        .contains("urn:portcullis:error:unknown_key");
  }

  private static HeaderValue raw(String name, String value) {
    return HeaderValue.newBuilder()
        .setKey(name)
        .setRawValue(com.google.protobuf.ByteString.copyFromUtf8(value))
        .build();
  }

  /**
   * {@code check} as Envoy sends it with {@code encode_raw_headers} and {@code pack_as_bytes}: its
   * headers (and {@code more}) as {@code header_map} entries with {@code raw_value} only, the body
   * in {@code raw_body}.
   */
  private static CheckRequest asEnvoyWithRawHeaders(CheckRequest check, HeaderValue... more) {
    AttributeContext.HttpRequest http = check.getAttributes().getRequest().getHttp();
    io.envoyproxy.envoy.config.core.v3.HeaderMap.Builder map =
        io.envoyproxy.envoy.config.core.v3.HeaderMap.newBuilder();
    http.getHeadersMap().forEach((k, v) -> map.addHeaders(raw(k, v)));
    map.addAllHeaders(Arrays.asList(more));
    AttributeContext.HttpRequest.Builder b = http.toBuilder().clearHeaders().setHeaderMap(map);
    if (!http.getBody().isEmpty()) {
      b.clearBody().setRawBody(com.google.protobuf.ByteString.copyFromUtf8(http.getBody()));
    }
    return check.toBuilder()
        .setAttributes(
            check.getAttributes().toBuilder()
                .setRequest(check.getAttributes().getRequest().toBuilder().setHttp(b)))
        .build();
  }

  /**
   * With {@code include_tls_session} Envoy 1.35 sends a {@code tls_session} on every request, an
   * empty one on a plain-text connection: only a server name (SNI, which only a TLS handshake
   * carries) shows TLS; otherwise the scheme decides. The partners segment requires TLS.
   */
  @Test
  void check_emptyTlsSessionOnPlainHttp_isNotTls_butOneWithAServerNameIs() {
    CheckRequest plain =
        EnvoyChecks.get("/v1/orders/42").header("x-api-key", "pk_acme").scheme("http").build();

    CheckResponse emptySession =
        stub.check(withTlsSession(plain, AttributeContext.TLSSession.getDefaultInstance()));
    assertThat(emptySession.getDeniedResponse().getStatus().getCodeValue()).isEqualTo(403);
    assertThat(emptySession.getDeniedResponse().getBody())
        .contains("urn:portcullis:error:tls_required");

    CheckResponse withSni =
        stub.check(
            withTlsSession(
                plain, AttributeContext.TLSSession.newBuilder().setSni("api.example.com").build()));
    assertThat(withSni.getStatus().getCode()).isEqualTo(Code.OK_VALUE);

    CheckResponse httpsWithoutSni =
        stub.check(
            withTlsSession(
                EnvoyChecks.get("/v1/orders/42").header("x-api-key", "pk_acme").build(),
                AttributeContext.TLSSession.getDefaultInstance()));
    assertThat(httpsWithoutSni.getStatus().getCode())
        .as("TLS without SNI: the listener's scheme says https")
        .isEqualTo(Code.OK_VALUE);
  }

  private static CheckRequest withTlsSession(
      CheckRequest check, AttributeContext.TLSSession session) {
    return check.toBuilder()
        .setAttributes(check.getAttributes().toBuilder().setTlsSession(session))
        .build();
  }

  @Test
  void check_stackOverflowInTheDecision_isTheFailClosed500_notAGrpcError() {
    DecisionPipeline broken =
        DecisionPipeline.builder()
            .policy(
                () -> {
                  throw new StackOverflowError("a pathological schema");
                })
            .build();
    List<CheckResponse> answers = new java.util.ArrayList<>();
    List<Throwable> errors = new java.util.ArrayList<>();
    new EnvoyAuthorizationService(broken, FakeClock.at("2026-11-22T10:00:00Z"))
        .check(
            EnvoyChecks.get("/v1/status").build(),
            new io.grpc.stub.StreamObserver<>() {
              @Override
              public void onNext(CheckResponse value) {
                answers.add(value);
              }

              @Override
              public void onError(Throwable t) {
                errors.add(t);
              }

              @Override
              public void onCompleted() {}
            });

    assertThat(errors).isEmpty();
    assertThat(answers).singleElement();
    assertThat(answers.get(0).getDeniedResponse().getStatus().getCodeValue()).isEqualTo(500);
    assertThat(answers.get(0).getDeniedResponse().getBody()).contains("internal_error");
  }

  @Test
  void check_aMillionTinyHeaderEntries_isMalformedWithoutReadingThem() {
    CheckRequest base = EnvoyChecks.get("/v1/status").build();
    io.envoyproxy.envoy.config.core.v3.HeaderMap.Builder map =
        io.envoyproxy.envoy.config.core.v3.HeaderMap.newBuilder();
    HeaderValue tiny = HeaderValue.newBuilder().setKey("a").setValue("x").build();
    for (int i = 0; i < 200_000; i++) {
      map.addHeaders(tiny);
    }
    AttributeContext.HttpRequest http =
        base.getAttributes().getRequest().getHttp().toBuilder()
            .clearHeaders()
            .setHeaderMap(map)
            .build();
    CheckRequest many =
        base.toBuilder()
            .setAttributes(
                base.getAttributes().toBuilder()
                    .setRequest(base.getAttributes().getRequest().toBuilder().setHttp(http)))
            .build();

    CheckResponse r =
        org.junit.jupiter.api.Assertions.assertTimeoutPreemptively(
            java.time.Duration.ofSeconds(5), () -> stub.check(many));

    assertThat(r.getDeniedResponse().getStatus().getCodeValue()).isEqualTo(400);
    assertThat(r.getDeniedResponse().getBody()).contains("malformed_request");
  }

  @Test
  void check_partialBodyHeader_givesBodyTooLarge413() {
    CheckResponse r =
        stub.check(
            EnvoyChecks.request("POST", "/v1/orders")
                .header("x-api-key", "pk_acme")
                .header("x-envoy-auth-partial-body", "true")
                .body("{\"qty\":")
                .build());
    assertThat(r.getDeniedResponse().getStatus().getCodeValue()).isEqualTo(413);
  }

  /**
   * Envoy adds {@code x-envoy-auth-partial-body: true} when it truncated the body; a client can
   * send the header too, and with {@code encode_raw_headers} its copy is the first {@code
   * header_map} entry. Any {@code true} marks the body truncated, in any entry or list element.
   */
  @Test
  void check_aClientsPartialBodyFalse_doesNotHideEnvoysTrue() {
    CheckRequest base =
        EnvoyChecks.request("POST", "/v1/orders")
            .header("x-api-key", "pk_acme")
            .body("{\"qty\":1}") // passes the schema: only the truncation mark denies it
            .build();
    io.envoyproxy.envoy.config.core.v3.HeaderMap.Builder map =
        io.envoyproxy.envoy.config.core.v3.HeaderMap.newBuilder();
    base.getAttributes()
        .getRequest()
        .getHttp()
        .getHeadersMap()
        .forEach((k, v) -> map.addHeaders(HeaderValue.newBuilder().setKey(k).setValue(v)));
    map.addHeaders(HeaderValue.newBuilder().setKey("x-envoy-auth-partial-body").setValue("false"));
    map.addHeaders(HeaderValue.newBuilder().setKey("x-envoy-auth-partial-body").setValue("true"));
    AttributeContext.HttpRequest http =
        base.getAttributes().getRequest().getHttp().toBuilder()
            .clearHeaders()
            .setHeaderMap(map)
            .build();
    CheckRequest twoEntries =
        base.toBuilder()
            .setAttributes(
                base.getAttributes().toBuilder()
                    .setRequest(base.getAttributes().getRequest().toBuilder().setHttp(http)))
            .build();

    assertThat(stub.check(twoEntries).getDeniedResponse().getStatus().getCodeValue())
        .as("header_map: false, then true")
        .isEqualTo(413);
    for (String joined : List.of("false,true", "false, TRUE")) {
      CheckResponse r =
          stub.check(
              EnvoyChecks.request("POST", "/v1/orders")
                  .header("x-api-key", "pk_acme")
                  .header("x-envoy-auth-partial-body", joined)
                  .body("{\"qty\":1}")
                  .build());
      assertThat(r.getDeniedResponse().getStatus().getCodeValue()).as(joined).isEqualTo(413);
    }
    CheckResponse complete =
        stub.check(
            EnvoyChecks.request("POST", "/v1/orders")
                .header("x-api-key", "pk_acme")
                .header("x-envoy-auth-partial-body", "false")
                .body("{\"qty\":1}")
                .build());
    assertThat(complete.getStatus().getCode()).as("false alone: complete").isEqualTo(Code.OK_VALUE);
  }

  @Test
  void check_pathTricks_neverReachAdmin() {
    for (String path : List.of("/v1/orders/../admin/x", "/v1//admin/x")) {
      CheckResponse r = stub.check(EnvoyChecks.get(path).header("x-api-key", "pk_acme").build());
      assertThat(r.getDeniedResponse().getBody()).as(path).contains("denied_by_rule");
    }
    for (String path :
        List.of(
            "/v1/orders%2F..%2Fadmin",
            "/v1/orders\\..\\admin", "/../v1", "/v1/orders/%2e%2e/admin/x")) {
      CheckResponse r = stub.check(EnvoyChecks.get(path).header("x-api-key", "pk_acme").build());
      assertThat(r.getDeniedResponse().getStatus().getCodeValue()).as(path).isEqualTo(400);
    }
  }

  // Envoy before 1.26 put a body it did not pack as bytes (pack_as_bytes only works on the filter,
  // envoyproxy/envoy#35623) into the string field body as it was: protobuf would refuse to parse
  // it.
  @Test
  void check_binaryBodyInTheStringField_isValidatedAsBytes_notAGrpcError() {
    CheckResponse r =
        EnvoyChecks.send(
            channel,
            EnvoyChecks.request("POST", "/v1/orders")
                .header("x-api-key", "pk_acme")
                .unpackedBody(new byte[] {(byte) 0x89, 'P', 'N', 'G', (byte) 0xFF, 0, 1})
                .build());

    assertThat(r.getDeniedResponse().getStatus().getCodeValue()).isEqualTo(400);
    assertThat(r.getDeniedResponse().getBody()).contains("urn:portcullis:error:invalid_body");
    assertThat(audited)
        .singleElement()
        .satisfies(d -> assertThat(denyReason(d)).isEqualTo("invalid_body"));
  }

  @Test
  void check_bodyWithNonUtf8BytesInTheStringField_reachesTheSchema() {
    byte[] body = "{\"qty\":1,\"note\":\"caf\u00e9\"}".getBytes(StandardCharsets.ISO_8859_1);

    CheckResponse r =
        EnvoyChecks.send(
            channel,
            EnvoyChecks.request("POST", "/v1/orders")
                .header("x-api-key", "pk_acme")
                .unpackedBody(body)
                .build());

    assertThat(r.getStatus().getCode()).isEqualTo(Code.OK_VALUE);
    assertThat(audited).singleElement().isInstanceOf(Decision.Allow.class);
  }

  // Without encode_raw_headers, Envoy before 1.26 forwarded obs-text header bytes (0x80-0xFF) in
  // the
  // headers map of strings as they were.
  @Test
  void check_headerValueWithObsTextBytes_isDecidedWithEveryHeader() {
    CheckResponse r =
        EnvoyChecks.send(
            channel,
            EnvoyChecks.get("/v1/orders/42")
                .header("x-api-key", "pk_acme")
                .headerBytes("x-note", new byte[] {'c', 'a', 'f', (byte) 0xE9, (byte) 0xFF})
                .build());

    assertThat(r.getStatus().getCode()).isEqualTo(Code.OK_VALUE);
    assertThat(headers(r.getOkResponse().getHeadersList()))
        .containsEntry("x-portcullis-segment", "partners");
    assertThat(audited).singleElement().isInstanceOf(Decision.Allow.class);
  }

  @Test
  void check_credentialWithObsTextBytes_isReadAsItsBytes_andDoesNotMatch() {
    CheckResponse r =
        EnvoyChecks.send(
            channel,
            EnvoyChecks.get("/v1/orders/42")
                .headerBytes(
                    "x-api-key", new byte[] {'p', 'k', '_', 'a', 'c', 'm', 'e', (byte) 0xFF})
                .build());

    assertThat(r.getDeniedResponse().getStatus().getCodeValue()).isEqualTo(401);
    assertThat(audited).singleElement().isInstanceOf(Decision.Deny.class);
  }

  @Test
  void check_pathNotUtf8_isAnAuditedMalformedRequest() {
    CheckResponse r =
        EnvoyChecks.send(
            channel,
            EnvoyChecks.get("/")
                .requestId("req-7")
                .source("203.0.113.9")
                .pathBytes(new byte[] {'/', 'v', '1', '/', (byte) 0xC3, '(', 'x'})
                .build());

    assertThat(r.getStatus().getCode()).isEqualTo(Code.PERMISSION_DENIED_VALUE);
    assertThat(r.getDeniedResponse().getStatus().getCodeValue()).isEqualTo(400);
    assertThat(r.getDeniedResponse().getBody()).contains("malformed_request");
    assertThat(audited)
        .singleElement()
        .satisfies(
            d -> {
              assertThat(denyReason(d)).isEqualTo("malformed_request");
              assertThat(((Decision.Deny) d).detail()).isEqualTo("not UTF-8: path");
              assertThat(d.context().decisionId()).isEqualTo("req-7");
              assertThat(d.context().sourceIp()).isEqualTo("203.0.113.9");
            });
  }

  @Test
  void check_truncatedOrGarbageMessage_isAnAuditedMalformedRequest_notAGrpcError() {
    byte[] whole =
        EnvoyChecks.get("/v1/status").header("x-api-key", "pk_acme").build().toByteArray();
    List<byte[]> unreadable =
        List.of(
            Arrays.copyOf(whole, whole.length - 3),
            new byte[] {(byte) 0xFF, (byte) 0xFF, (byte) 0xFF, (byte) 0xFF, 0x0F},
            "not protobuf at all".getBytes(StandardCharsets.UTF_8));

    for (byte[] bytes : unreadable) {
      CheckResponse r = EnvoyChecks.send(channel, bytes);
      assertThat(r.getDeniedResponse().getStatus().getCodeValue()).isEqualTo(400);
      assertThat(r.getDeniedResponse().getBody()).contains("malformed_request");
    }
    assertThat(audited)
        .hasSize(unreadable.size())
        .allSatisfy(
            d -> {
              assertThat(denyReason(d)).isEqualTo("malformed_request");
              assertThat(((Decision.Deny) d).detail()).startsWith("unreadable CheckRequest");
            });
  }

  @Test
  void checkWithADeadline_limitsAnswerByFourFifthsOfIt_checkWithoutOne_byTheRedisTimeout()
      throws Exception {
    List<String> waits = new ArrayList<>();
    long[] answerBy = new long[1];
    RateLimiter limits =
        new RateLimiter() {
          @Override
          public LimitOutcome acquire(List<LimitRequest> requests, boolean consume) {
            waits.add("redis timeout");
            return LimitOutcome.admitted(null);
          }

          @Override
          public LimitOutcome acquire(
              List<LimitRequest> requests, boolean consume, long answerByNanos) {
            waits.add("deadline");
            answerBy[0] = answerByNanos;
            return LimitOutcome.admitted(null);
          }
        };
    DecisionPipeline pipeline =
        DecisionPipeline.builder()
            .policy(() -> SamplePolicy.POLICY)
            .limiter(limits)
            .clock(clock)
            .build();
    String name = InProcessServerBuilder.generateName();
    Server limited =
        InProcessServerBuilder.forName(name)
            .directExecutor()
            .addService(new EnvoyAuthorizationService(pipeline, clock))
            .build()
            .start();
    ManagedChannel ch = InProcessChannelBuilder.forName(name).directExecutor().build();
    try {
      AuthorizationGrpc.AuthorizationBlockingStub s = AuthorizationGrpc.newBlockingStub(ch);
      CheckRequest partner = EnvoyChecks.get("/v1/orders").header("x-api-key", "pk_acme").build();

      long before = System.nanoTime();
      CheckResponse bounded = s.withDeadlineAfter(1, TimeUnit.SECONDS).check(partner);
      long after = System.nanoTime();
      CheckResponse unbounded = s.check(partner);

      assertThat(bounded.getStatus().getCode()).isEqualTo(Code.OK_VALUE);
      assertThat(unbounded.getStatus().getCode()).isEqualTo(Code.OK_VALUE);
      assertThat(waits).containsExactly("deadline", "redis timeout");
      // four fifths of the time left when the call started, which began between before and after
      assertThat(answerBy[0] - before).isGreaterThanOrEqualTo(800_000_000L);
      assertThat(answerBy[0] - after).isLessThanOrEqualTo(800_000_000L);
    } finally {
      ch.shutdownNow();
      limited.shutdownNow();
    }
  }

  private static String denyReason(Decision d) {
    return d instanceof Decision.Deny deny ? deny.reason().code() : "allowed";
  }

  private static Map<String, String> headers(List<HeaderValueOption> options) {
    return options.stream()
        .collect(Collectors.toMap(o -> o.getHeader().getKey(), o -> o.getHeader().getValue()));
  }
}
