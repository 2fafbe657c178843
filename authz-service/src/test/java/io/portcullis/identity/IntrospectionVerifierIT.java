package io.portcullis.identity;

import static org.assertj.core.api.Assertions.assertThat;

import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.read.ListAppender;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import io.portcullis.decision.Reason;
import io.portcullis.metrics.MetricNames;
import io.portcullis.request.RequestAttributes;
import io.portcullis.testing.FakeClock;
import io.portcullis.testing.TestIssuer;
import java.net.InetAddress;
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
import java.util.concurrent.TimeUnit;
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
        "legacy", endpoint, "portcullis", Secret.of(SECRET), Duration.ofSeconds(60), claims);
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

  static Reason reason(Verification v) {
    assertThat(v).isInstanceOf(Verification.Rejected.class);
    return ((Verification.Rejected) v).reason();
  }

  double errors() {
    return meters
        .get(MetricNames.INTROSPECTION_ERRORS)
        .tag(MetricNames.TAG_ISSUER, "legacy")
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
        name, endpoint, "portcullis", Secret.of(SECRET), Duration.ofSeconds(60), CLAIMS);
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
}
