package io.portcullis.gateway;

import static io.portcullis.gateway.GatewayExamples.lower;
import static io.portcullis.gateway.GatewayExamples.map;
import static org.assertj.core.api.Assertions.assertThat;

import io.portcullis.config.RuntimeConfig;
import io.portcullis.decision.DecisionPipeline;
import io.portcullis.decision.HeaderNames;
import io.portcullis.decision.Reason;
import io.portcullis.gateway.GatewayExamples.ApisixRoute;
import io.portcullis.gateway.GatewayExamples.TraefikRouter;
import io.portcullis.limit.LimitOutcome;
import io.portcullis.limit.LimitRequest;
import io.portcullis.limit.LimitStatus;
import io.portcullis.limit.RateLimiter;
import io.portcullis.net.CidrSet;
import io.portcullis.server.http.ForwardAuthServer;
import io.portcullis.server.http.ForwardedRequests;
import io.portcullis.testing.SamplePolicy;
import java.net.InetSocketAddress;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.jspecify.annotations.Nullable;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Drives Portcullis's forward-auth endpoint exactly as the APISIX and Traefik examples make those
 * proxies call it, and applies the example's rules to the answer: every APISIX route and every
 * Traefik router is one {@link ForwardAuthProxy}, read from {@code examples/} (address, check
 * method, body forwarding, the client headers passed to Portcullis, the headers copied upstream on
 * allow and to the client on deny, the client headers stripped first). The {@code X-Forwarded-*}
 * headers each proxy adds by itself come from the table in the example's README. A change to an
 * example that loses an identity header, a deny header or the body of a validated route fails here.
 *
 * <p>Portcullis runs its real forward-auth server over loopback with the {@link SamplePolicy} (fake
 * credential verifiers) and a limiter the test can exhaust, so 429 is covered too.
 */
class ForwardAuthExamplesTest {
  /** The five forwarded headers interfaces.md "Forward-auth (HTTP)" names for APISIX/Traefik. */
  private static final Set<String> SPEC_FORWARDED_HEADERS =
      Set.of(
          "x-forwarded-method",
          "x-forwarded-uri",
          "x-forwarded-host",
          "x-forwarded-proto",
          "x-forwarded-for");

  /** RFC 9110 §7.6.1 hop-by-hop headers, which Traefik drops when it relays a deny. */
  private static final Set<String> HOP_BY_HOP =
      Set.of(
          "connection",
          "keep-alive",
          "proxy-authenticate",
          "proxy-authorization",
          "te",
          "trailer",
          "transfer-encoding",
          "upgrade");

  private static final String CLIENT_IP = "203.0.113.7";
  private static final String DENIED_NETWORK_IP = "198.51.100.4";
  private static final String VALID_ORDER = "{\"qty\":1}";

  static final ExhaustibleLimiter limiter = new ExhaustibleLimiter();
  static ForwardAuthServer server;
  static final HttpClient http =
      HttpClient.newBuilder()
          .version(HttpClient.Version.HTTP_1_1)
          .connectTimeout(Duration.ofSeconds(5))
          .build();

  @BeforeAll
  static void start() throws Exception {
    DecisionPipeline pipeline =
        DecisionPipeline.builder().policy(() -> SamplePolicy.POLICY).limiter(limiter).build();
    server =
        ForwardAuthServer.builder(new InetSocketAddress("127.0.0.1", 0), pipeline)
            .trustedProxies(CidrSet.parse(List.of("127.0.0.1/32")))
            .build()
            .start();
  }

  @AfterAll
  static void stop() throws Exception {
    if (server != null) {
      server.close();
    }
  }

  @AfterEach
  void refill() {
    limiter.exhausted.set(false);
  }

  // ------------------------------------------------------------------ the proxies, from examples/

  /**
   * How one proxy configuration calls Portcullis and what it does with the answer.
   *
   * @param name where it comes from, for test names
   * @param address the check URL in the example
   * @param checkMethod the method of the call to Portcullis
   * @param forwardsBody whether the client's body is sent to Portcullis
   * @param forwarded the {@code X-Forwarded-*} headers the proxy adds (README table)
   * @param requestHeaders the client headers passed to Portcullis
   * @param upstreamHeaders Portcullis's response headers copied onto the upstream request on allow
   * @param clientHeaders Portcullis's response headers passed to the client on deny; {@code null}
   *     for every header but the hop-by-hop ones
   * @param stripped client headers removed before Portcullis is asked
   */
  record ForwardAuthProxy(
      String name,
      URI address,
      String checkMethod,
      boolean forwardsBody,
      List<String> forwarded,
      List<String> requestHeaders,
      List<String> upstreamHeaders,
      @Nullable List<String> clientHeaders,
      List<String> stripped) {
    @Override
    public String toString() {
      return name;
    }
  }

  static List<ForwardAuthProxy> proxies() {
    List<ForwardAuthProxy> out = new ArrayList<>();
    List<String> apisixForwarded =
        GatewayExamples.forwardedHeadersTable("examples/apisix/README.md");
    for (ApisixRoute route : GatewayExamples.apisixRoutes()) {
      Map<String, Object> fa = route.forwardAuth();
      String method = String.valueOf(fa.getOrDefault("request_method", "GET"));
      out.add(
          new ForwardAuthProxy(
              "apisix route " + route.id(),
              URI.create((String) fa.get("uri")),
              method,
              // APISIX sends the client's body only when the check request is a POST.
              method.equals("POST"),
              apisixForwarded,
              lower(fa.get("request_headers")),
              lower(fa.get("upstream_headers")),
              lower(fa.get("client_headers")),
              lower(map(map(route.plugins().get("proxy-rewrite")).get("headers")).get("remove"))));
    }
    List<String> traefikForwarded =
        GatewayExamples.forwardedHeadersTable("examples/traefik/README.md");
    for (TraefikRouter router : GatewayExamples.traefikRouters()) {
      List<String> stripped = new ArrayList<>();
      Map<String, Object> fa = null;
      for (Map<String, Object> mw : router.middlewares()) {
        if (mw.get("forwardAuth") != null) {
          fa = map(mw.get("forwardAuth"));
          break;
        }
        stripped.addAll(GatewayExamples.removedRequestHeaders(mw));
      }
      assertThat(fa).as("router %s has a forwardAuth middleware", router.name()).isNotNull();
      out.add(
          new ForwardAuthProxy(
              "traefik router " + router.name(),
              URI.create((String) fa.get("address")),
              // Traefik asks with GET unless preserveRequestMethod; X-Forwarded-Method says the
              // rest.
              Boolean.TRUE.equals(fa.get("preserveRequestMethod")) ? "ORIGINAL" : "GET",
              Boolean.TRUE.equals(fa.get("forwardBody")),
              traefikForwarded,
              lower(fa.get("authRequestHeaders")),
              lower(fa.get("authResponseHeaders")),
              null,
              stripped));
    }
    return out;
  }

  static List<ForwardAuthProxy> bodyForwardingProxies() {
    List<ForwardAuthProxy> withBody =
        proxies().stream().filter(ForwardAuthProxy::forwardsBody).toList();
    assertThat(withBody).as("the examples forward bodies for body_schema routes").isNotEmpty();
    return withBody;
  }

  // ------------------------------------------------------------------ the examples themselves

  @ParameterizedTest(name = "{0}")
  @MethodSource("proxies")
  void example_asksPortcullisAtItsForwardAuthPort_withTheForwardedHeadersTheSpecNames(
      ForwardAuthProxy proxy) {
    int defaultPort = RuntimeConfig.defaults(Path.of("policy.yaml")).http().address().getPort();
    assertThat(proxy.address().getPort()).isEqualTo(defaultPort);
    assertThat(proxy.address().getPath()).startsWith(ForwardedRequests.PREFIX);
    assertThat(lower(proxy.forwarded()))
        .containsExactlyInAnyOrderElementsOf(SPEC_FORWARDED_HEADERS);
  }

  // ------------------------------------------------------------------ allow

  @ParameterizedTest(name = "{0}")
  @MethodSource("proxies")
  void anonymousStatus_isProxiedAsPublic_andClientCopiesOfIdentityHeadersAreGone(
      ForwardAuthProxy proxy) throws Exception {
    Map<String, String> upstream =
        forwarded(
            exchange(
                proxy,
                ClientRequest.get("/v1/status?verbose=1")
                    .header("X-Portcullis-Segment", "internal")
                    .header("X-Portcullis-Client", "acme")
                    .header("X-Portcullis-Principal", "admin")
                    .header("X-Geo-Country", "CH")));

    assertThat(upstream)
        .containsEntry(HeaderNames.SEGMENT, "public")
        .containsEntry(HeaderNames.PRINCIPAL, "anonymous")
        .containsEntry(HeaderNames.CREDENTIAL, "anonymous")
        .containsKey(HeaderNames.DECISION_ID)
        .doesNotContainKeys(HeaderNames.CLIENT, "x-geo-country")
        // Portcullis answers this allow with x-envoy-auth-headers-to-remove (for Envoy's HTTP
        // mode); these proxies remove headers themselves and must not pass it on.
        .doesNotContainKey(HeaderNames.ENVOY_AUTH_HEADERS_TO_REMOVE);
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("proxies")
  void partnerKey_isProxiedWithItsIdentity_andTheKeyStillReachesTheApplication(
      ForwardAuthProxy proxy) throws Exception {
    Map<String, String> upstream =
        forwarded(
            exchange(proxy, ClientRequest.get("/v1/orders/42").header("X-Api-Key", "pk_acme")));

    assertThat(upstream)
        .containsEntry(HeaderNames.SEGMENT, "partners")
        .containsEntry(HeaderNames.CLIENT, "acme")
        .containsEntry(HeaderNames.CREDENTIAL, "api_key")
        .containsEntry(HeaderNames.PRINCIPAL, "key_1")
        .containsKey(HeaderNames.DECISION_ID);
    assertThat(upstream)
        .as("the READMEs: forward-auth cannot remove request headers, strip_credentials no-ops")
        .containsEntry("x-api-key", "pk_acme");
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("bodyForwardingProxies")
  void createOrder_bodyReachesPortcullis_validIsProxied_invalidIs400(ForwardAuthProxy proxy)
      throws Exception {
    ClientRequest valid =
        ClientRequest.post("/v1/orders", VALID_ORDER)
            .header("X-Api-Key", "pk_acme")
            .header("Content-Type", "application/json");
    assertThat(forwarded(exchange(proxy, valid))).containsEntry(HeaderNames.SEGMENT, "partners");

    ClientRequest invalid =
        ClientRequest.post("/v1/orders", "{}")
            .header("X-Api-Key", "pk_acme")
            .header("Content-Type", "application/json");
    assertPortcullisProblem(answered(exchange(proxy, invalid)), Reason.INVALID_BODY);
  }

  // ------------------------------------------------------------------ deny

  @ParameterizedTest(name = "{0}")
  @MethodSource("proxies")
  void expiredToken_reachesTheClientAs401_withOneWwwAuthenticate(ForwardAuthProxy proxy)
      throws Exception {
    Answered a =
        answered(
            exchange(
                proxy,
                ClientRequest.get("/v1/orders/42").header("Authorization", "Bearer expired")));

    assertPortcullisProblem(a, Reason.EXPIRED_TOKEN);
    assertThat(a.headers().get(HeaderNames.WWW_AUTHENTICATE))
        .containsExactly("Bearer error=\"invalid_token\"");
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("proxies")
  void anonymousOrders_reachesTheClientAs403(ForwardAuthProxy proxy) throws Exception {
    Answered a = answered(exchange(proxy, ClientRequest.get("/v1/orders")));

    assertPortcullisProblem(a, Reason.NO_MATCHING_RULE);
    assertThat(a.headers()).doesNotContainKey(HeaderNames.WWW_AUTHENTICATE);
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("proxies")
  void encodedSlash_reachesTheClientAs400(ForwardAuthProxy proxy) throws Exception {
    assertPortcullisProblem(
        answered(exchange(proxy, ClientRequest.get("/v1/status%2F..%2Fadmin"))),
        Reason.MALFORMED_REQUEST);
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("proxies")
  void clientAddressAndScheme_reachPortcullisThroughTheForwardedHeaders(ForwardAuthProxy proxy)
      throws Exception {
    ClientRequest partner = ClientRequest.get("/v1/orders/42").header("X-Api-Key", "pk_acme");

    assertPortcullisProblem(
        answered(exchange(proxy, partner.from(DENIED_NETWORK_IP))), Reason.IP_DENIED);
    assertPortcullisProblem(answered(exchange(proxy, partner.scheme("http"))), Reason.TLS_REQUIRED);
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("proxies")
  void exhaustedLimit_reachesTheClientAs429_withRetryAfterAndRateLimitHeaders(
      ForwardAuthProxy proxy) throws Exception {
    limiter.exhausted.set(true);
    Answered a =
        answered(
            exchange(proxy, ClientRequest.get("/v1/orders/42").header("X-Api-Key", "pk_acme")));

    assertPortcullisProblem(a, Reason.RATE_LIMITED);
    assertThat(a.headers().get(HeaderNames.RETRY_AFTER)).containsExactly("2");
    assertThat(a.headers()).containsKeys(HeaderNames.RATELIMIT, HeaderNames.RATELIMIT_POLICY);
  }

  // ------------------------------------------------------------------ the simulated proxy

  /** A request as the client sends it to the proxy. */
  record ClientRequest(
      String method,
      String uri,
      String host,
      String scheme,
      String clientIp,
      Map<String, String> headers,
      @Nullable String body) {
    static ClientRequest get(String uri) {
      return new ClientRequest("GET", uri, "api.example.com", "https", CLIENT_IP, Map.of(), null);
    }

    static ClientRequest post(String uri, String body) {
      return new ClientRequest("POST", uri, "api.example.com", "https", CLIENT_IP, Map.of(), body);
    }

    ClientRequest header(String name, String value) {
      Map<String, String> h = new LinkedHashMap<>(headers);
      h.put(name.toLowerCase(Locale.ROOT), value);
      return new ClientRequest(method, uri, host, scheme, clientIp, h, body);
    }

    ClientRequest from(String ip) {
      return new ClientRequest(method, uri, host, scheme, ip, headers, body);
    }

    ClientRequest scheme(String s) {
      return new ClientRequest(method, uri, host, s, clientIp, headers, body);
    }
  }

  /** What the proxy did with Portcullis's answer. */
  sealed interface Outcome {}

  /** Allowed: the request went upstream with these headers (lower-case names). */
  record Forwarded(Map<String, String> upstreamHeaders) implements Outcome {}

  /** Denied: the client got this status, these headers (lower-case names) and this body. */
  record Answered(int status, Map<String, List<String>> headers, String body) implements Outcome {}

  /**
   * One client request through {@code proxy}: strip, ask Portcullis as the example says, then
   * forward with the upstream headers or answer with the client headers.
   */
  private static Outcome exchange(ForwardAuthProxy proxy, ClientRequest request) throws Exception {
    Map<String, String> clientHeaders = new LinkedHashMap<>(request.headers());
    proxy.stripped().forEach(clientHeaders::remove);

    URI check =
        URI.create(
            "http://127.0.0.1:"
                + server.port()
                + proxy.address().getRawPath()
                + (proxy.address().getRawQuery() == null
                    ? ""
                    : "?" + proxy.address().getRawQuery()));
    HttpRequest.Builder call = HttpRequest.newBuilder(check).timeout(Duration.ofSeconds(10));
    for (String name : proxy.forwarded()) {
      call.header(name, forwardedValue(name, request));
    }
    for (String name : proxy.requestHeaders()) {
      String value = clientHeaders.get(name);
      if (value != null) {
        call.header(name, value);
      }
    }
    String method = proxy.checkMethod().equals("ORIGINAL") ? request.method() : proxy.checkMethod();
    call.method(
        method,
        proxy.forwardsBody() && request.body() != null
            ? HttpRequest.BodyPublishers.ofString(request.body())
            : HttpRequest.BodyPublishers.noBody());
    HttpResponse<String> answer = http.send(call.build(), HttpResponse.BodyHandlers.ofString());

    if (answer.statusCode() >= 200 && answer.statusCode() < 300) {
      Map<String, String> upstream = new TreeMap<>(clientHeaders);
      for (String name : proxy.upstreamHeaders()) {
        upstream.remove(name);
        answer.headers().firstValue(name).ifPresent(v -> upstream.put(name, v));
      }
      return new Forwarded(upstream);
    }
    Map<String, List<String>> toClient = new TreeMap<>();
    answer
        .headers()
        .map()
        .forEach(
            (name, values) -> {
              String n = name.toLowerCase(Locale.ROOT);
              boolean passed =
                  proxy.clientHeaders() == null
                      ? !HOP_BY_HOP.contains(n)
                      : proxy.clientHeaders().contains(n);
              if (passed) {
                toClient.put(n, List.copyOf(values));
              }
            });
    return new Answered(answer.statusCode(), toClient, answer.body());
  }

  private static String forwardedValue(String header, ClientRequest request) {
    return switch (header.toLowerCase(Locale.ROOT)) {
      case "x-forwarded-method" -> request.method();
      case "x-forwarded-uri" -> request.uri();
      case "x-forwarded-host" -> request.host();
      case "x-forwarded-proto" -> request.scheme();
      case "x-forwarded-for" -> request.clientIp();
      default -> throw new AssertionError("a README lists " + header + ", which is not modelled");
    };
  }

  private static Map<String, String> forwarded(Outcome outcome) {
    assertThat(outcome).isInstanceOf(Forwarded.class);
    return ((Forwarded) outcome).upstreamHeaders();
  }

  private static Answered answered(Outcome outcome) {
    assertThat(outcome).isInstanceOf(Answered.class);
    return (Answered) outcome;
  }

  /** The client got Portcullis's status and problem+json body, with the decision id header. */
  private static void assertPortcullisProblem(Answered a, Reason reason) {
    assertThat(a.status()).isEqualTo(reason.status());
    assertThat(a.headers().get(HeaderNames.CONTENT_TYPE)).containsExactly(HeaderNames.PROBLEM_JSON);
    assertThat(a.headers().get(HeaderNames.DECISION_ID)).hasSize(1);
    String decisionId = a.headers().get(HeaderNames.DECISION_ID).getFirst();
    Matcher type = Pattern.compile("\"type\":\"([^\"]+)\"").matcher(a.body());
    assertThat(type.find()).as(a.body()).isTrue();
    assertThat(type.group(1)).isEqualTo(reason.typeUri());
    assertThat(a.body())
        .contains("\"status\":" + reason.status())
        .contains("\"decision_id\":\"" + decisionId + "\"");
  }

  /**
   * Admits everything, with a RateLimit status, until {@link #exhausted} is set; then refuses the
   * first bucket with {@code rate_limited} and a retry after 1.5 s. Thread-safe.
   */
  static final class ExhaustibleLimiter implements RateLimiter {
    final AtomicBoolean exhausted = new AtomicBoolean();

    @Override
    public LimitOutcome acquire(List<LimitRequest> requests, boolean consume) {
      LimitRequest first = requests.getFirst();
      Duration retry = Duration.ofMillis(1500);
      if (exhausted.get()) {
        return new LimitOutcome(
            LimitOutcome.Refusal.EXHAUSTED,
            Reason.RATE_LIMITED,
            first.limit(),
            new LimitStatus(first.limit(), 200, 0, retry, Duration.ofSeconds(2)),
            retry,
            null);
      }
      return LimitOutcome.admitted(
          new LimitStatus(first.limit(), 200, 199, Duration.ofMillis(10), Duration.ofSeconds(2)));
    }
  }
}
