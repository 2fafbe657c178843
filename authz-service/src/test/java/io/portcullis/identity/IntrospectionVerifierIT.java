package io.portcullis.identity;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import ch.qos.logback.classic.Level;
import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.read.ListAppender;
import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import io.portcullis.decision.Reason;
import io.portcullis.metrics.MetricNames;
import io.portcullis.request.RequestAttributes;
import io.portcullis.testing.FakeClock;
import io.portcullis.testing.TestIssuer;
import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.URI;
import java.net.URLDecoder;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.time.Instant;
import java.time.InstantSource;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import okhttp3.mockwebserver.RecordedRequest;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.slf4j.LoggerFactory;

/**
 * {@link IntrospectionVerifier} against a real RFC 7662 endpoint: mock-oauth2-server's {@code
 * /<issuer>/introspect}, which answers {@code active: true} with the token's claims for tokens it
 * signed and {@code active: false} otherwise (signature, issuer, {@code exp} checked with the wall
 * clock). Its answer carries RFC 7662's members only ({@code sub}, {@code client_id}, {@code
 * scope}, {@code username}, ...), so the configured roles path is {@code username} here. Failures
 * come from the real server too ({@link TestIssuer#introspectionAnswers}: a 5xx, HTML, a malformed
 * or oversized answer), a closed port, and a listener that never answers.
 */
class IntrospectionVerifierIT {
  static final String SECRET = "intro-client-secret-5f1e";
  static TestIssuer issuer;

  FakeClock clock;
  SimpleMeterRegistry meters;
  IntrospectionVerifiers verifiers;

  @BeforeAll
  static void startIssuer() {
    issuer = TestIssuer.start(InstantSource.system());
  }

  @AfterAll
  static void stopIssuer() {
    issuer.close();
  }

  @BeforeEach
  void setUp() {
    clock = FakeClock.atWallClock();
    meters = new SimpleMeterRegistry();
    verifiers =
        IntrospectionVerifiers.builder(meters)
            .clock(clock)
            .ticker(clock::nanoTime)
            // Generous: the first call of a run warms the in-process issuer up, which took over
            // 3 s on a loaded 2-core machine; the timeout tests use their own short settings.
            .connectTimeout(Duration.ofSeconds(2))
            .requestTimeout(Duration.ofSeconds(15))
            .inactiveTtl(Duration.ofSeconds(10))
            .maxResponseBytes(16 * 1024)
            .build();
    requests(); // drain what earlier tests left
  }

  @AfterEach
  void tearDown() {
    verifiers.close();
  }

  static URI endpoint() {
    return URI.create(issuer.issuer("intro") + "/introspect");
  }

  static IntrospectionConfig config(URI endpoint, ClaimMapping claims) {
    return new IntrospectionConfig(
        "legacy", endpoint, "portcullis", Secret.of(SECRET), Duration.ofSeconds(60), claims, 64);
  }

  static final ClaimMapping CLAIMS =
      new ClaimMapping("sub", "azp", "username", "scope", null); // client falls back to client_id

  BearerTokenVerifier verifier() {
    return verifiers.forEndpoint(config(endpoint(), CLAIMS));
  }

  /** The requests the server received since the last call. */
  static List<RecordedRequest> requests() {
    List<RecordedRequest> out = new ArrayList<>();
    while (true) {
      try {
        out.add(issuer.server().takeRequest(50, TimeUnit.MILLISECONDS));
      } catch (RuntimeException noneLeft) { // the server says so by throwing
        return out;
      }
    }
  }

  static String token(Duration validFor) {
    return issuer
        .token("intro")
        .claim("client_id", "billing-batch")
        .claim("scope", "orders:read orders:write")
        .claim("username", "orders.admin")
        .without("azp")
        .expiresAt(Instant.now().plus(validFor))
        .sign();
  }

  @Test
  void activeToken_aStringRolesMemberIsOneRole_scopeIsSplit() {
    String token =
        issuer
            .token("intro")
            .claim("client_id", "billing-batch")
            .claim("scope", "orders:read orders:write")
            .claim("username", "orders admin")
            .without("azp")
            .expiresAt(Instant.now().plus(Duration.ofHours(1)))
            .sign();

    Verification v = verifier().verify(token);

    assertThat(v).isInstanceOf(Verification.Verified.class);
    Identity id = ((Verification.Verified) v).identity();
    assertThat(id.roles()).containsExactly("orders admin");
    assertThat(id.scopes()).containsExactlyInAnyOrder("orders:read", "orders:write");
  }

  static Reason reason(Verification v) {
    assertThat(v).isInstanceOf(Verification.Rejected.class);
    return ((Verification.Rejected) v).reason();
  }

  /** Failed calls to the endpoint named legacy. */
  double errors() {
    return errors("call_failed");
  }

  /** Tokens the endpoint named legacy did not send because its calls were all taken. */
  double refusals() {
    return errors("concurrency_limit");
  }

  double errors(String reason) {
    return meters
        .get(MetricNames.INTROSPECTION_ERRORS)
        .tag(MetricNames.TAG_ISSUER, "legacy")
        .tag(MetricNames.TAG_REASON, reason)
        .counter()
        .count();
  }

  @Test
  void activeToken_verifies_withClaimsMapped_andSendsAnRfc7662Request() {
    String token = token(Duration.ofHours(1));

    Verification v = verifier().verify(token);

    assertThat(v).isInstanceOf(Verification.Verified.class);
    Identity id = ((Verification.Verified) v).identity();
    assertThat(id.credential()).isEqualTo(CredentialType.INTROSPECTION);
    assertThat(id.principal()).isEqualTo("alice");
    assertThat(id.client()).isEqualTo("billing-batch");
    assertThat(id.roles()).containsExactly("orders.admin");
    assertThat(id.scopes()).containsExactlyInAnyOrder("orders:read", "orders:write");
    assertThat(id.expiresAt()).isNotNull();

    List<RecordedRequest> sent = requests();
    assertThat(sent).hasSize(1);
    RecordedRequest r = sent.getFirst();
    assertThat(r.getMethod()).isEqualTo("POST");
    assertThat(r.getPath()).isEqualTo("/intro/introspect");
    assertThat(r.getHeader("Content-Type")).startsWith("application/x-www-form-urlencoded");
    assertThat(r.getHeader("Authorization"))
        .isEqualTo(
            "Basic "
                + Base64.getEncoder()
                    .encodeToString(("portcullis:" + SECRET).getBytes(StandardCharsets.UTF_8)));
    String form = r.getBody().readUtf8();
    assertThat(form).endsWith("&token_type_hint=access_token");
    assertThat(
            URLDecoder.decode(
                form.substring("token=".length(), form.indexOf('&')), StandardCharsets.UTF_8))
        .isEqualTo(token);
  }

  @Test
  void activeToken_identityCarriesTheEndpointsPolicyNameAsIssuer() {
    Verification v = verifier().verify(token(Duration.ofHours(1)));

    assertThat(v).isInstanceOf(Verification.Verified.class);
    assertThat(((Verification.Verified) v).identity().issuer())
        .as("segments match introspected callers by match.issuer")
        .isEqualTo("legacy");
  }

  @Test
  void activeResult_isCachedUntilCacheTtl() {
    BearerTokenVerifier v = verifier();
    String token = token(Duration.ofHours(1));
    v.verify(token);
    requests();

    for (int i = 0; i < 50; i++) {
      assertThat(v.verify(token)).isInstanceOf(Verification.Verified.class);
    }
    assertThat(requests()).as("cached").isEmpty();

    clock.advance(Duration.ofSeconds(61));
    assertThat(v.verify(token)).isInstanceOf(Verification.Verified.class);
    assertThat(requests()).as("asked again after cache_ttl").hasSize(1);
  }

  @Test
  void activeResult_isCachedNoLongerThanExp() {
    BearerTokenVerifier v = verifier();
    String token = token(Duration.ofSeconds(30)); // exp before the 60 s cache_ttl ends
    assertThat(v.verify(token)).isInstanceOf(Verification.Verified.class);
    requests();

    clock.advance(Duration.ofSeconds(20));
    assertThat(v.verify(token)).isInstanceOf(Verification.Verified.class);
    clock.advance(Duration.ofSeconds(12)); // past exp, before cache_ttl ends

    Verification after = v.verify(token);
    assertThat(reason(after)).isEqualTo(Reason.INACTIVE_TOKEN);
    assertThat(requests()).as("exp is known: no call needed").isEmpty();
  }

  @Test
  void inactiveTokens_areInactiveToken_cachedBriefly() {
    BearerTokenVerifier v = verifier();
    String expired = token(Duration.ofMinutes(-5));
    String foreign = issuer.token("other").sign(); // another issuer's token

    assertThat(reason(v.verify(expired))).isEqualTo(Reason.INACTIVE_TOKEN);
    assertThat(reason(v.verify(foreign))).isEqualTo(Reason.INACTIVE_TOKEN);
    assertThat(reason(v.verify("opaque-garbage-0001"))).isEqualTo(Reason.INACTIVE_TOKEN);
    assertThat(requests()).hasSize(3);

    for (int i = 0; i < 20; i++) {
      assertThat(reason(v.verify(expired))).isEqualTo(Reason.INACTIVE_TOKEN);
    }
    assertThat(requests()).as("inactive results are cached").isEmpty();

    clock.advance(Duration.ofSeconds(11));
    v.verify(expired);
    assertThat(requests()).as("only briefly").hasSize(1);
    assertThat(errors()).isZero();
  }

  @Test
  void activeResponseWithoutTheMappedSubject_isInvalidToken() {
    BearerTokenVerifier v =
        verifiers.forEndpoint(
            config(endpoint(), new ClaimMapping("preferred_username", "azp", null, "scope", null)));
    assertThat(reason(v.verify(token(Duration.ofHours(1))))).isEqualTo(Reason.INVALID_TOKEN);
  }

  /**
   * A token the endpoint signed with {@code token_type} set, which it echoes when introspecting.
   */
  static String tokenOfType(String tokenType) {
    return issuer
        .token("intro")
        .claim("token_type", tokenType)
        .expiresAt(Instant.now().plus(Duration.ofHours(1)))
        .sign();
  }

  /**
   * RFC 7662 §2.1: the server may introspect a refresh token whatever token_type_hint says (Ory
   * Hydra and Keycloak do), and answers {@code active: true}. A refresh token sent as a bearer
   * token is not an access token: invalid_token, cached like an inactive token.
   */
  @Test
  void activeRefreshToken_isInvalidToken_cachedLikeAnInactiveOne() {
    BearerTokenVerifier v = verifier();
    String refresh = tokenOfType("refresh_token");

    Verification first = v.verify(refresh);

    assertThat(reason(first)).isEqualTo(Reason.INVALID_TOKEN);
    assertThat(((Verification.Rejected) first).detail())
        .isEqualTo(
            "introspection endpoint 'legacy' describes a token that is not an access token"
                + " (token_type 'refresh_token')")
        .doesNotContain(refresh);
    assertThat(requests()).hasSize(1);
    for (int i = 0; i < 10; i++) {
      assertThat(reason(v.verify(refresh))).isEqualTo(Reason.INVALID_TOKEN);
    }
    assertThat(requests()).as("the rejection is cached").isEmpty();
    clock.advance(Duration.ofSeconds(11));
    assertThat(reason(v.verify(refresh))).isEqualTo(Reason.INVALID_TOKEN);
    assertThat(requests()).as("as briefly as an inactive token").hasSize(1);
    assertThat(errors()).isZero();
  }

  @Test
  void tokenTypesOtherThanABearerAccessToken_areInvalidToken() {
    BearerTokenVerifier v = verifier();
    // Keycloak's refresh and offline tokens, RFC 8693's "not an access token", a DPoP-bound token
    // (its proof is not checked here), an ID token.
    for (String type : List.of("Refresh", "Offline", "N_A", "DPoP", "id_token", "")) {
      assertThat(reason(v.verify(tokenOfType(type)))).as(type).isEqualTo(Reason.INVALID_TOKEN);
    }
  }

  @Test
  void bearerAccessTokenTypes_verify_caseInsensitively() {
    BearerTokenVerifier v = verifier();
    for (String type :
        List.of(
            "Bearer", "bearer", "access_token", "urn:ietf:params:oauth:token-type:access_token")) {
      assertThat(v.verify(tokenOfType(type))).as(type).isInstanceOf(Verification.Verified.class);
    }
  }

  /** Ory Hydra says what a token is for in token_use (its token_type is "Bearer" for both). */
  @Test
  void tokenUse_otherThanAccessToken_isInvalidToken() {
    BearerTokenVerifier v = verifier();
    try {
      issuer.introspectionAnswers(
          200,
          "{\"active\":true,\"sub\":\"alice\",\"token_type\":\"Bearer\","
              + "\"token_use\":\"refresh_token\"}");
      assertThat(reason(v.verify("opaque-refresh-0001"))).isEqualTo(Reason.INVALID_TOKEN);
      issuer.introspectionAnswers(200, "{\"active\":true,\"sub\":\"alice\",\"token_use\":7}");
      assertThat(reason(v.verify("opaque-odd-use-0002"))).isEqualTo(Reason.INVALID_TOKEN);
      issuer.introspectionAnswers(
          200,
          "{\"active\":true,\"sub\":\"alice\",\"token_type\":\"bearer\","
              + "\"token_use\":\"Access_Token\"}");
      assertThat(v.verify("opaque-access-0003")).isInstanceOf(Verification.Verified.class);
    } finally {
      issuer.introspectionAnswersNormally();
    }
  }

  /**
   * An exp no Instant can hold used to throw out of verify (a 500 with a stack trace, nothing
   * cached, so every retry called the endpoint again); one that is not a number was ignored.
   */
  @Test
  void anExpThatIsNotATime_isInvalidToken_cached() {
    BearerTokenVerifier v = verifier();
    List<String> exps =
        List.of(
            "1e300",
            "-1e300",
            "1e400",
            "9223372036854775807",
            "99999999999999999999999999",
            "\"4102444800\"",
            "true",
            "{}");
    try {
      for (int i = 0; i < exps.size(); i++) {
        String exp = exps.get(i);
        String token = "opaque-odd-exp-" + i;
        issuer.introspectionAnswers(200, "{\"active\":true,\"sub\":\"alice\",\"exp\":" + exp + "}");
        Verification first = v.verify(token);
        assertThat(reason(first)).as(exp).isEqualTo(Reason.INVALID_TOKEN);
        assertThat(((Verification.Rejected) first).detail())
            .isEqualTo(
                "introspection endpoint 'legacy' answers an exp that is not a time (seconds since"
                    + " the epoch)");
        assertThat(requests()).as(exp).hasSize(1);
        assertThat(reason(v.verify(token))).as(exp).isEqualTo(Reason.INVALID_TOKEN);
        assertThat(requests()).as("%s: cached", exp).isEmpty();
      }
    } finally {
      issuer.introspectionAnswersNormally();
    }
    assertThat(errors()).isZero();
  }

  @Test
  void aFractionalExp_isRoundedDown_andANullExpIsNone() {
    BearerTokenVerifier v = verifier();
    try {
      issuer.introspectionAnswers(200, "{\"active\":true,\"sub\":\"alice\",\"exp\":4102444800.75}");
      Verification fractional = v.verify("opaque-fractional-exp");
      assertThat(fractional).isInstanceOf(Verification.Verified.class);
      assertThat(((Verification.Verified) fractional).identity().expiresAt())
          .isEqualTo(Instant.ofEpochSecond(4102444800L));
      issuer.introspectionAnswers(200, "{\"active\":true,\"sub\":\"alice\",\"exp\":null}");
      Verification none = v.verify("opaque-null-exp");
      assertThat(none).isInstanceOf(Verification.Verified.class);
      assertThat(((Verification.Verified) none).identity().expiresAt()).isNull();
    } finally {
      issuer.introspectionAnswersNormally();
    }
  }

  @Test
  void twoEndpoints_aTokenInactiveAtTheFirst_isVerifiedByTheSecond() {
    CredentialChain chain =
        CredentialChain.builder()
            .introspection(
                verifiers.forEndpoint(named("a", URI.create(issuer.issuer("a") + "/introspect"))))
            .introspection(
                verifiers.forEndpoint(named("b", URI.create(issuer.issuer("b") + "/introspect"))))
            .build();
    String token =
        issuer
            .token("b")
            .claim("sub", "bob")
            .expiresAt(Instant.now().plus(Duration.ofHours(1)))
            .sign();

    Verification v =
        chain.resolve(
            RequestAttributes.builder().header("Authorization", "Bearer " + token).build());

    assertThat(v).isInstanceOf(Verification.Verified.class);
    assertThat(((Verification.Verified) v).identity().principal()).isEqualTo("bob");
    assertThat(requests())
        .extracting(RecordedRequest::getPath)
        .containsExactly("/a/introspect", "/b/introspect");
  }

  static IntrospectionConfig named(String name, URI endpoint) {
    return new IntrospectionConfig(
        name, endpoint, "portcullis", Secret.of(SECRET), Duration.ofSeconds(60), CLAIMS, 64);
  }

  @Test
  void endpointDown_failsClosedWithIdentityUnavailable_countedAndNeverCached() throws Exception {
    int port;
    try (ServerSocket s = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
      port = s.getLocalPort();
    }
    BearerTokenVerifier v =
        verifiers.forEndpoint(
            config(URI.create("http://127.0.0.1:" + port + "/introspect"), CLAIMS));
    String token = token(Duration.ofHours(1));

    assertThat(reason(v.verify(token))).isEqualTo(Reason.IDENTITY_UNAVAILABLE);
    assertThat(reason(v.verify(token))).isEqualTo(Reason.IDENTITY_UNAVAILABLE);

    assertThat(errors()).as("each attempt counted, none cached").isEqualTo(2.0);
  }

  @Test
  void serverErrorsAndBadAnswers_failClosed() {
    BearerTokenVerifier v = verifier();
    String token = token(Duration.ofHours(1));
    List<String[]> answers =
        List.of(
            new String[] {"503", "{\"error\":\"down\"}"},
            new String[] {"401", "{\"error\":\"invalid_client\"}"},
            new String[] {"200", "<html/>"},
            new String[] {"200", "{\"active\":\"yes\"}"},
            new String[] {"200", "[true]"},
            new String[] {"200", "{\"active\":true,\"sub\":\"" + "x".repeat(20_000) + "\"}"});
    try {
      for (String[] a : answers) {
        issuer.introspectionAnswers(Integer.parseInt(a[0]), a[1]);
        assertThat(reason(v.verify(token))).as(a[0]).isEqualTo(Reason.IDENTITY_UNAVAILABLE);
      }
    } finally {
      issuer.introspectionAnswersNormally();
    }
    assertThat(errors()).isEqualTo(answers.size());
    assertThat(v.verify(token))
        .as("recovers at once: failures were not cached")
        .isInstanceOf(Verification.Verified.class);
  }

  @Test
  void silentEndpoint_timesOutWithinTheBound() throws Exception {
    // A listener that completes TCP handshakes (backlog) but never reads or answers.
    try (ServerSocket silent = new ServerSocket(0, 50, InetAddress.getLoopbackAddress());
        IntrospectionVerifiers quick =
            IntrospectionVerifiers.builder(meters)
                .clock(clock)
                .requestTimeout(Duration.ofMillis(300))
                .build()) {
      BearerTokenVerifier v =
          quick.forEndpoint(
              config(
                  URI.create("http://127.0.0.1:" + silent.getLocalPort() + "/introspect"), CLAIMS));
      long start = System.nanoTime();

      Verification r = v.verify(token(Duration.ofHours(1)));

      Duration took = Duration.ofNanos(System.nanoTime() - start);
      assertThat(reason(r)).isEqualTo(Reason.IDENTITY_UNAVAILABLE);
      assertThat(took)
          .isGreaterThanOrEqualTo(Duration.ofMillis(300))
          .isLessThan(Duration.ofSeconds(2));
      assertThat(errors()).isEqualTo(1.0);
    }
  }

  @Test
  void nonHttpsEndpoints_areRefused_exceptOnLoopback() {
    org.assertj.core.api.Assertions.assertThatThrownBy(
            () ->
                verifiers.forEndpoint(
                    config(URI.create("http://auth.example.com/introspect"), CLAIMS)))
        .isInstanceOf(IllegalArgumentException.class);
  }

  @Test
  void theTokenAndTheClientSecret_neverAppearInLogsDetailsOrToString() {
    Logger root = (Logger) LoggerFactory.getLogger("io.portcullis");
    ListAppender<ILoggingEvent> logs = new ListAppender<>();
    logs.start();
    root.addAppender(logs);
    try {
      BearerTokenVerifier v = verifier();
      String token = token(Duration.ofHours(1));
      List<Verification> outcomes = new ArrayList<>();
      issuer.introspectionAnswers(500, "{}");
      outcomes.add(v.verify(token)); // fails: logged
      issuer.introspectionAnswersNormally();
      outcomes.add(v.verify(token)); // recovers: logged
      outcomes.add(v.verify(token(Duration.ofMinutes(-5))));

      assertThat(logs.list).hasSizeGreaterThanOrEqualTo(2);
      for (ILoggingEvent e : logs.list) {
        assertThat(e.getFormattedMessage()).doesNotContain(token).doesNotContain(SECRET);
      }
      for (Verification o : outcomes) {
        assertThat(o.toString()).doesNotContain(token).doesNotContain(SECRET);
      }
      assertThat(v.toString()).doesNotContain(SECRET);
      assertThat(config(endpoint(), CLAIMS).toString()).doesNotContain(SECRET);
    } finally {
      root.detachAppender(logs);
    }
  }

  // ------------------------------------------------------------------ max_concurrent_requests

  /**
   * A real introspection endpoint (the JDK's HTTP server, a virtual thread per request) that
   * answers {@code active: true} with the token as subject, and {@code active: false} for tokens
   * starting with {@code dead-}. While {@link #hold()} is in force every request waits at the
   * server until {@link #release()}: an authorization server that has stopped keeping up.
   */
  static final class HoldingEndpoint implements AutoCloseable {
    private final HttpServer server;
    private final ExecutorService threads = Executors.newVirtualThreadPerTaskExecutor();
    private final AtomicInteger received = new AtomicInteger();
    private volatile CountDownLatch gate = new CountDownLatch(0);

    HoldingEndpoint() throws IOException {
      server = HttpServer.create(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), 0);
      server.createContext("/introspect", this::handle);
      server.setExecutor(threads);
      server.start();
    }

    URI uri() {
      return URI.create("http://127.0.0.1:" + server.getAddress().getPort() + "/introspect");
    }

    /** Requests that reached the server so far (counted before they are held). */
    int received() {
      return received.get();
    }

    void hold() {
      gate = new CountDownLatch(1);
    }

    void release() {
      gate.countDown();
    }

    private void handle(HttpExchange exchange) throws IOException {
      String form = new String(exchange.getRequestBody().readAllBytes(), StandardCharsets.UTF_8);
      CountDownLatch held = gate;
      received.incrementAndGet();
      try {
        held.await();
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
      String token =
          URLDecoder.decode(
              form.substring("token=".length(), form.indexOf('&')), StandardCharsets.UTF_8);
      String json =
          token.startsWith("dead-")
              ? "{\"active\":false}"
              : "{\"active\":true,\"sub\":\"" + token + "\"}";
      byte[] body = json.getBytes(StandardCharsets.UTF_8);
      exchange.getResponseHeaders().set("Content-Type", "application/json");
      exchange.sendResponseHeaders(200, body.length);
      try (var out = exchange.getResponseBody()) {
        out.write(body);
      }
    }

    @Override
    public void close() {
      release();
      server.stop(0);
      threads.shutdownNow();
    }
  }

  static IntrospectionConfig bounded(URI endpoint, int maxConcurrentRequests) {
    return new IntrospectionConfig(
        "legacy",
        endpoint,
        "portcullis",
        Secret.of(SECRET),
        Duration.ofSeconds(60),
        CLAIMS,
        maxConcurrentRequests);
  }

  /** Verifies {@code token} on a thread of its own; the result completes when it returns. */
  static CompletableFuture<Verification> verifyOnAThread(BearerTokenVerifier v, String token) {
    CompletableFuture<Verification> result = new CompletableFuture<>();
    Thread.ofPlatform().start(() -> result.complete(v.verify(token)));
    return result;
  }

  static String principal(Verification v) {
    assertThat(v).isInstanceOf(Verification.Verified.class);
    return ((Verification.Verified) v).identity().principal();
  }

  @Test
  void concurrencyLimit_aFurtherDistinctToken_isIdentityUnavailableWithoutACall() throws Exception {
    try (HoldingEndpoint idp = new HoldingEndpoint()) {
      BearerTokenVerifier v = verifiers.forEndpoint(bounded(idp.uri(), 3));
      assertThat(principal(v.verify("opaque-cached"))).isEqualTo("opaque-cached");
      assertThat(reason(v.verify("dead-cached"))).isEqualTo(Reason.INACTIVE_TOKEN);
      idp.hold();
      List<CompletableFuture<Verification>> held = new ArrayList<>();
      for (int i = 1; i <= 3; i++) {
        held.add(verifyOnAThread(v, "opaque-" + i));
      }
      await().atMost(Duration.ofSeconds(10)).until(() -> idp.received() == 2 + 3);

      assertThat(reason(v.verify("opaque-4")))
          .as("a fourth distinct token while three calls are outstanding")
          .isEqualTo(Reason.IDENTITY_UNAVAILABLE);
      assertThat(idp.received()).as("the fourth token was not sent").isEqualTo(5);
      assertThat(refusals()).isEqualTo(1.0);
      assertThat(errors()).as("no call failed").isZero();

      // While the bound is reached: cached tokens answer from the cache, and a token already in
      // flight joins its call.
      assertThat(principal(v.verify("opaque-cached"))).isEqualTo("opaque-cached");
      assertThat(reason(v.verify("dead-cached"))).isEqualTo(Reason.INACTIVE_TOKEN);
      CompletableFuture<Verification> joiner = new CompletableFuture<>();
      Thread joining = Thread.ofPlatform().start(() -> joiner.complete(v.verify("opaque-1")));
      await()
          .atMost(Duration.ofSeconds(10))
          .until(() -> joining.getState() == Thread.State.TIMED_WAITING);
      assertThat(joiner).as("the joiner waits for the running call").isNotDone();
      assertThat(refusals()).isEqualTo(1.0);

      idp.release();
      for (int i = 0; i < 3; i++) {
        assertThat(principal(held.get(i).get(10, TimeUnit.SECONDS))).isEqualTo("opaque-" + (i + 1));
      }
      assertThat(principal(joiner.get(10, TimeUnit.SECONDS))).isEqualTo("opaque-1");
      assertThat(idp.received()).as("the joiner made no call of its own").isEqualTo(5);

      assertThat(principal(v.verify("opaque-5")))
          .as("the slots are free again once the held calls completed")
          .isEqualTo("opaque-5");
      assertThat(idp.received()).isEqualTo(6);
      assertThat(refusals()).isEqualTo(1.0);
    }
  }

  @Test
  void concurrencyLimit_aRefusedToken_endsTheSearch_theNextEndpointIsNotAsked() throws Exception {
    try (HoldingEndpoint idp = new HoldingEndpoint()) {
      CredentialChain chain =
          CredentialChain.builder()
              .introspection(verifiers.forEndpoint(bounded(idp.uri(), 1)))
              .introspection(
                  verifiers.forEndpoint(named("b", URI.create(issuer.issuer("b") + "/introspect"))))
              .build();
      idp.hold();
      CompletableFuture<Verification> held =
          CompletableFuture.supplyAsync(
              () ->
                  chain.resolve(
                      RequestAttributes.builder()
                          .header("Authorization", "Bearer opaque-held")
                          .build()));
      await().atMost(Duration.ofSeconds(10)).until(() -> idp.received() == 1);

      Verification refused =
          chain.resolve(
              RequestAttributes.builder().header("Authorization", "Bearer opaque-other").build());

      assertThat(reason(refused)).isEqualTo(Reason.IDENTITY_UNAVAILABLE);
      assertThat(requests()).as("the token was not passed on to endpoint b").isEmpty();
      idp.release();
      assertThat(principal(held.get(10, TimeUnit.SECONDS))).isEqualTo("opaque-held");
    }
  }

  @Test
  void concurrencyLimit_aTimedOutCall_freesItsSlot() throws Exception {
    try (HoldingEndpoint idp = new HoldingEndpoint();
        IntrospectionVerifiers quick =
            IntrospectionVerifiers.builder(meters)
                .clock(clock)
                .ticker(clock::nanoTime)
                .requestTimeout(Duration.ofMillis(300))
                .build()) {
      BearerTokenVerifier v = quick.forEndpoint(bounded(idp.uri(), 1));
      idp.hold();

      assertThat(reason(v.verify("opaque-slow"))).isEqualTo(Reason.IDENTITY_UNAVAILABLE);
      assertThat(errors()).as("timed out").isEqualTo(1.0);

      idp.release();
      assertThat(principal(v.verify("opaque-next")))
          .as("the timed-out call gave its slot back")
          .isEqualTo("opaque-next");
      assertThat(refusals()).isZero();
    }
  }

  @Test
  void concurrencyLimit_anInterruptedCall_freesItsSlot() throws Exception {
    try (HoldingEndpoint idp = new HoldingEndpoint()) {
      BearerTokenVerifier v = verifiers.forEndpoint(bounded(idp.uri(), 1));
      idp.hold();
      CompletableFuture<Verification> interrupted = new CompletableFuture<>();
      Thread caller =
          Thread.ofPlatform().start(() -> interrupted.complete(v.verify("opaque-abandoned")));
      await().atMost(Duration.ofSeconds(10)).until(() -> idp.received() == 1);

      caller.interrupt();

      assertThat(reason(interrupted.get(10, TimeUnit.SECONDS)))
          .isEqualTo(Reason.IDENTITY_UNAVAILABLE);
      idp.release();
      assertThat(principal(v.verify("opaque-next")))
          .as("the interrupted call gave its slot back")
          .isEqualTo("opaque-next");
      assertThat(refusals()).isZero();
    }
  }

  @Test
  void concurrencyLimit_refusalsAreLoggedAtMostOnceAMinute_withoutTheToken() throws Exception {
    Logger logger = (Logger) LoggerFactory.getLogger(IntrospectionVerifier.class);
    ListAppender<ILoggingEvent> logs = new ListAppender<>();
    logs.start();
    logger.addAppender(logs);
    try (HoldingEndpoint idp = new HoldingEndpoint()) {
      BearerTokenVerifier v = verifiers.forEndpoint(bounded(idp.uri(), 1));
      idp.hold();
      CompletableFuture<Verification> held = verifyOnAThread(v, "opaque-held");
      await().atMost(Duration.ofSeconds(10)).until(() -> idp.received() == 1);

      for (int i = 0; i < 20; i++) {
        assertThat(reason(v.verify("opaque-flood-" + i))).isEqualTo(Reason.IDENTITY_UNAVAILABLE);
      }
      assertThat(busyWarnings(logs)).hasSize(1);
      clock.advance(Duration.ofSeconds(61));
      assertThat(reason(v.verify("opaque-flood-late"))).isEqualTo(Reason.IDENTITY_UNAVAILABLE);

      assertThat(busyWarnings(logs)).as("again after a minute").hasSize(2);
      assertThat(refusals()).isEqualTo(21.0);
      assertThat(idp.received()).isEqualTo(1);
      for (ILoggingEvent e : busyWarnings(logs)) {
        assertThat(e.getFormattedMessage())
            .contains("'legacy'")
            .doesNotContain("opaque-flood")
            .doesNotContain(SECRET);
      }
      idp.release();
      assertThat(principal(held.get(10, TimeUnit.SECONDS))).isEqualTo("opaque-held");
    } finally {
      logger.detachAppender(logs);
    }
  }

  static List<ILoggingEvent> busyWarnings(ListAppender<ILoggingEvent> logs) {
    return logs.list.stream()
        .filter(e -> e.getLevel() == Level.WARN)
        .filter(e -> e.getFormattedMessage().contains("max_concurrent_requests"))
        .toList();
  }

  @Test
  void concurrencyLimit_mustBePositive() {
    org.assertj.core.api.Assertions.assertThatThrownBy(
            () -> verifiers.forEndpoint(bounded(endpoint(), 0)))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("max_concurrent_requests");
  }
}
