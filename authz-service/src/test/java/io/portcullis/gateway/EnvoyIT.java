package io.portcullis.gateway;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.grpc.Grpc;
import io.grpc.InsecureChannelCredentials;
import io.grpc.ManagedChannel;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.health.v1.HealthCheckRequest;
import io.grpc.health.v1.HealthCheckResponse.ServingStatus;
import io.grpc.health.v1.HealthGrpc;
import io.portcullis.Portcullis;
import io.portcullis.decision.HeaderNames;
import io.portcullis.decision.Reason;
import io.portcullis.testing.RecordingUpstream;
import io.portcullis.testing.RepoRoot;
import io.portcullis.testing.TestIssuer;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;
import org.testcontainers.containers.GenericContainer;
import org.testcontainers.containers.startupcheck.OneShotStartupCheckStrategy;
import org.testcontainers.containers.wait.strategy.Wait;
import org.testcontainers.junit.jupiter.Testcontainers;
import org.testcontainers.utility.DockerImageName;
import org.testcontainers.utility.MountableFile;

/**
 * The real Envoy binary against the configurations {@link EnvoyConfigTest} checks structurally:
 * Envoy's own {@code --mode validate} accepts every {@code envoy/*.yaml} (it also checks what the
 * protos cannot: extension names, certificate files, cluster references, format strings), the dev
 * configuration fails closed with 503 while no Portcullis answers, and — against Portcullis running
 * in-process on the host and a recording upstream — allows, denies with 401 and 403 and
 * Portcullis's problem+json, and strips client-sent identity headers before anyone sees them.
 *
 * <p>The container reaches the host through {@code Testcontainers.exposeHostPorts} ({@code
 * host.testcontainers.internal}); the configuration it runs is {@link EnvoyDevVariant}, i.e. {@code
 * envoy-dev.yaml} with only the cluster addresses changed (and the rate-limit filter dropped while
 * Portcullis does not serve the rate limit service).
 *
 * <p>Needs Docker; the whole class is reported as disabled, with that reason, where there is none.
 */
@Testcontainers(disabledWithoutDocker = true)
class EnvoyIT {
  /**
   * Pinned image, the same docker-compose.yml runs ({@link DockerComposeTest} checks), at the API
   * level of the {@code io.envoyproxy.controlplane:api} protos the structural tests parse with.
   */
  static final String ENVOY_IMAGE = "envoyproxy/envoy:v1.35.3";

  private static final Duration STARTUP = Duration.ofSeconds(90);

  /** gRPC health names the rate limit service under this name when Portcullis serves it. */
  private static final String RATE_LIMIT_SERVICE = "envoy.service.ratelimit.v3.RateLimitService";

  @TempDir static Path certs;
  @TempDir static Path dir;
  static GatewayBackends backends;
  static TestIssuer issuer;
  static Portcullis portcullis;
  static RecordingUpstream upstream;
  static GenericContainer<?> envoy;
  static final HttpClient http =
      HttpClient.newBuilder()
          .version(HttpClient.Version.HTTP_1_1)
          .connectTimeout(Duration.ofSeconds(5))
          .build();

  @BeforeAll
  static void makeCertificates() throws Exception {
    DevCertificates.generate(certs);
  }

  @BeforeAll
  static void startPortcullisAndEnvoyInFrontOfIt() throws Exception {
    backends = GatewayBackends.start(dir);
    issuer = backends.issuer();
    portcullis = backends.portcullis();
    upstream = backends.upstream();
    org.testcontainers.Testcontainers.exposeHostPorts(portcullis.grpcPort(), upstream.port());

    Path config =
        Files.writeString(
            dir.resolve("envoy-dev-it.yaml"),
            EnvoyDevVariant.derive(
                portcullis.grpcPort(), upstream.port(), servesRateLimitService()));
    envoy =
        new GenericContainer<>(DockerImageName.parse(ENVOY_IMAGE))
            .withCopyFileToContainer(
                MountableFile.forHostPath(config, 0644), "/etc/envoy/envoy.yaml")
            .withCommand("envoy", "-c", "/etc/envoy/envoy.yaml")
            .withExposedPorts(9901, 10000)
            .waitingFor(Wait.forHttp("/ready").forPort(9901).forStatusCode(200))
            .withStartupTimeout(STARTUP);
    envoy.start();
  }

  @AfterAll
  static void stop() {
    if (envoy != null) {
      envoy.stop();
    }
    if (backends != null) {
      backends.close();
    }
  }

  @BeforeEach
  void forgetUpstreamRequests() {
    upstream.clear();
  }

  private static boolean servesRateLimitService() {
    ManagedChannel channel =
        Grpc.newChannelBuilderForAddress(
                "127.0.0.1", portcullis.grpcPort(), InsecureChannelCredentials.create())
            .build();
    try {
      return HealthGrpc.newBlockingStub(channel)
              .withDeadlineAfter(5, TimeUnit.SECONDS)
              .check(HealthCheckRequest.newBuilder().setService(RATE_LIMIT_SERVICE).build())
              .getStatus()
          == ServingStatus.SERVING;
    } catch (StatusRuntimeException e) {
      if (e.getStatus().getCode() == Status.Code.NOT_FOUND) {
        return false;
      }
      throw e;
    } finally {
      channel.shutdownNow();
    }
  }

  static List<Path> files() throws Exception {
    return EnvoyConfigTest.files();
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("files")
  void envoy_acceptsConfigurationInValidateMode(Path file) throws Exception {
    try (GenericContainer<?> envoy =
        withCertificates(new GenericContainer<>(DockerImageName.parse(ENVOY_IMAGE)))
            .withCopyFileToContainer(MountableFile.forHostPath(file, 0644), "/etc/envoy/test.yaml")
            .withCommand("envoy", "--mode", "validate", "-c", "/etc/envoy/test.yaml")
            .withStartupCheckStrategy(new OneShotStartupCheckStrategy().withTimeout(STARTUP))) {
      envoy.start(); // fails unless the process exits 0

      assertThat(envoy.getLogs()).contains("configuration '/etc/envoy/test.yaml' OK");
    }
  }

  @Test
  void devEnvoy_withoutPortcullis_failsClosedWith503() throws Exception {
    try (GenericContainer<?> envoy =
        new GenericContainer<>(DockerImageName.parse(ENVOY_IMAGE))
            .withCopyFileToContainer(
                MountableFile.forHostPath(RepoRoot.resolve("envoy/envoy-dev.yaml"), 0644),
                "/etc/envoy/envoy.yaml")
            .withCommand("envoy", "-c", "/etc/envoy/envoy.yaml")
            .withExposedPorts(9901, 10000)
            .waitingFor(Wait.forHttp("/ready").forPort(9901).forStatusCode(200))
            .withStartupTimeout(STARTUP)) {
      envoy.start();
      HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();
      URI uri =
          URI.create("http://" + envoy.getHost() + ":" + envoy.getMappedPort(10000) + "/v1/status");

      HttpResponse<String> response =
          http.send(
              HttpRequest.newBuilder(uri)
                  .header("x-portcullis-principal", "admin")
                  .timeout(Duration.ofSeconds(10))
                  .build(),
              HttpResponse.BodyHandlers.ofString());

      assertThat(response.statusCode()).isEqualTo(503);
      await()
          .atMost(Duration.ofSeconds(10))
          .untilAsserted(() -> assertThat(envoy.getLogs()).contains("ext_authz_error"));
    }
  }

  // ------------------------------------------------------------------ in front of Portcullis

  @Test
  void anonymousStatus_isAllowed_withPortcullisIdentityUpstreamAndTheDecisionIdForTheClient()
      throws Exception {
    HttpResponse<String> r = send(viaEnvoy("/v1/status"));

    assertThat(r.statusCode()).isEqualTo(200);
    assertThat(r.body()).isEqualTo(RecordingUpstream.BODY);
    String decisionId = r.headers().firstValue(HeaderNames.DECISION_ID).orElseThrow();
    RecordingUpstream.Received seen = upstream.last();
    assertThat(seen.header(HeaderNames.SEGMENT)).hasValue("public");
    assertThat(seen.header(HeaderNames.PRINCIPAL)).hasValue("anonymous");
    assertThat(seen.header(HeaderNames.CREDENTIAL)).hasValue("anonymous");
    assertThat(seen.header(HeaderNames.DECISION_ID)).hasValue(decisionId);
  }

  @Test
  void jwtCaller_isAllowedAsItsPrincipal_andTheTokenIsRemovedBeforeTheUpstream() throws Exception {
    HttpResponse<String> r =
        send(
            viaEnvoy("/v1/orders/7")
                .header("Authorization", "Bearer " + issuer.token("main").sign()));

    assertThat(r.statusCode()).isEqualTo(200);
    RecordingUpstream.Received seen = upstream.last();
    assertThat(seen.header(HeaderNames.PRINCIPAL)).hasValue("alice");
    assertThat(seen.header(HeaderNames.SEGMENT)).hasValue("staff");
    assertThat(seen.header(HeaderNames.CLIENT)).hasValue("web-app");
    assertThat(seen.headers()).doesNotContainKey(HeaderNames.AUTHORIZATION);
  }

  @Test
  void invalidToken_is401WithPortcullisProblemAndOneWwwAuthenticate() throws Exception {
    HttpResponse<String> r =
        send(viaEnvoy("/v1/orders/7").header("Authorization", "Bearer not.a.token"));

    assertThat(r.statusCode()).isEqualTo(401);
    assertThat(r.headers().allValues(HeaderNames.WWW_AUTHENTICATE))
        .containsExactly("Bearer error=\"invalid_token\"");
    assertPortcullisProblem(r, Reason.INVALID_TOKEN);
  }

  @Test
  void anonymousOrders_is403WithPortcullisProblem() throws Exception {
    HttpResponse<String> r = send(viaEnvoy("/v1/orders"));

    assertThat(r.statusCode()).isEqualTo(403);
    assertPortcullisProblem(r, Reason.NO_MATCHING_RULE);
  }

  @Test
  void clientSentPortcullisHeaders_neverReachTheUpstream() throws Exception {
    HttpResponse<String> r =
        send(
            viaEnvoy("/v1/status")
                .header("X-Portcullis-Segment", "internal")
                .header("X-Portcullis-Client", "acme")
                .header("X-Portcullis-Rule", "forged")
                .header("X-Geo-Country", "CH"));

    assertThat(r.statusCode()).isEqualTo(200);
    RecordingUpstream.Received seen = upstream.last();
    assertThat(seen.header(HeaderNames.SEGMENT)).hasValue("public");
    assertThat(seen.header(HeaderNames.CLIENT)).isEmpty();
    assertThat(seen.namesStartingWith(HeaderNames.PORTCULLIS_PREFIX))
        .as("only Portcullis's own: the early mutation drops the five, headers_to_remove the rest")
        .containsExactlyInAnyOrder(
            HeaderNames.PRINCIPAL,
            HeaderNames.SEGMENT,
            HeaderNames.CREDENTIAL,
            HeaderNames.DECISION_ID);
    assertThat(seen.headers()).doesNotContainKey("x-geo-country");

    HttpResponse<String> underscore =
        send(viaEnvoy("/v1/status").header("X_Portcullis_Segment", "internal"));
    assertThat(underscore.statusCode())
        .as("headers_with_underscores_action: REJECT_REQUEST")
        .isEqualTo(400);
  }

  private static HttpRequest.Builder viaEnvoy(String path) {
    return HttpRequest.newBuilder(
            URI.create("http://" + envoy.getHost() + ":" + envoy.getMappedPort(10000) + path))
        .timeout(Duration.ofSeconds(10));
  }

  private static HttpResponse<String> send(HttpRequest.Builder request) throws Exception {
    return http.send(request.build(), HttpResponse.BodyHandlers.ofString());
  }

  private static void assertPortcullisProblem(HttpResponse<String> r, Reason reason) {
    String decisionId = r.headers().firstValue(HeaderNames.DECISION_ID).orElseThrow();
    assertThat(r.headers().firstValue(HeaderNames.CONTENT_TYPE)).hasValue(HeaderNames.PROBLEM_JSON);
    assertThat(r.body())
        .contains("\"type\":\"" + reason.typeUri() + "\"")
        .contains("\"decision_id\":\"" + decisionId + "\"");
    assertThat(upstream.received()).as("a denied request is never proxied").isEmpty();
  }

  /** Copies the dev certificates Envoy reads to /etc/envoy/certs (never the CA's key). */
  private static GenericContainer<?> withCertificates(GenericContainer<?> container)
      throws Exception {
    try (Stream<Path> files = Files.list(certs)) {
      for (Path f : files.filter(f -> !f.getFileName().toString().equals("ca.key")).toList()) {
        container.withCopyFileToContainer(
            MountableFile.forHostPath(f, 0644), "/etc/envoy/certs/" + f.getFileName());
      }
    }
    return container;
  }
}
