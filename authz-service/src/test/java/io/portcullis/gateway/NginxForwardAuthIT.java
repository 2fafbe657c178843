package io.portcullis.gateway;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.portcullis.Portcullis;
import io.portcullis.decision.HeaderNames;
import io.portcullis.testing.RecordingUpstream;
import io.portcullis.testing.TestIssuer;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * nginx ({@code examples/nginx/nginx.conf}, unchanged but for its ports) in front of a recording
 * upstream, authorizing every request with {@code auth_request} against Portcullis's forward-auth
 * endpoint: Portcullis runs in-process on free ports, nginx as Debian's binary in its own process.
 * The test fails, naming the package, when nginx is not installed.
 *
 * <p>What it proves about the example: allowed requests reach the application with Portcullis's
 * identity headers and without the caller's credentials; client-sent identity headers, request ids,
 * geo headers and {@code X-Forwarded-For} change nothing; denials keep Portcullis's status and its
 * client headers (exactly one {@code WWW-Authenticate}) and a problem+json body naming the
 * decision.
 */
class NginxForwardAuthIT {
  @TempDir static Path dir;
  @TempDir static Path nginxPrefix;
  static GatewayBackends backends;
  static TestIssuer issuer;
  static Portcullis portcullis;
  static RecordingUpstream upstream;
  static NginxProcess nginx;
  static final HttpClient http =
      HttpClient.newBuilder()
          .version(HttpClient.Version.HTTP_1_1)
          .connectTimeout(Duration.ofSeconds(5))
          .build();

  @BeforeAll
  static void start() throws Exception {
    backends = GatewayBackends.start(dir);
    issuer = backends.issuer();
    portcullis = backends.portcullis();
    upstream = backends.upstream();
    nginx = NginxProcess.start(nginxPrefix, portcullis.forwardAuthPort(), upstream.port());
  }

  @AfterAll
  static void stop() throws Exception {
    try {
      if (nginx != null) {
        assertThat(nginx.quit()).as("nginx exit status after SIGQUIT").isZero();
      }
    } finally {
      if (nginx != null) {
        nginx.close();
      }
      if (backends != null) {
        backends.close();
      }
    }
  }

  @BeforeEach
  void forgetUpstreamRequests() {
    upstream.clear();
  }

  // ------------------------------------------------------------------ allow

  @Test
  void anonymousStatus_reachesUpstreamWithPortcullisIdentity_andNeverTheQueryInTheAccessLog()
      throws Exception {
    HttpResponse<String> r = send(get("/v1/status?probe=q-7f3a"));

    assertThat(r.statusCode()).as(nginx::errorLog).isEqualTo(200);
    assertThat(r.body()).isEqualTo(RecordingUpstream.BODY);
    String decisionId = r.headers().firstValue(HeaderNames.DECISION_ID).orElseThrow();
    RecordingUpstream.Received seen = upstream.last();
    assertThat(seen.uri()).isEqualTo("/v1/status?probe=q-7f3a");
    assertThat(seen.header(HeaderNames.PRINCIPAL)).hasValue("anonymous");
    assertThat(seen.header(HeaderNames.SEGMENT)).hasValue("public");
    assertThat(seen.header(HeaderNames.CREDENTIAL)).hasValue("anonymous");
    assertThat(seen.header(HeaderNames.CLIENT)).as("anonymous callers have no client").isEmpty();
    assertThat(seen.header(HeaderNames.DECISION_ID)).hasValue(decisionId);
    assertThat(seen.header(HeaderNames.REQUEST_ID))
        .as("nginx's request id is the decision id, upstream and in the audit")
        .hasValue(decisionId);
    await()
        .atMost(Duration.ofSeconds(10))
        .untilAsserted(() -> assertThat(nginx.accessLog()).contains(decisionId));
    assertThat(nginx.accessLog()).doesNotContain("q-7f3a");
  }

  @Test
  void jwtCaller_reachesUpstreamAsItsPrincipal_withoutTheCredentialHeaders() throws Exception {
    String token = issuer.token("main").sign();
    HttpResponse<String> r =
        send(
            get("/v1/orders/7")
                .header("Authorization", "Bearer " + token)
                .header("X-Api-Key", "pk_live_not_for_the_app"));

    assertThat(r.statusCode()).as(nginx::errorLog).isEqualTo(200);
    RecordingUpstream.Received seen = upstream.last();
    assertThat(seen.header(HeaderNames.PRINCIPAL)).hasValue("alice");
    assertThat(seen.header(HeaderNames.SEGMENT)).hasValue("staff");
    assertThat(seen.header(HeaderNames.CLIENT)).hasValue("web-app");
    assertThat(seen.header(HeaderNames.CREDENTIAL)).hasValue("jwt");
    assertThat(seen.header(HeaderNames.DECISION_ID))
        .hasValue(r.headers().firstValue(HeaderNames.DECISION_ID).orElseThrow());
    assertThat(seen.headers()).doesNotContainKeys(HeaderNames.AUTHORIZATION, "x-api-key");
  }

  @Test
  void clientSentIdentityHeaders_neverReachUpstream_portcullisValuesDo() throws Exception {
    HttpResponse<String> r =
        send(
            get("/v1/status")
                .header("X-Portcullis-Segment", "internal")
                .header("X-Portcullis-Principal", "admin")
                .header("X-Portcullis-Client", "acme")
                .header("X-Portcullis-Decision-Id", "chosen-by-client")
                .header("X_Portcullis_Principal", "admin")
                .header("X-Request-Id", "chosen-by-client")
                .header("X-Geo-Country", "CH"));

    assertThat(r.statusCode()).as(nginx::errorLog).isEqualTo(200);
    RecordingUpstream.Received seen = upstream.last();
    assertThat(seen.header(HeaderNames.SEGMENT)).hasValue("public");
    assertThat(seen.header(HeaderNames.PRINCIPAL)).hasValue("anonymous");
    assertThat(seen.header(HeaderNames.CLIENT))
        .as("Portcullis sets no client for anonymous callers; the client's copy is removed")
        .isEmpty();
    String decisionId = r.headers().firstValue(HeaderNames.DECISION_ID).orElseThrow();
    assertThat(decisionId)
        .as("a client cannot choose its decision id")
        .isNotEqualTo("chosen-by-client");
    assertThat(seen.header(HeaderNames.DECISION_ID)).hasValue(decisionId);
    assertThat(seen.headers()).doesNotContainKeys("x_portcullis_principal", "x-geo-country");
  }

  // ------------------------------------------------------------------ deny

  @Test
  void invalidToken_is401WithExactlyOneWwwAuthenticate_andNeverReachesUpstream() throws Exception {
    double before = decisions("none", "deny", "invalid_token");
    HttpResponse<String> r =
        send(get("/v1/orders/7").header("Authorization", "Bearer not.a.token"));

    assertThat(r.statusCode()).as(nginx::errorLog).isEqualTo(401);
    assertThat(r.headers().allValues(HeaderNames.WWW_AUTHENTICATE))
        .containsExactly("Bearer error=\"invalid_token\"");
    assertDeniedByPortcullis(r, 401);
    assertThat(decisions("none", "deny", "invalid_token")).isEqualTo(before + 1);
  }

  @Test
  void anonymousOrders_is403WithProblemJson() throws Exception {
    double before = decisions("public", "deny", "no_matching_rule");
    HttpResponse<String> r = send(get("/v1/orders"));

    assertThat(r.statusCode()).as(nginx::errorLog).isEqualTo(403);
    assertThat(r.headers().allValues(HeaderNames.WWW_AUTHENTICATE)).isEmpty();
    assertDeniedByPortcullis(r, 403);
    assertThat(decisions("public", "deny", "no_matching_rule")).isEqualTo(before + 1);
  }

  @Test
  void exhaustedLimit_is429WithRetryAfterAndRateLimitHeaders_andProblemJson() throws Exception {
    double before = decisions("public", "deny", "rate_limited");
    HttpResponse<String> first = send(get("/v1/scarce"));
    HttpResponse<String> second = send(get("/v1/scarce"));

    assertThat(first.statusCode()).as(nginx::errorLog).isEqualTo(200);
    assertThat(second.statusCode()).as(nginx::errorLog).isEqualTo(429);
    long retryAfter = Long.parseLong(second.headers().firstValue("Retry-After").orElseThrow());
    assertThat(retryAfter)
        .as("one request an hour: the next in about an hour")
        .isBetween(3500L, 3600L);
    assertThat(second.headers().firstValue("RateLimit-Policy"))
        .hasValueSatisfying(v -> assertThat(v).contains("scarce"));
    String decisionId = second.headers().firstValue(HeaderNames.DECISION_ID).orElseThrow();
    assertThat(second.headers().firstValue(HeaderNames.CONTENT_TYPE))
        .hasValue(HeaderNames.PROBLEM_JSON);
    assertThat(second.body())
        .contains("\"status\":429")
        .contains("\"decision_id\":\"" + decisionId + "\"");
    assertThat(upstream.received()).as("only the first request was proxied").hasSize(1);
    assertThat(decisions("public", "deny", "rate_limited")).isEqualTo(before + 1);
  }

  @Test
  void encodedSlashInPath_is400_notTheGeneric500OfAuthRequest() throws Exception {
    double before = decisions("none", "deny", "malformed_request");
    HttpResponse<String> r = send(get("/v1/status%2F..%2F..%2Fadmin"));

    assertThat(r.statusCode()).as(nginx::errorLog).isEqualTo(400);
    assertDeniedByPortcullis(r, 400);
    assertThat(decisions("none", "deny", "malformed_request")).isEqualTo(before + 1);
  }

  @Test
  void portcullisUnreachable_is503_andNothingIsProxied(@TempDir Path prefix) throws Exception {
    int nobodyListens = NginxProcess.freePort();
    try (NginxProcess orphan = NginxProcess.start(prefix, nobodyListens, upstream.port())) {
      HttpResponse<String> r =
          http.send(
              HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + orphan.port() + "/v1/status"))
                  .build(),
              HttpResponse.BodyHandlers.ofString());

      assertThat(r.statusCode()).as("fail closed, and not as a 403").isEqualTo(503);
      assertThat(r.headers().firstValue(HeaderNames.CONTENT_TYPE))
          .hasValue(HeaderNames.PROBLEM_JSON);
      assertThat(upstream.received()).isEmpty();
      assertThat(orphan.quit()).isZero();
    }
  }

  // ------------------------------------------------------------------ source address

  @Test
  void forgedXForwardedFor_doesNotChangeTheSourcePortcullisDecidesOn() throws Exception {
    String ops = issuer.token("main").claim("roles", List.of(GatewayBackends.OPS_ROLE)).sign();
    double opsDenied = decisions("ops", "deny", "ip_denied");

    // The ops segment denies loopback, where this client is: a believed forgery would allow.
    HttpResponse<String> forged =
        send(
            get("/v1/anything")
                .header("Authorization", "Bearer " + ops)
                .header("X-Forwarded-For", GatewayBackends.LAN_ADDRESS));
    assertThat(forged.statusCode()).isEqualTo(403);
    assertThat(decisions("ops", "deny", "ip_denied")).isEqualTo(opsDenied + 1);

    // Anonymous callers from the forged network would be 'lan' and may do anything.
    HttpResponse<String> lan =
        send(get("/v1/anything").header("X-Forwarded-For", GatewayBackends.LAN_ADDRESS));
    assertThat(lan.statusCode()).isEqualTo(403);
    assertThat(upstream.received()).isEmpty();

    // Control: the same forgery sent by a trusted proxy straight to Portcullis is believed, so the
    // 403s above are nginx replacing the header, not the forgery being ineffective anyway.
    HttpResponse<String> direct =
        send(
            HttpRequest.newBuilder(
                    URI.create("http://127.0.0.1:" + portcullis.forwardAuthPort() + "/check"))
                .header("X-Original-URI", "/v1/anything")
                .header("X-Original-Method", "GET")
                .header("Authorization", "Bearer " + ops)
                .header("X-Forwarded-For", GatewayBackends.LAN_ADDRESS));
    assertThat(direct.statusCode()).isEqualTo(200);
    assertThat(direct.headers().firstValue(HeaderNames.SEGMENT)).hasValue("ops");
  }

  // ------------------------------------------------------------------ helpers

  /** Status, problem+json naming the decision, and the decision id header; upstream untouched. */
  private static void assertDeniedByPortcullis(HttpResponse<String> r, int status) {
    String decisionId = r.headers().firstValue(HeaderNames.DECISION_ID).orElseThrow();
    assertThat(r.headers().allValues(HeaderNames.DECISION_ID)).hasSize(1);
    assertThat(r.headers().firstValue(HeaderNames.CONTENT_TYPE)).hasValue(HeaderNames.PROBLEM_JSON);
    assertThat(r.body())
        .contains("\"status\":" + status)
        .contains("\"decision_id\":\"" + decisionId + "\"");
    assertThat(upstream.received()).as("a denied request is never proxied").isEmpty();
  }

  private static HttpRequest.Builder get(String pathAndQuery) {
    return HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + nginx.port() + pathAndQuery))
        .timeout(Duration.ofSeconds(10));
  }

  private static HttpResponse<String> send(HttpRequest.Builder request) throws Exception {
    return http.send(request.build(), HttpResponse.BodyHandlers.ofString());
  }

  /** {@code portcullis_decisions_total} for these labels, scraped from the admin port. */
  private static double decisions(String segment, String decision, String reason) throws Exception {
    String metrics =
        http.send(
                HttpRequest.newBuilder(
                        URI.create("http://127.0.0.1:" + portcullis.adminPort() + "/metrics"))
                    .build(),
                HttpResponse.BodyHandlers.ofString())
            .body();
    Matcher m =
        Pattern.compile(
                "^portcullis_decisions_total\\{decision=\""
                    + decision
                    + "\",reason=\""
                    + reason
                    + "\",segment=\""
                    + segment
                    + "\"} (\\S+)$",
                Pattern.MULTILINE)
            .matcher(metrics);
    return m.find() ? Double.parseDouble(m.group(1)) : 0;
  }
}
