package io.portcullis.service;

import static org.assertj.core.api.Assertions.assertThat;

import com.google.rpc.Code;
import com.nimbusds.jose.JWSAlgorithm;
import com.nimbusds.jose.JWSHeader;
import com.nimbusds.jose.crypto.MACSigner;
import com.nimbusds.jose.crypto.RSASSASigner;
import com.nimbusds.jose.jwk.RSAKey;
import com.nimbusds.jose.jwk.gen.RSAKeyGenerator;
import com.nimbusds.jwt.SignedJWT;
import io.envoyproxy.envoy.config.core.v3.HeaderValueOption;
import io.envoyproxy.envoy.service.auth.v3.AuthorizationGrpc;
import io.envoyproxy.envoy.service.auth.v3.CheckResponse;
import io.grpc.Grpc;
import io.grpc.InsecureChannelCredentials;
import io.grpc.ManagedChannel;
import io.grpc.health.v1.HealthCheckRequest;
import io.grpc.health.v1.HealthCheckResponse.ServingStatus;
import io.grpc.health.v1.HealthGrpc;
import io.portcullis.Portcullis;
import io.portcullis.audit.AuditQuery;
import io.portcullis.audit.AuditStore;
import io.portcullis.audit.ChainVerification;
import io.portcullis.config.RuntimeConfig;
import io.portcullis.identity.Secret;
import io.portcullis.proto.v1.DecisionRecord;
import io.portcullis.testing.EnvoyChecks;
import io.portcullis.testing.TestIssuer;
import io.portcullis.testing.TestRuntimeConfigs;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.time.InstantSource;
import java.util.Base64;
import java.util.List;
import java.util.Map;
import java.util.stream.Collectors;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The whole service over real sockets against a real OIDC issuer (mock-oauth2-server): every reason
 * code of identity, segments, guards and rules, and the token and path attacks, through Envoy's
 * real {@code CheckRequest}/{@code CheckResponse} messages.
 */
class PortcullisIT {
  static final String ADMIN_TOKEN = "it-admin-token-0123456789";
  @TempDir static Path dir;
  static TestIssuer issuer;
  static Portcullis service;
  static ManagedChannel channel;
  static AuthorizationGrpc.AuthorizationBlockingStub authz;

  @BeforeAll
  static void start() throws Exception {
    issuer = TestIssuer.start(InstantSource.system());
    Path policy = dir.resolve("policy.yaml");
    Files.writeString(
        policy,
        """
        version: 1
        identity:
          jwt:
            - name: main
              issuer: %s
              audiences: [orders-api]
              algorithms: [RS256]
              clock_skew: 5s
              claims: { subject: sub, client: azp, roles: roles, scopes: scope }
            - name: rot
              issuer: %s
              audiences: [orders-api]
              algorithms: [RS256]
        segments:
          - name: staff
            match: { credential: [jwt], roles_any: [staff] }
            rules:
              - { name: orders, methods: [GET], paths: ["/v1/orders", "/v1/orders/*"] }
              - { name: no-admin, effect: deny, paths: ["/v1/admin/**"] }
          - name: web
            match: { credential: [jwt] }
            require_tls: true
            rules:
              - { name: me, methods: [GET], paths: ["/v1/me"] }
              - { name: write, methods: [POST], paths: ["/v1/orders"], scopes_any: ["orders:write"] }
          - name: public
            match: { credential: [anonymous] }
            network: { deny: [198.51.100.0/24] }
            rules:
              - { name: status, methods: [GET], paths: ["/v1/status"] }
              - name: ping
                methods: [GET]
                paths: ["/v1/ping"]
                limits: [{ name: ping-rate, key: [ip], rate: 1/m, burst: 2 }]
        protect:
          failed_auth: { key: "header:x-client-id", threshold: 3, window: 1m, block_for: 10m }
        """
            .formatted(issuer.issuer("main"), issuer.issuer("rot")));
    RuntimeConfig config = TestRuntimeConfigs.loopback(dir, policy, Secret.of(ADMIN_TOKEN));
    service = Portcullis.start(config, name -> null);
    channel =
        Grpc.newChannelBuilderForAddress(
                "127.0.0.1", service.grpcPort(), InsecureChannelCredentials.create())
            .build();
    authz = AuthorizationGrpc.newBlockingStub(channel);
  }

  @AfterAll
  static void stop() {
    if (channel != null) {
      channel.shutdownNow();
    }
    if (service != null) {
      service.close();
    }
    if (issuer != null) {
      issuer.close();
    }
  }

  static CheckResponse check(EnvoyChecks request) {
    return authz.check(request.build());
  }

  static CheckResponse bearer(String path, String token) {
    return check(EnvoyChecks.get(path).header("authorization", "Bearer " + token));
  }

  static String reasonOf(CheckResponse r) {
    return r.getDynamicMetadata().getFieldsOrThrow("reason").getStringValue();
  }

  static Map<String, String> upstream(CheckResponse r) {
    return r.getOkResponse().getHeadersList().stream()
        .collect(Collectors.toMap(h -> h.getHeader().getKey(), h -> h.getHeader().getValue()));
  }

  @Test
  void validToken_isAllowedWithIdentityFromClaims() {
    CheckResponse r =
        bearer("/v1/orders/7", issuer.token("main").claim("roles", List.of("staff")).sign());
    assertThat(r.getStatus().getCode()).isEqualTo(Code.OK_VALUE);
    assertThat(upstream(r))
        .containsEntry("x-portcullis-principal", "alice")
        .containsEntry("x-portcullis-client", "web-app")
        .containsEntry("x-portcullis-segment", "staff")
        .containsEntry("x-portcullis-credential", "jwt");
    assertThat(r.getOkResponse().getHeadersToRemoveList()).contains("authorization");
  }

  @Test
  void algNone_isInvalidToken() {
    String header = b64("{\"alg\":\"none\",\"typ\":\"JWT\"}");
    String payload = b64(issuer.token("main").claims().toString());
    CheckResponse r = bearer("/v1/me", header + "." + payload + ".");
    assertThat(r.getDeniedResponse().getStatus().getCodeValue()).isEqualTo(401);
    assertThat(reasonOf(r)).isEqualTo("invalid_token");
    assertThat(r.getDeniedResponse().getHeadersList())
        .extracting(h -> h.getHeader().getKey() + ": " + h.getHeader().getValue())
        .contains("www-authenticate: Bearer error=\"invalid_token\"");
  }

  @Test
  void hs256SignedWithTheRsaPublicKey_isInvalidToken() throws Exception {
    RSAKey key = issuer.rsaKey("main");
    byte[] publicKeyBytes = key.toPublicJWK().toRSAPublicKey().getEncoded();
    SignedJWT forged =
        new SignedJWT(
            new JWSHeader.Builder(JWSAlgorithm.HS256).keyID(key.getKeyID()).build(),
            issuer.token("main").claim("roles", List.of("staff")).claims());
    forged.sign(new MACSigner(publicKeyBytes));
    assertThat(reasonOf(bearer("/v1/orders", forged.serialize()))).isEqualTo("invalid_token");
  }

  @Test
  void wrongIssuerAudienceExpiryNotBeforeUnknownKid_areRejectedWithTheirReasons() {
    Instant now = Instant.now();
    assertThat(reasonOf(bearer("/v1/me", issuer.token("other").sign()))).isEqualTo("invalid_token");
    assertThat(reasonOf(bearer("/v1/me", issuer.token("main").claim("aud", "billing").sign())))
        .isEqualTo("invalid_token");
    assertThat(
            reasonOf(
                bearer(
                    "/v1/me",
                    issuer.token("main").expiresAt(now.minus(Duration.ofMinutes(5))).sign())))
        .isEqualTo("expired_token");
    assertThat(
            reasonOf(
                bearer(
                    "/v1/me",
                    issuer.token("main").notBefore(now.plus(Duration.ofMinutes(5))).sign())))
        .isEqualTo("invalid_token");
    assertThat(reasonOf(bearer("/v1/me", issuer.token("main").signedWith("rogue").sign())))
        .isEqualTo("invalid_token");
  }

  @Test
  void tamperedPayload_isInvalidToken() {
    String[] parts = issuer.token("main").sign().split("\\.");
    String payload =
        new String(Base64.getUrlDecoder().decode(parts[1]), StandardCharsets.UTF_8)
            .replace("\"alice\"", "\"admin\"");
    assertThat(reasonOf(bearer("/v1/me", parts[0] + "." + b64(payload) + "." + parts[2])))
        .isEqualTo("invalid_token");
  }

  @Test
  void jkuAndEmbeddedJwkHeaders_areIgnoredForKeySelection() throws Exception {
    RSAKey attacker = new RSAKeyGenerator(2048).keyID("main").generate();
    SignedJWT withJwk =
        new SignedJWT(
            new JWSHeader.Builder(JWSAlgorithm.RS256)
                .keyID("main")
                .jwk(attacker.toPublicJWK())
                .build(),
            issuer.token("main").claim("roles", List.of("staff")).claims());
    withJwk.sign(new RSASSASigner(attacker));
    assertThat(reasonOf(bearer("/v1/orders", withJwk.serialize()))).isEqualTo("invalid_token");

    SignedJWT withJku =
        new SignedJWT(
            new JWSHeader.Builder(JWSAlgorithm.RS256)
                .keyID("main")
                .jwkURL(URI.create("http://127.0.0.1:1/attacker/jwks"))
                .build(),
            issuer.token("main").claim("roles", List.of("staff")).claims());
    withJku.sign(new RSASSASigner(attacker));
    assertThat(reasonOf(bearer("/v1/orders", withJku.serialize()))).isEqualTo("invalid_token");
  }

  @Test
  void keyRotation_newKeyVerifiesOnFirstUse() {
    // Its own issuer, so that no other test's unknown-kid refreshes use up the refresh budget.
    assertThat(bearer("/v1/me", issuer.token("rot").sign()).getStatus().getCode())
        .isEqualTo(Code.OK_VALUE);
    issuer.publish("rot", "rot-next");
    CheckResponse r = bearer("/v1/me", issuer.token("rot").signedWith("rot-next").sign());
    assertThat(r.getStatus().getCode()).isEqualTo(Code.OK_VALUE);
    assertThat(bearer("/v1/me", issuer.token("rot").sign()).getStatus().getCode())
        .as("tokens signed with the old key still verify while it is published")
        .isEqualTo(Code.OK_VALUE);
  }

  @Test
  void tokenInQueryString_isIgnored() {
    CheckResponse r =
        check(EnvoyChecks.get("/v1/status?access_token=" + issuer.token("main").sign()));
    assertThat(upstream(r)).containsEntry("x-portcullis-credential", "anonymous");
  }

  @Test
  void segmentsGuardsAndRules_produceTheirReasons() {
    String staff = issuer.token("main").claim("roles", List.of("staff")).sign();
    String user = issuer.token("main").sign();
    assertThat(reasonOf(bearer("/v1/admin/users", staff))).isEqualTo("denied_by_rule");
    assertThat(reasonOf(bearer("/v1/nothing", staff))).isEqualTo("no_matching_rule");
    assertThat(
            reasonOf(
                check(
                    EnvoyChecks.get("/v1/me")
                        .scheme("http")
                        .header("authorization", "Bearer " + user))))
        .isEqualTo("tls_required");
    assertThat(
            reasonOf(
                check(
                    EnvoyChecks.request("POST", "/v1/orders")
                        .header("authorization", "Bearer " + user))))
        .isEqualTo("insufficient_permissions");
    assertThat(reasonOf(check(EnvoyChecks.get("/v1/status").source("198.51.100.4"))))
        .isEqualTo("ip_denied");
  }

  @Test
  void pathTricks_neverReachAnAllowedRule() {
    String staff = issuer.token("main").claim("roles", List.of("staff")).sign();
    for (String path : List.of("/v1/orders/../admin/x", "//v1//admin/x")) {
      assertThat(reasonOf(bearer(path, staff))).as(path).isEqualTo("denied_by_rule");
    }
    for (String path :
        List.of(
            "/v1/orders%2F..%2Fadmin",
            "/v1/orders/..\\admin", "/../v1/orders", "/v1/orders/%2e%2e/admin/x")) {
      CheckResponse r = bearer(path, staff);
      assertThat(r.getDeniedResponse().getStatus().getCodeValue()).as(path).isEqualTo(400);
      assertThat(reasonOf(r)).isEqualTo("malformed_request");
    }
  }

  @Test
  void spoofedPortcullisHeaders_andOversizedHeaders() {
    CheckResponse r =
        check(
            EnvoyChecks.get("/v1/status")
                .header("x-portcullis-segment", "staff")
                .header("x-portcullis-extra", "1"));
    assertThat(upstream(r)).containsEntry("x-portcullis-segment", "public");
    assertThat(r.getOkResponse().getHeadersToRemoveList()).contains("x-portcullis-extra");
    assertThat(r.getOkResponse().getHeadersList())
        .allSatisfy(
            h ->
                assertThat(h.getAppendAction())
                    .isEqualTo(HeaderValueOption.HeaderAppendAction.OVERWRITE_IF_EXISTS_OR_ADD));

    CheckResponse big = check(EnvoyChecks.get("/v1/status").header("x-big", "x".repeat(40_000)));
    assertThat(reasonOf(big)).isEqualTo("malformed_request");
  }

  @Test
  void healthReadinessAndMetrics_reflectTheRunningService() throws Exception {
    assertThat(
            HealthGrpc.newBlockingStub(channel)
                .check(
                    HealthCheckRequest.newBuilder()
                        .setService("envoy.service.auth.v3.Authorization")
                        .build())
                .getStatus())
        .isEqualTo(ServingStatus.SERVING);
    check(EnvoyChecks.get("/v1/status"));
    HttpClient http = HttpClient.newHttpClient();
    String base = "http://127.0.0.1:" + service.adminPort();
    assertThat(
            http.send(
                    HttpRequest.newBuilder(URI.create(base + "/readyz")).build(),
                    HttpResponse.BodyHandlers.ofString())
                .statusCode())
        .isEqualTo(200);
    String metrics =
        http.send(
                HttpRequest.newBuilder(URI.create(base + "/metrics")).build(),
                HttpResponse.BodyHandlers.ofString())
            .body();
    assertThat(metrics)
        .contains(
            "portcullis_decisions_total{decision=\"allow\",reason=\"none\",segment=\"public\"}")
        .contains("portcullis_check_duration_seconds_bucket")
        .contains("portcullis_jwks_refresh_total")
        .contains("portcullis_forward_auth_undecided_total{reason=\"body_timeout\"} 0.0")
        .contains("portcullis_forward_auth_undecided_total{reason=\"body_budget\"} 0.0");
    assertThat(
            http.send(
                    HttpRequest.newBuilder(URI.create(base + "/admin/policy")).build(),
                    HttpResponse.BodyHandlers.ofString())
                .statusCode())
        .isEqualTo(401);
  }

  private static String b64(String s) {
    return Base64.getUrlEncoder()
        .withoutPadding()
        .encodeToString(s.getBytes(StandardCharsets.UTF_8));
  }

  @Test
  void rateLimit_thirdRequestIs429WithRetryAfterAndRateLimitHeaders_andUsageShowsIt()
      throws Exception {
    assertThat(check(EnvoyChecks.get("/v1/ping").source("192.0.2.99")).getStatus().getCode())
        .isEqualTo(Code.OK_VALUE);
    CheckResponse second = check(EnvoyChecks.get("/v1/ping").source("192.0.2.99"));
    assertThat(second.getOkResponse().getResponseHeadersToAddList())
        .extracting(h -> h.getHeader().getKey() + ": " + h.getHeader().getValue())
        .contains(
            "ratelimit-policy: \"ping-rate\";q=2;w=120", "ratelimit: \"ping-rate\";r=0;t=120");
    CheckResponse third = check(EnvoyChecks.get("/v1/ping").source("192.0.2.99"));
    assertThat(third.getDeniedResponse().getStatus().getCodeValue()).isEqualTo(429);
    assertThat(reasonOf(third)).isEqualTo("rate_limited");
    assertThat(third.getDeniedResponse().getHeadersList())
        .extracting(h -> h.getHeader().getKey())
        .contains("retry-after", "ratelimit", "ratelimit-policy");
    assertThat(check(EnvoyChecks.get("/v1/ping").source("192.0.2.100")).getStatus().getCode())
        .as("another source has its own bucket")
        .isEqualTo(Code.OK_VALUE);

    HttpResponse<String> usage =
        admin("GET", "/admin/usage?limit=public/ping/ping-rate&key=192.0.2.99");
    assertThat(usage.statusCode()).isEqualTo(200);
    assertThat(usage.body()).contains("\"used\":2", "\"max\":2", "\"remaining\":0");
  }

  @Test
  void failedAuthentication_blocksTheSource_andAdminCanLiftTheBlock() throws Exception {
    for (int i = 0; i < 3; i++) {
      assertThat(
              reasonOf(
                  check(
                      EnvoyChecks.get("/v1/me")
                          .header("x-client-id", "attacker-1")
                          .header("authorization", "Bearer forged-" + i))))
          .isEqualTo("invalid_token");
    }
    CheckResponse blocked =
        check(
            EnvoyChecks.get("/v1/me")
                .header("x-client-id", "attacker-1")
                .header("authorization", "Bearer " + issuer.token("main").sign()));
    assertThat(reasonOf(blocked)).isEqualTo("blocked");
    assertThat(blocked.getDeniedResponse().getStatus().getCodeValue()).isEqualTo(403);

    HttpResponse<String> blocks = admin("GET", "/admin/blocks");
    assertThat(blocks.body()).contains("header:x-client-id:attacker-1");
    assertThat(admin("DELETE", "/admin/blocks/header:x-client-id:attacker-1").statusCode())
        .isEqualTo(204);
    assertThat(
            check(
                    EnvoyChecks.get("/v1/me")
                        .header("x-client-id", "attacker-1")
                        .header("authorization", "Bearer " + issuer.token("main").sign()))
                .getStatus()
                .getCode())
        .isEqualTo(Code.OK_VALUE);
  }

  static HttpResponse<String> admin(String method, String path) throws Exception {
    return HttpClient.newHttpClient()
        .send(
            HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + service.adminPort() + path))
                .header("authorization", "Bearer " + ADMIN_TOKEN)
                .method(method, HttpRequest.BodyPublishers.noBody())
                .build(),
            HttpResponse.BodyHandlers.ofString());
  }

  // protobuf refuses bytes that are not UTF-8 in string fields; Envoy sends them (a body when it
  // ignores per-route pack_as_bytes, obs-text header values). Such a request must be decided,
  // audited and counted, never a gRPC error that Envoy answers on its own.
  @Test
  void checkRequestsWithBytesThatAreNotUtf8_areDecidedAuditedAndCounted() throws Exception {
    CheckResponse header =
        EnvoyChecks.send(
            channel,
            EnvoyChecks.get("/v1/status")
                .requestId("it-utf8-header")
                .headerBytes("x-note", new byte[] {'c', 'a', 'f', (byte) 0xE9})
                .build());
    CheckResponse path =
        EnvoyChecks.send(
            channel,
            EnvoyChecks.get("/")
                .requestId("it-utf8-path")
                .pathBytes(new byte[] {'/', 'v', '1', '/', (byte) 0xFF})
                .build());

    assertThat(header.getStatus().getCode()).isEqualTo(Code.OK_VALUE);
    assertThat(path.getDeniedResponse().getStatus().getCodeValue()).isEqualTo(400);
    assertThat(reasonOf(path)).isEqualTo("malformed_request");
    AuditStore store = service.auditStore();
    org.awaitility.Awaitility.await()
        .atMost(Duration.ofSeconds(10))
        .until(
            () ->
                store
                    .query(AuditQuery.builder().reason("malformed_request").limit(1000).build())
                    .records()
                    .stream()
                    .anyMatch(r -> r.getDecisionId().equals("it-utf8-path")));
    assertThat(store.query(AuditQuery.builder().limit(1000).build()).records())
        .anyMatch(
            r -> r.getDecisionId().equals("it-utf8-header") && r.getDecision().equals("allow"));
    String metrics =
        HttpClient.newHttpClient()
            .send(
                HttpRequest.newBuilder(
                        URI.create("http://127.0.0.1:" + service.adminPort() + "/metrics"))
                    .build(),
                HttpResponse.BodyHandlers.ofString())
            .body();
    assertThat(metrics).contains("reason=\"malformed_request\"");
  }

  @Test
  void everyDecisionIsAudited_chainedAndWithoutSecrets() {
    String token = issuer.token("main").sign();
    check(
        EnvoyChecks.get("/v1/me?code=s3cr3t")
            .requestId("it-audit-allow")
            .header("authorization", "Bearer " + token));
    check(
        EnvoyChecks.get("/v1/me")
            .requestId("it-audit-deny")
            .header("authorization", "Bearer forged"));
    AuditStore store = service.auditStore();
    org.awaitility.Awaitility.await()
        .atMost(Duration.ofSeconds(10))
        .until(
            () ->
                store
                        .query(AuditQuery.builder().principal("alice").limit(1000).build())
                        .records()
                        .stream()
                        .anyMatch(r -> r.getDecisionId().equals("it-audit-allow"))
                    && store
                        .query(AuditQuery.builder().reason("invalid_token").limit(1000).build())
                        .records()
                        .stream()
                        .anyMatch(r -> r.getDecisionId().equals("it-audit-deny")));
    DecisionRecord allow =
        store.query(AuditQuery.builder().principal("alice").limit(1000).build()).records().stream()
            .filter(r -> r.getDecisionId().equals("it-audit-allow"))
            .findFirst()
            .orElseThrow();
    assertThat(allow.getDecision()).isEqualTo("allow");
    assertThat(allow.getSegment()).isEqualTo("web");
    assertThat(allow.getPath()).isEqualTo("/v1/me");
    assertThat(allow.getPolicyVersion()).isEqualTo(service.policy().get().version());
    assertThat(allow.getInstance()).isEqualTo("it-1");
    assertThat(allow.getHash()).isNotEmpty();
    assertThat(allow.toString()).doesNotContain(token).doesNotContain("s3cr3t");
    assertThat(store.verify()).isInstanceOf(ChainVerification.Intact.class);
  }
}
