package io.portcullis.gateway;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.portcullis.testing.RepoRoot;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.BeforeAll;
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
 * protos cannot: extension names, certificate files, cluster references, format strings), and the
 * dev configuration fails closed with 503 while no Portcullis answers.
 *
 * <p>Needs Docker; skipped (reported as such) where there is none. Allow/deny flows through a
 * running Portcullis belong here once the server bootstrap exists: start it in-process on free
 * ports, {@code Testcontainers.exposeHostPorts(...)}, and point the dev configuration's {@code
 * portcullis} cluster at {@code host.testcontainers.internal}.
 */
@Testcontainers(disabledWithoutDocker = true)
class EnvoyIT {
  /**
   * Pinned image, the same docker-compose.yml runs ({@link DockerComposeTest} checks), at the API
   * level of the {@code io.envoyproxy.controlplane:api} protos the structural tests parse with.
   */
  static final String ENVOY_IMAGE = "envoyproxy/envoy:v1.35.3";

  private static final Duration STARTUP = Duration.ofSeconds(90);

  @TempDir static Path certs;

  @BeforeAll
  static void makeCertificates() throws Exception {
    DevCertificates.generate(certs);
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
