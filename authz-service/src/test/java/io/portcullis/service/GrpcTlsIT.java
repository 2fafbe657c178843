package io.portcullis.service;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.grpc.Status;
import io.portcullis.Portcullis;
import io.portcullis.config.RuntimeConfig;
import io.portcullis.policy.ReloadSignal;
import io.portcullis.testing.LogCapture;
import io.portcullis.testing.TestCertificates;
import io.portcullis.testing.TestRuntimeConfigs;
import io.portcullis.testing.TlsHealthChecks;
import java.net.InetSocketAddress;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import org.awaitility.Awaitility;
import org.bouncycastle.asn1.x509.GeneralName;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import sun.misc.Signal;
import tools.jackson.databind.JsonNode;
import tools.jackson.databind.json.JsonMapper;

/**
 * The whole service with TLS on the gRPC listener: its certificate's expiry and the calls refused
 * for their client certificate are metrics.
 */
class GrpcTlsIT {
  @TempDir Path dir;

  private RuntimeConfig config(RuntimeConfig.Tls tls) throws Exception {
    return config(tls, "127.0.0.1");
  }

  private RuntimeConfig config(RuntimeConfig.Tls tls, String grpcHost) throws Exception {
    Path policy =
        Files.writeString(
            dir.resolve("policy.yaml"),
            """
            version: 1
            segments:
              - name: public
                rules: [{ name: status, methods: [GET], paths: ["/v1/status"] }]
            """);
    RuntimeConfig c = TestRuntimeConfigs.loopback(dir, policy);
    return new RuntimeConfig(
        c.instance(),
        new RuntimeConfig.Grpc(new InetSocketAddress(grpcHost, 0), tls, Duration.ofSeconds(1)),
        c.http(),
        c.admin(),
        c.policy(),
        c.storeUrl(),
        c.ratelimit(),
        c.rls(),
        c.audit(),
        c.geoip(),
        c.requestLimits(),
        c.dataDir(),
        c.shutdownDelay());
  }

  @Test
  void serverCertificateExpiry_isExportedInEpochSeconds() throws Exception {
    TestCertificates certs = TestCertificates.create(dir.resolve("tls"), "spiffe://test/envoy");
    Instant notAfter = Instant.parse("2099-01-02T03:04:05Z");
    TestCertificates.Issued server =
        certs.issue(
            "server-2099",
            "EC",
            Instant.now().minus(Duration.ofHours(1)),
            notAfter,
            new GeneralName(GeneralName.dNSName, "localhost"));

    try (Portcullis p =
        Portcullis.start(
            config(new RuntimeConfig.Tls(server.cert(), server.key(), certs.caCert())),
            n -> null)) {
      assertThat(p.meters().scrape())
          .contains(
              "portcullis_tls_certificate_expiry_seconds{listener=\"grpc\"} "
                  + (double) notAfter.getEpochSecond());
    }
  }

  @Test
  void mtlsOffLoopbackWithoutAllowedClientIds_isWarnedAbout_butNotWithThem() throws Exception {
    TestCertificates certs = TestCertificates.create(dir.resolve("tls"), "spiffe://test/envoy");
    RuntimeConfig.Tls anyClient =
        new RuntimeConfig.Tls(certs.serverCert(), certs.serverKey(), certs.caCert());
    RuntimeConfig.Tls envoyOnly =
        new RuntimeConfig.Tls(
            certs.serverCert(), certs.serverKey(), certs.caCert(), List.of("spiffe://test/envoy"));

    try (LogCapture logs = LogCapture.of(Portcullis.class)) {
      try (Portcullis p = Portcullis.start(config(envoyOnly, "0.0.0.0"), n -> null)) {
        assertThat(logs.warnings()).noneMatch(w -> w.contains("allowed_client_ids"));
      }
      try (Portcullis p = Portcullis.start(config(anyClient, "0.0.0.0"), n -> null)) {
        assertThat(logs.warnings())
            .anyMatch(w -> w.contains("admits every client certificate"))
            .anyMatch(w -> w.contains("server.grpc.tls.allowed_client_ids"));
      }
    }
  }

  @Test
  void aClientNotInAllowedClientIds_isRefused_andCounted() throws Exception {
    TestCertificates certs = TestCertificates.create(dir.resolve("tls"), "spiffe://test/envoy");
    TestCertificates.Issued workload =
        certs.issue(
            "workload",
            new GeneralName(GeneralName.uniformResourceIdentifier, "spiffe://test/workload"));
    RuntimeConfig.Tls tls =
        new RuntimeConfig.Tls(
            certs.serverCert(), certs.serverKey(), certs.caCert(), List.of("spiffe://test/envoy"));

    try (Portcullis p = Portcullis.start(config(tls), n -> null)) {
      assertThat(health(p, certs, certs.clientCert(), certs.clientKey())).isEqualTo(Status.Code.OK);
      assertThat(health(p, certs, workload.cert(), workload.key()))
          .isEqualTo(Status.Code.PERMISSION_DENIED);
      assertThat(p.meters().scrape()).contains("portcullis_grpc_client_refused_total 1.0");
    }
  }

  private static Status.Code health(Portcullis p, TestCertificates certs, Path cert, Path key)
      throws Exception {
    return TlsHealthChecks.code(p.grpcPort(), certs.caCert(), cert, key);
  }

  /** What a renewal brings: a certificate for localhost, valid for 90 days from {@code now}. */
  private static TestCertificates.Issued renewal(TestCertificates certs, Instant now)
      throws Exception {
    return certs.issue(
        "renewed",
        "EC",
        now.minus(Duration.ofHours(1)),
        now.plus(Duration.ofDays(90)),
        new GeneralName(GeneralName.dNSName, "localhost"));
  }

  @Test
  void sighup_reloadsTheServerCertificate_withoutRestartingTheListener() throws Exception {
    TestCertificates certs = TestCertificates.create(dir.resolve("tls"), "spiffe://test/envoy");
    Instant now = Instant.now().truncatedTo(java.time.temporal.ChronoUnit.SECONDS);
    TestCertificates.Issued renewed = renewal(certs, now);
    Path cert = Files.copy(certs.serverCert(), dir.resolve("live.pem"));
    Path key = Files.copy(certs.serverKey(), dir.resolve("live.key"));

    try (Portcullis p =
            Portcullis.start(config(new RuntimeConfig.Tls(cert, key, certs.caCert())), n -> null);
        LogCapture logs = LogCapture.of(io.portcullis.server.grpc.GrpcServer.class)) {
      int port = p.grpcPort();
      Files.copy(renewed.cert(), cert, StandardCopyOption.REPLACE_EXISTING);
      Files.copy(renewed.key(), key, StandardCopyOption.REPLACE_EXISTING);

      Signal.raise(new Signal(ReloadSignal.SIGNAL));

      String expiry =
          "portcullis_tls_certificate_expiry_seconds{listener=\"grpc\"} "
              + (double) now.plus(Duration.ofDays(90)).getEpochSecond();
      Awaitility.await()
          .atMost(Duration.ofSeconds(10))
          .untilAsserted(() -> assertThat(p.meters().scrape()).contains(expiry));
      // The file check would serve the new files too: the thread that did says which it was.
      assertThat(logs.infosWithThread())
          .filteredOn(m -> m.contains("gRPC TLS reloaded from"))
          .first()
          .asString()
          .as("reloaded by SIGHUP's handler, not by the file check")
          .startsWith("SIGHUP handler: ");
      assertThat(p.grpcPort()).isEqualTo(port);
      assertThat(health(p, certs, certs.clientCert(), certs.clientKey())).isEqualTo(Status.Code.OK);
    }
  }

  /**
   * {@code POST /admin/policy/reload} re-reads the TLS files as SIGHUP does, at once, and says what
   * it serves now: it reloaded the policy alone, so the renewal waited for the file check.
   */
  @Test
  void adminReload_servesTheRenewedCertificateAtOnce_andReportsIt() throws Exception {
    TestCertificates certs = TestCertificates.create(dir.resolve("tls"), "spiffe://test/envoy");
    Instant now = Instant.now().truncatedTo(java.time.temporal.ChronoUnit.SECONDS);
    TestCertificates.Issued renewed = renewal(certs, now);
    Path cert = Files.copy(certs.serverCert(), dir.resolve("live.pem"));
    Path key = Files.copy(certs.serverKey(), dir.resolve("live.key"));

    try (Portcullis p =
        Portcullis.start(config(new RuntimeConfig.Tls(cert, key, certs.caCert())), n -> null)) {
      Files.copy(renewed.cert(), cert, StandardCopyOption.REPLACE_EXISTING);
      Files.copy(renewed.key(), key, StandardCopyOption.REPLACE_EXISTING);
      String token = Files.readString(dir.resolve("data").resolve("admin-token")).trim();

      HttpResponse<String> r =
          HttpClient.newHttpClient()
              .send(
                  HttpRequest.newBuilder(
                          URI.create("http://127.0.0.1:" + p.adminPort() + "/admin/policy/reload"))
                      .header("authorization", "Bearer " + token)
                      .POST(HttpRequest.BodyPublishers.noBody())
                      .build(),
                  HttpResponse.BodyHandlers.ofString());

      assertThat(p.meters().scrape())
          .as("served when the reload answered, not at the next file check")
          .contains(
              "portcullis_tls_certificate_expiry_seconds{listener=\"grpc\"} "
                  + (double) now.plus(Duration.ofDays(90)).getEpochSecond());
      assertThat(r.statusCode()).as(r.body()).isEqualTo(200);
      JsonNode tls = JsonMapper.builder().build().readTree(r.body()).get("reloaded").get(0);
      assertThat(tls.get("name").asString()).isEqualTo("grpc_tls");
      assertThat(tls.get("ok").asBoolean()).isTrue();
      assertThat(tls.get("detail").asString())
          .startsWith(cert + ": certificate ")
          .endsWith(" valid until " + now.plus(Duration.ofDays(90)));
      assertThat(health(p, certs, certs.clientCert(), certs.clientKey())).isEqualTo(Status.Code.OK);
    }
  }

  @Test
  void renewedFiles_areServedWithoutASignal_andEachReloadIsCounted() throws Exception {
    TestCertificates certs = TestCertificates.create(dir.resolve("tls"), "spiffe://test/envoy");
    Instant now = Instant.now().truncatedTo(java.time.temporal.ChronoUnit.SECONDS);
    TestCertificates.Issued renewed = renewal(certs, now);
    Path cert = Files.copy(certs.serverCert(), dir.resolve("live.pem"));
    Path key = Files.copy(certs.serverKey(), dir.resolve("live.key"));

    try (Portcullis p =
        Portcullis.start(config(new RuntimeConfig.Tls(cert, key, certs.caCert())), n -> null)) {
      assertThat(p.meters().scrape())
          .contains("portcullis_tls_reloads_total{listener=\"grpc\",result=\"success\"} 0.0");
      // as a SPIFFE helper or cert-manager would: each file written beside and renamed over
      Files.move(
          Files.copy(renewed.key(), dir.resolve("live.key.new")),
          key,
          StandardCopyOption.REPLACE_EXISTING,
          StandardCopyOption.ATOMIC_MOVE);
      Files.move(
          Files.copy(renewed.cert(), dir.resolve("live.pem.new")),
          cert,
          StandardCopyOption.REPLACE_EXISTING,
          StandardCopyOption.ATOMIC_MOVE);

      String expiry =
          "portcullis_tls_certificate_expiry_seconds{listener=\"grpc\"} "
              + (double) now.plus(Duration.ofDays(90)).getEpochSecond();
      Awaitility.await()
          .atMost(Duration.ofSeconds(20))
          .untilAsserted(() -> assertThat(p.meters().scrape()).contains(expiry));
      // at least one: a check between the two renames reads a renewed key with the old certificate
      // (an error), and one that reads the versions just before the second rename reads it twice
      assertThat(p.meters().scrape())
          .containsPattern(
              "portcullis_tls_reloads_total\\{listener=\"grpc\",result=\"success\"\\} [1-9]");
      assertThat(health(p, certs, certs.clientCert(), certs.clientKey())).isEqualTo(Status.Code.OK);
    }
  }

  @Test
  void withoutTls_thereIsNoExpiryMetric() throws Exception {
    try (Portcullis p = Portcullis.start(config(null), n -> null)) {
      assertThat(p.meters().scrape())
          .doesNotContain("portcullis_tls_certificate_expiry_seconds")
          .doesNotContain("portcullis_tls_reloads_total");
    }
  }

  @Test
  void anExpiredServerCertificate_stopsTheStart_namingTheFileAndDates() throws Exception {
    TestCertificates certs = TestCertificates.create(dir.resolve("tls"), "spiffe://test/envoy");
    TestCertificates.Issued expired =
        certs.issue(
            "expired",
            "EC",
            Instant.parse("2020-01-01T00:00:00Z"),
            Instant.parse("2021-01-01T00:00:00Z"));

    assertThatThrownBy(
            () ->
                Portcullis.start(
                        config(new RuntimeConfig.Tls(expired.cert(), expired.key(), null)),
                        n -> null)
                    .close())
        .isInstanceOf(Portcullis.StartupException.class)
        .hasMessageContaining(
            expired.cert() + ": the certificate 'CN=expired' expired at 2021-01-01");
  }
}
