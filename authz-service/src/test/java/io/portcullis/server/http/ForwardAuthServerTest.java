package io.portcullis.server.http;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.portcullis.decision.Decision;
import io.portcullis.decision.DecisionPipeline;
import io.portcullis.decision.Reason;
import io.portcullis.net.CidrSet;
import io.portcullis.testing.H2cConnection;
import io.portcullis.testing.RawHttp;
import io.portcullis.testing.SamplePolicy;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.function.UnaryOperator;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

class ForwardAuthServerTest {
  // Appended to by the listener's threads, several at once over h2c.
  final List<Decision> audited = new CopyOnWriteArrayList<>();
  final HttpClient client = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).build();
  ForwardAuthServer server;

  ForwardAuthServer start(String trusted) throws Exception {
    return start(b -> b.trustedProxies(CidrSet.parse(List.of(trusted))));
  }

  ForwardAuthServer start(UnaryOperator<ForwardAuthServer.Builder> settings) throws Exception {
    DecisionPipeline pipeline =
        DecisionPipeline.builder().policy(() -> SamplePolicy.POLICY).audit(audited::add).build();
    server =
        settings
            .apply(ForwardAuthServer.builder(new InetSocketAddress("127.0.0.1", 0), pipeline))
            .build()
            .start();
    return server;
  }

  @AfterEach
  void stop() throws Exception {
    if (server != null) {
      server.close();
    }
  }

  HttpResponse<String> send(String path, String... headers) throws Exception {
    HttpRequest.Builder b =
        HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + server.port() + path));
    for (int i = 0; i < headers.length; i += 2) {
      b.header(headers[i], headers[i + 1]);
    }
    return client.send(b.GET().build(), HttpResponse.BodyHandlers.ofString());
  }

  @Test
  void traefikStyle_fromTrustedProxy_decidesTheForwardedRequest() throws Exception {
    start("127.0.0.1/32");
    HttpResponse<String> r =
        send(
            "/check",
            "X-Forwarded-Method",
            "GET",
            "X-Forwarded-Uri",
            "/v1/orders/42?debug=1",
            "X-Forwarded-Host",
            "api.example.com",
            "X-Forwarded-Proto",
            "https",
            "X-Forwarded-For",
            "203.0.113.7",
            "X-Api-Key",
            "pk_acme");
    assertThat(r.statusCode()).isEqualTo(200);
    assertThat(r.headers().firstValue("x-portcullis-segment")).hasValue("partners");
    assertThat(r.headers().firstValue("x-portcullis-client")).hasValue("acme");
    assertThat(r.headers().firstValue("x-portcullis-decision-id")).isPresent();
    assertThat(audited.getLast().context().path()).isEqualTo("/v1/orders/42");
    assertThat(audited.getLast().context().sourceIp()).isEqualTo("203.0.113.7");
  }

  @Test
  void forwardedHeaders_fromUntrustedPeer_areRefused_notDecidedAsGetSlash() throws Exception {
    start("10.0.0.0/8");
    // A proxy missing from trusted_proxies: deciding the call as itself would authorize every
    // request it forwards as GET /.
    HttpResponse<String> r =
        send("/check", "X-Forwarded-Method", "DELETE", "X-Forwarded-Uri", "/v1/admin/users");
    assertThat(r.statusCode()).isEqualTo(400);
    assertThat(r.body()).contains("malformed_request");
    assertThat(audited.getLast())
        .isInstanceOfSatisfying(
            Decision.Deny.class, d -> assertThat(d.detail()).contains("trusted_proxies"));
    assertThat(audited.getLast().context().sourceIp()).isEqualTo("127.0.0.1");
  }

  @Test
  void untrustedPeer_isDecidedAsItselfUnderThePrefix_andCannotChooseTheDecisionId()
      throws Exception {
    start("10.0.0.0/8");
    HttpResponse<String> r = send("/check/v1/status", "X-Request-Id", "chosen-by-the-client");
    assertThat(r.statusCode()).isEqualTo(200);
    assertThat(audited.getLast().context().path()).isEqualTo("/v1/status");
    assertThat(audited.getLast().context().decisionId()).isNotEqualTo("chosen-by-the-client");
  }

  @Test
  void trustedProxy_requestIdBecomesTheDecisionId() throws Exception {
    start("127.0.0.1/32");
    send("/check", "X-Forwarded-Uri", "/v1/status", "X-Request-Id", "nginx-1234");
    assertThat(audited.getLast().context().decisionId()).isEqualTo("nginx-1234");
  }

  @Test
  void bareCheck_withoutAnOriginalRequest_isMalformed() throws Exception {
    start("127.0.0.1/32");
    assertThat(send("/check").statusCode()).isEqualTo(400);
    assertThat(send("/check?x=1").statusCode()).isEqualTo(400);
    assertThat(audited).hasSize(2).allSatisfy(d -> assertThat(d).isInstanceOf(Decision.Deny.class));
  }

  @Test
  void forwardedProto_countsTheRightMostValue_theOneTheNearestProxyAdded() throws Exception {
    start("127.0.0.1/32");
    // The client sent "https" over plain http; the proxy appended what it saw.
    HttpResponse<String> r =
        send(
            "/check",
            "X-Forwarded-Uri",
            "/v1/orders",
            "X-Forwarded-Proto",
            "https, http",
            "X-Forwarded-For",
            "203.0.113.7",
            "X-Api-Key",
            "pk_acme");
    assertThat(r.statusCode()).isEqualTo(403);
    assertThat(r.body()).contains("tls_required");
  }

  @Test
  void ipv6ZoneInForwardedFor_isDecidedAndAudited_notA500() throws Exception {
    start("127.0.0.1/32");
    HttpResponse<String> r =
        send("/check", "X-Forwarded-Uri", "/v1/status", "X-Forwarded-For", "fe80::1%bogus");
    assertThat(r.statusCode()).isEqualTo(200);
    assertThat(audited.getLast().context().sourceIp()).isEqualTo("fe80::1");
  }

  @Test
  void spoofedXForwardedFor_rightMostUntrustedHopIsTheClient() throws Exception {
    start("127.0.0.1/32");
    // The client claimed 203.0.113.50; the trusted proxy appended the real peer 198.51.100.9.
    HttpResponse<String> r =
        send(
            "/check",
            "X-Forwarded-Method",
            "GET",
            "X-Forwarded-Uri",
            "/v1/orders",
            "X-Forwarded-Proto",
            "https",
            "X-Forwarded-For",
            "203.0.113.50, 198.51.100.9",
            "X-Api-Key",
            "pk_acme");
    assertThat(r.statusCode()).isEqualTo(403);
    assertThat(r.body()).contains("urn:portcullis:error:ip_denied");
  }

  @Test
  void nginxStyle_xOriginalUri() throws Exception {
    start("127.0.0.1/32");
    HttpResponse<String> r =
        send("/check", "X-Original-Method", "GET", "X-Original-URI", "/v1/status");
    assertThat(r.statusCode()).isEqualTo(200);
    assertThat(r.headers().firstValue("x-portcullis-segment")).hasValue("public");
  }

  @Test
  void envoyHttpMode_theCallIsTheRequestUnderThePrefix() throws Exception {
    start("127.0.0.1/32");
    assertThat(send("/check/v1/status").statusCode()).isEqualTo(200);
    assertThat(audited.getLast().context().path()).isEqualTo("/v1/status");
  }

  @Test
  void nginxStyle_xOriginalMethod_isTheMethodDecided_notTheCallsOwn() throws Exception {
    start("127.0.0.1/32");
    // auth_request always asks with GET; public allows only GET /v1/status.
    HttpResponse<String> r =
        send("/check", "X-Original-Method", "DELETE", "X-Original-URI", "/v1/status");
    assertThat(r.statusCode()).isEqualTo(403);
    assertThat(r.body()).contains("urn:portcullis:error:no_matching_rule");
    assertThat(audited.getLast().context().method()).isEqualTo("DELETE");
  }

  @Test
  void forwardedHost_fromATrustedProxy_isTheHostDecided_inBothDialects() throws Exception {
    start("127.0.0.1/32");
    send(
        "/check",
        "X-Forwarded-Uri",
        "/v1/status",
        "X-Forwarded-Host",
        "api.example.com",
        "X-Forwarded-Method",
        "GET");
    assertThat(audited.getLast().context().host()).isEqualTo("api.example.com");
    // nginx.conf sets X-Forwarded-Host $host on the auth_request subrequest.
    send(
        "/check",
        "X-Original-URI",
        "/v1/status",
        "X-Original-Method",
        "GET",
        "X-Forwarded-Host",
        "staging.example.com");
    assertThat(audited.getLast().context().host()).isEqualTo("staging.example.com");
  }

  @Test
  void forwardedHost_fromAnUntrustedPeer_isIgnored_theCallsHostIsDecided() throws Exception {
    start("10.0.0.0/8");
    send("/check/v1/status", "X-Forwarded-Host", "api.example.com");
    assertThat(audited.getLast().context().host()).isEqualTo("127.0.0.1:" + server.port());
  }

  /** The names in {@code x-envoy-auth-headers-to-remove}, or none when it is absent. */
  static List<String> envoyRemovals(HttpResponse<?> r) {
    List<String> names = new ArrayList<>();
    for (String v : r.headers().allValues("x-envoy-auth-headers-to-remove")) {
      for (String name : v.split(",")) {
        names.add(name.strip());
      }
    }
    return names;
  }

  @Test
  void envoyHttpMode_anonymousAllow_removesTheClientsIdentityHeaders_viaEnvoysRemoveHeader()
      throws Exception {
    start("127.0.0.1/32");
    // Envoy's HTTP mode: the client's headers (allowed_headers) come along with the check. An
    // anonymous caller has no client, so Portcullis sets no x-portcullis-client to replace the
    // client's copy: only removal keeps "acme" from reaching the upstream.
    HttpResponse<String> r =
        send(
            "/check/v1/status",
            "X-Portcullis-Client",
            "acme",
            "X-Portcullis-Rule",
            "admin",
            "X-HTTP-Method-Override",
            "DELETE");
    assertThat(r.statusCode()).isEqualTo(200);
    assertThat(r.headers().firstValue("x-portcullis-client")).isEmpty();
    assertThat(r.headers().firstValue("x-portcullis-segment")).hasValue("public");
    assertThat(r.headers().allValues("x-envoy-auth-headers-to-remove")).hasSize(1);
    assertThat(envoyRemovals(r))
        .contains("x-portcullis-client", "x-portcullis-rule", "x-http-method-override")
        .doesNotContain(
            "x-portcullis-segment", "x-portcullis-principal", "x-portcullis-decision-id")
        .allSatisfy(name -> assertThat(name).isLowerCase().isNotBlank());
  }

  @Test
  void envoyHttpMode_stripCredentials_removesAuthorization_viaEnvoysRemoveHeader()
      throws Exception {
    start("127.0.0.1/32");
    // SamplePolicy keeps the default response.strip_credentials: true.
    HttpResponse<String> r = send("/check/v1/me", "Authorization", "Bearer alice");
    assertThat(r.statusCode()).isEqualTo(200);
    assertThat(r.headers().firstValue("x-portcullis-client")).hasValue("web");
    assertThat(envoyRemovals(r)).contains("authorization").doesNotContain("x-portcullis-client");
  }

  @Test
  void deny_carriesNoRemoveHeader() throws Exception {
    start("127.0.0.1/32");
    HttpResponse<String> r = send("/check/v1/orders", "X-Portcullis-Client", "acme");
    assertThat(r.statusCode()).isEqualTo(403);
    assertThat(r.headers().firstValue("x-envoy-auth-headers-to-remove")).isEmpty();
  }

  @Test
  void deny_returnsPolicyStatusHeadersAndProblemBody() throws Exception {
    start("127.0.0.1/32");
    HttpResponse<String> r = send("/check/v1/status", "Authorization", "Bearer forged");
    assertThat(r.statusCode()).isEqualTo(401);
    assertThat(r.headers().firstValue("www-authenticate"))
        .hasValue("Bearer error=\"invalid_token\"");
    assertThat(r.headers().firstValue("content-type")).hasValue("application/problem+json");
    assertThat(r.body()).contains("urn:portcullis:error:invalid_token").doesNotContain("forged");
    assertThat(r.headers().firstValue("x-portcullis-segment")).isEmpty();
  }

  @Test
  void encodedSlash_isMalformed400FromThePipeline() throws Exception {
    start("127.0.0.1/32");
    HttpResponse<String> r = send("/check/v1%2Fstatus");
    assertThat(r.statusCode()).isEqualTo(400);
    assertThat(r.body()).contains("malformed_request");
    assertThat(audited).hasSize(1);
  }

  @Test
  void bothForwardedDialects_areMalformed_soAClientCannotPickWhatIsAuthorized() throws Exception {
    start("127.0.0.1/32");
    // nginx sets X-Original-*; the client smuggled X-Forwarded-* through it.
    HttpResponse<String> r =
        send(
            "/check",
            "X-Original-Method",
            "DELETE",
            "X-Original-URI",
            "/v1/admin/users/7",
            "X-Forwarded-Method",
            "GET",
            "X-Forwarded-Uri",
            "/v1/status");
    assertThat(r.statusCode()).isEqualTo(400);
    assertThat(r.body()).contains("malformed_request");
  }

  @Test
  void forwardedForOfOnlyTrustedHops_leavesTheSourceUnknown() throws Exception {
    start("127.0.0.1/32");
    HttpResponse<String> r =
        send(
            "/check",
            "X-Forwarded-Method",
            "GET",
            "X-Forwarded-Uri",
            "/v1/orders",
            "X-Forwarded-Proto",
            "https",
            "X-Forwarded-For",
            "127.0.0.1",
            "X-Api-Key",
            "pk_acme");
    // The partners segment denies a network; an unknown source cannot evade a deny list.
    assertThat(r.statusCode()).isEqualTo(403);
    assertThat(r.body()).contains("ip_denied");
    assertThat(audited.getLast().context().sourceIp()).isEmpty();
  }

  // request_limits defaults: 16 KiB per header, 64 KiB in all. Jetty's own limit was 8 KiB.
  static final String COOKIE_10K = "s=" + "a".repeat(10_000);
  static final String COOKIE_20K = "s=" + "a".repeat(20_000);

  static void assertMalformedAndAudited(Decision d, String detail) {
    assertThat(d)
        .isInstanceOfSatisfying(
            Decision.Deny.class,
            deny -> {
              assertThat(deny.reason()).isEqualTo(Reason.MALFORMED_REQUEST);
              assertThat(deny.detail()).contains(detail);
            });
  }

  @Test
  void http1_headersWithinRequestLimits_areDecided_notRefusedByJetty() throws Exception {
    start("127.0.0.1/32");
    HttpResponse<String> r = send("/check/v1/status", "Cookie", COOKIE_10K);
    assertThat(r.statusCode()).isEqualTo(200);
    assertThat(audited).hasSize(1);
  }

  @Test
  void http1_headersOverRequestLimits_areMalformedRequest_auditedWithADecisionId()
      throws Exception {
    start("127.0.0.1/32");
    HttpResponse<String> one = send("/check/v1/status", "Cookie", COOKIE_20K);
    assertThat(one.statusCode()).isEqualTo(400);
    assertThat(one.body()).contains("urn:portcullis:error:malformed_request");
    assertThat(one.headers().firstValue("x-portcullis-decision-id"))
        .hasValue(audited.getLast().context().decisionId());
    assertMalformedAndAudited(audited.getLast(), "header 'cookie' larger than 16384 bytes");

    String[] many = new String[10];
    for (int i = 0; i < many.length; i += 2) {
      many[i] = "X-Big-" + i;
      many[i + 1] = "b".repeat(15_000);
    }
    HttpResponse<String> total = send("/check/v1/status", many);
    assertThat(total.statusCode()).isEqualTo(400);
    assertMalformedAndAudited(audited.getLast(), "headers larger than 65536 bytes in total");
  }

  @Test
  void h2c_headersOverRequestLimits_areDecided_andOtherStreamsOnTheConnectionAreUnaffected()
      throws Exception {
    start("127.0.0.1/32");
    try (H2cConnection h2 = H2cConnection.open(server.port())) {
      int big = h2.send("GET", "/check/v1/status", "cookie", COOKIE_20K);
      int normal = h2.send("GET", "/check/v1/status");
      int within = h2.send("GET", "/check/v1/status", "cookie", COOKIE_10K);

      H2cConnection.Response refused = h2.await(big);
      assertThat(refused.status()).isEqualTo(400);
      assertThat(refused.body()).contains("urn:portcullis:error:malformed_request");
      assertThat(refused.headers().get("x-portcullis-decision-id")).isNotBlank();
      assertThat(h2.await(normal).status()).isEqualTo(200);
      assertThat(h2.await(within).status()).isEqualTo(200);
    }
    // The streams are decided concurrently, so the records come in any order.
    assertThat(audited).hasSize(3);
    assertThat(audited)
        .filteredOn(d -> d instanceof Decision.Deny)
        .singleElement()
        .satisfies(d -> assertMalformedAndAudited(d, "header 'cookie' larger than 16384 bytes"));
  }

  /** A connection that sent the headers of a {@code length}-byte body and {@code sent} of it. */
  Socket unfinishedBody(int length, int sent) throws Exception {
    Socket s = new Socket(InetAddress.getLoopbackAddress(), server.port());
    s.setSoTimeout(10_000);
    s.getOutputStream()
        .write(
            ("POST /check/v1/status HTTP/1.1\r\nHost: a\r\nContent-Length: "
                    + length
                    + "\r\n\r\n"
                    + "x".repeat(sent))
                .getBytes(StandardCharsets.ISO_8859_1));
    return s;
  }

  @Test
  void h2c_advertisesFewConcurrentStreams_eachOfWhichMayHoldABody() throws Exception {
    start("127.0.0.1/32");
    try (H2cConnection h2 = H2cConnection.open(server.port())) {
      assertThat(h2.await(h2.send("GET", "/check/v1/status")).status()).isEqualTo(200);
      // SETTINGS_MAX_CONCURRENT_STREAMS; Jetty's default is 128.
      assertThat(h2.serverSetting(3)).isEqualTo((long) ForwardAuthServer.MAX_CONCURRENT_STREAMS);
    }
  }

  @Test
  void slowBodies_holdNoThreads_soOtherChecksAreAnsweredPromptly_andTheyExpireUndecided()
      throws Exception {
    // 200 threads and 220 slow connections in production; the same attack at a smaller scale.
    start(b -> b.maxThreads(12).bodyDeadline(Duration.ofSeconds(2)));
    List<Socket> slow = new ArrayList<>();
    try {
      for (int i = 0; i < 30; i++) {
        slow.add(unfinishedBody(1_000, 1));
      }
      for (int i = 0; i < 3; i++) {
        HttpResponse<String> r =
            client.send(
                HttpRequest.newBuilder(
                        URI.create("http://127.0.0.1:" + server.port() + "/check/v1/status"))
                    .timeout(Duration.ofSeconds(1))
                    .build(),
                HttpResponse.BodyHandlers.ofString());
        assertThat(r.statusCode()).isEqualTo(200);
      }
      assertThat(audited).hasSize(3);
      for (Socket s : slow) {
        RawHttp.Reply r = RawHttp.read(s.getInputStream());
        assertThat(r.status()).isEqualTo(408);
        assertThat(r.header("content-type")).isEqualTo("application/problem+json");
        assertThat(s.getInputStream().read()).as("connection closed").isEqualTo(-1);
      }
      assertThat(audited).as("a body that never arrived is not a decision").hasSize(3);
      assertThat(server.undecided(ForwardAuthServer.BODY_TIMEOUT)).isEqualTo(30);
      assertThat(server.undecided(ForwardAuthServer.BODY_BUDGET)).isZero();
    } finally {
      for (Socket s : slow) {
        s.close();
      }
    }
  }

  @Test
  void unfinishedBodies_holdAtMostTheBodyBudget_pastItBodiesAre503_andGetsStillDecided()
      throws Exception {
    // 32 MiB in production; three stalled bodies of 1,000 bytes fill this one.
    start(b -> b.bodyBufferBytes(3_000).bodyDeadline(Duration.ofSeconds(2)));
    List<Socket> stalled = new ArrayList<>();
    try {
      for (int i = 0; i < 3; i++) {
        stalled.add(unfinishedBody(2_000, 1_000));
      }
      await().atMost(Duration.ofSeconds(5)).until(server::bufferedBodyBytes, n -> n == 3_000);

      RawHttp.Reply refused =
          RawHttp.exchange(
              server.port(),
              "POST /check/v1/status HTTP/1.1\r\nHost: a\r\nContent-Length: 2\r\n\r\n{}");
      assertThat(refused.status()).isEqualTo(503);
      assertThat(refused.header("content-type")).isEqualTo("application/problem+json");
      assertThat(send("/check/v1/status").statusCode()).isEqualTo(200);
      assertThat(audited).as("only the GET was decided").hasSize(1);
      assertThat(server.undecided(ForwardAuthServer.BODY_BUDGET)).isEqualTo(1);

      // A client that goes away returns what its body held, as does one that runs out of time.
      stalled.removeFirst().close();
      await().atMost(Duration.ofSeconds(5)).until(server::bufferedBodyBytes, n -> n == 2_000);
      for (Socket s : stalled) {
        assertThat(RawHttp.read(s.getInputStream()).status()).isEqualTo(408);
      }
      await().atMost(Duration.ofSeconds(5)).until(server::bufferedBodyBytes, n -> n == 0);
      assertThat(audited).hasSize(1);
    } finally {
      for (Socket s : stalled) {
        s.close();
      }
    }
  }

  @Test
  void close_stopsAccepting_andLetsTheRequestInFlightBeDecided_withinTheDrainGrace()
      throws Exception {
    start(b -> b.drainGrace(Duration.ofSeconds(10)));
    try (Socket inFlight = unfinishedBody(2, 1)) {
      await().atMost(Duration.ofSeconds(5)).until(server::bufferedBodyBytes, n -> n == 1);
      int port = server.port();
      CompletableFuture<Void> closing =
          CompletableFuture.runAsync(
              () -> {
                try {
                  server.close();
                } catch (Exception e) {
                  throw new IllegalStateException(e);
                }
              });
      await("the port stops accepting")
          .atMost(Duration.ofSeconds(5))
          .until(
              () -> {
                try (Socket probe = new Socket()) {
                  probe.connect(new InetSocketAddress(InetAddress.getLoopbackAddress(), port));
                  return false;
                } catch (java.net.ConnectException refused) {
                  return true;
                }
              });
      assertThat(closing).as("waiting for the request in flight").isNotDone();

      inFlight.getOutputStream().write('}');
      RawHttp.Reply r = RawHttp.read(inFlight.getInputStream());
      assertThat(r.status()).as("POST is not allowed on /v1/status").isEqualTo(403);
      assertThat(audited).as("decided, not cut off").hasSize(1);
      closing.get(5, TimeUnit.SECONDS);
    }
  }

  @Test
  void atTheConnectionLimit_idleConnectionsAreClosedSooner_andNewOnesServed() throws Exception {
    start(b -> b.maxConnections(3));
    List<Socket> idle = new ArrayList<>();
    try {
      for (int i = 0; i < 3; i++) {
        Socket s = new Socket(InetAddress.getLoopbackAddress(), server.port());
        // Without the limit these stay open for the 30 s idle timeout and the read times out.
        s.setSoTimeout(15_000);
        idle.add(s);
        if (i < 2) {
          // A keep-alive connection, as a proxy leaves it.
          s.getOutputStream()
              .write(
                  "GET /check/v1/status HTTP/1.1\r\nHost: a\r\n\r\n"
                      .getBytes(StandardCharsets.ISO_8859_1));
          assertThat(RawHttp.read(s.getInputStream()).status()).isEqualTo(200);
        }
      }
      long start = System.nanoTime();
      // The third reached the limit: the two open before it get the shorter idle timeout.
      for (Socket s : idle.subList(0, 2)) {
        assertThat(s.getInputStream().read()).as("closed by the server").isEqualTo(-1);
      }
      assertThat(Duration.ofNanos(System.nanoTime() - start))
          .isLessThan(JettyListener.AT_LIMIT_IDLE_TIMEOUT.plusSeconds(3));
      assertThat(send("/check/v1/status").statusCode()).isEqualTo(200);
    } finally {
      for (Socket s : idle) {
        s.close();
      }
    }
  }

  @Test
  void atTheConnectionLimit_aBodyStalledPastTheShorterIdleTimeout_is408LikeTheDeadline_not500()
      throws Exception {
    // The idle timeout at the limit (5 s) passes before the body deadline (10 s).
    start(b -> b.maxConnections(2));
    try (Socket stalled = unfinishedBody(1_000, 1)) {
      // Its request is being read: the limit shortens the idle timeout of connections open by then.
      await().atMost(Duration.ofSeconds(5)).until(server::bufferedBodyBytes, n -> n == 1);
      try (Socket second = new Socket(InetAddress.getLoopbackAddress(), server.port())) {
        long start = System.nanoTime();
        RawHttp.Reply r = RawHttp.read(stalled.getInputStream());
        assertThat(Duration.ofNanos(System.nanoTime() - start))
            .as("the idle timeout, not the deadline")
            .isLessThan(ForwardAuthServer.BODY_DEADLINE.minusSeconds(2));
        assertThat(r.status()).isEqualTo(408);
        assertThat(r.body()).contains("unreadable_request");
        assertThat(audited).isEmpty();
        await().atMost(Duration.ofSeconds(5)).until(server::bufferedBodyBytes, n -> n == 0);
      }
    }
  }

  /**
   * The head of a forwarded {@code POST /v1/orders} from a partner (its rule validates the body:
   * only JSON with a {@code "qty"} passes) with a body of {@code length} bytes.
   */
  static String orderHead(int length) {
    return "POST /check HTTP/1.1\r\nHost: a\r\nX-Forwarded-Method: POST\r\n"
        + "X-Forwarded-Uri: /v1/orders\r\nX-Forwarded-Proto: https\r\n"
        + "X-Forwarded-For: 203.0.113.7\r\nX-Api-Key: pk_acme\r\n"
        + "Content-Type: application/json\r\nContent-Length: "
        + length
        + "\r\n\r\n";
  }

  @Test
  void aBodyArrivingInPieces_isDecidedOnAllOfIt() throws Exception {
    start("127.0.0.1/32");
    // Only the second half has what the schema requires.
    String first = "{\"note\":\"" + "n".repeat(500) + "\",";
    String second = "\"qty\":1}";
    try (Socket s = new Socket(InetAddress.getLoopbackAddress(), server.port())) {
      s.setSoTimeout(10_000);
      s.getOutputStream()
          .write(
              (orderHead(first.length() + second.length()) + first)
                  .getBytes(StandardCharsets.ISO_8859_1));
      // The first half is read and held, waiting for the rest.
      await()
          .atMost(Duration.ofSeconds(5))
          .until(() -> server.bufferedBodyBytes() > 0 || !audited.isEmpty());
      assertThat(audited).as("decided on the first half").isEmpty();
      s.getOutputStream().write(second.getBytes(StandardCharsets.ISO_8859_1));

      RawHttp.Reply r = RawHttp.read(s.getInputStream());
      assertThat(r.status()).as(r.body()).isEqualTo(200);
      assertThat(r.header("x-portcullis-segment")).isEqualTo("partners");
    }
    assertThat(audited).singleElement().isInstanceOf(Decision.Allow.class);
  }

  @Test
  void aBodyLargerThanMaxBodyBytes_isTruncated_so413BodyTooLarge_andAudited() throws Exception {
    start("127.0.0.1/32");
    // Valid JSON with the "qty" the schema wants, in the first 64 KiB: only truncation denies it.
    String body = "{\"qty\":1,\"note\":\"" + "n".repeat(64 * 1024) + "\"}";
    RawHttp.Reply r = RawHttp.exchange(server.port(), orderHead(body.length()) + body);
    assertThat(r.status()).isEqualTo(413);
    assertThat(r.body()).contains("body_too_large");
    assertThat(audited)
        .singleElement()
        .isInstanceOfSatisfying(
            Decision.Deny.class, d -> assertThat(d.reason()).isEqualTo(Reason.BODY_TOO_LARGE));
    assertThat(r.header("x-portcullis-decision-id"))
        .isEqualTo(audited.getLast().context().decisionId());
  }

  /**
   * A proxy that truncated the body says so with {@code x-envoy-auth-partial-body: true}; a client
   * can send its own {@code false} first. Any {@code true}, on any line or in a list, marks the
   * body truncated: otherwise a cut-off body would be judged as if it were all of it.
   */
  @Test
  void aClientsPartialBodyFalse_doesNotHideTheProxysTrue() throws Exception {
    start("127.0.0.1/32");
    String body = "{\"qty\":1}"; // passes the schema: only the truncation mark denies it
    String head = orderHead(body.length());
    String beforeBlankLine = head.substring(0, head.length() - 2);
    List<String> marks =
        List.of(
            "X-Envoy-Auth-Partial-Body: false\r\nX-Envoy-Auth-Partial-Body: true\r\n",
            "X-Envoy-Auth-Partial-Body: false, TRUE\r\n",
            "X-Envoy-Auth-Partial-Body: true,false\r\n");
    for (String mark : marks) {
      RawHttp.Reply r = RawHttp.exchange(server.port(), beforeBlankLine + mark + "\r\n" + body);
      assertThat(r.status()).as(mark).isEqualTo(413);
      assertThat(r.body()).as(mark).contains("body_too_large");
    }
    RawHttp.Reply complete =
        RawHttp.exchange(
            server.port(), beforeBlankLine + "X-Envoy-Auth-Partial-Body: false, no\r\n\r\n" + body);
    assertThat(complete.status()).as("no true: complete").isEqualTo(200);
  }

  @Test
  void otherPaths_are404AndNotDecided() throws Exception {
    start("127.0.0.1/32");
    assertThat(send("/admin/keys").statusCode()).isEqualTo(404);
    assertThat(audited).isEmpty();
  }
}
