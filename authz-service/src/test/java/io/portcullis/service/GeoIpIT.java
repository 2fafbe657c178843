package io.portcullis.service;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import io.grpc.Grpc;
import io.grpc.InsecureChannelCredentials;
import io.grpc.ManagedChannel;
import io.grpc.Metadata;
import io.grpc.stub.MetadataUtils;
import io.portcullis.Portcullis;
import io.portcullis.config.RuntimeConfig;
import io.portcullis.identity.Secret;
import io.portcullis.metrics.MetricNames;
import io.portcullis.proto.v1.AdminServiceGrpc;
import io.portcullis.proto.v1.PolicyStatus;
import io.portcullis.proto.v1.ReloadPolicyRequest;
import io.portcullis.testing.MmdbFiles;
import io.portcullis.testing.TestRuntimeConfigs;
import java.io.InputStream;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.time.Duration;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import tools.jackson.databind.JsonNode;
import tools.jackson.databind.json.JsonMapper;

/** The GeoIP database in the running service: what start-up refuses, and replacing the file. */
class GeoIpIT {
  private static final JsonMapper JSON = JsonMapper.builder().build();

  @TempDir Path dir;

  static final String ADMIN_TOKEN = "geoip-it-admin-token-0123456789";

  /** The service's configuration with {@code database} as its GeoIP database and no header. */
  private RuntimeConfig config(Path database) throws Exception {
    Path policy =
        Files.writeString(
            dir.resolve("policy.yaml"),
            """
            version: 1
            segments:
              - name: public
                geo: { deny: [NO] }
                rules: [{ name: status, methods: [GET], paths: ["/v1/status"] }]
            """);
    return TestRuntimeConfigs.withGeoIp(
        TestRuntimeConfigs.loopback(dir, policy, Secret.of(ADMIN_TOKEN)),
        new RuntimeConfig.GeoIp(null, database));
  }

  /**
   * A database without countries stops the start: MaxMind's reader opens it, then refuses every
   * country lookup, which made every enforced request a 500 while the service reported ready.
   */
  @Test
  void asnDatabase_stopsTheStart_namingTheSettingTheFileAndItsType() throws Exception {
    Path asn =
        MmdbFiles.write(
            dir.resolve("GeoLite2-ASN.mmdb"),
            "GeoLite2-ASN",
            Map.of("autonomous_system_number", 64500));
    RuntimeConfig config = config(asn);

    assertThatThrownBy(() -> Portcullis.start(config, n -> null).close())
        .isInstanceOf(Portcullis.StartupException.class)
        .hasMessageStartingWith("geoip.database: ")
        .hasMessageContaining(asn.toString())
        .hasMessageContaining("is a GeoLite2-ASN database");
  }

  @Test
  void databaseReplacedByRename_decidesWithTheNewFileWithoutARestart() throws Exception {
    Path db = swedishDatabase();
    try (Portcullis service = Portcullis.start(config(db), n -> null)) {
      assertThat(check(service, "89.160.20.112")).as("SE, not denied").isEqualTo(200);

      replaceByNorwegian(db);

      await()
          .atMost(Duration.ofSeconds(20))
          .untilAsserted(() -> assertThat(check(service, "89.160.20.112")).isEqualTo(403));
      assertThat(
              service
                  .meters()
                  .get(MetricNames.GEOIP_RELOADS)
                  .tag(MetricNames.TAG_RESULT, "success")
                  .counter()
                  .count())
          .isEqualTo(1);
    }
  }

  /**
   * The documented reload endpoints re-read the GeoIP database as SIGHUP does, and say how it went:
   * they reloaded the policy alone, so an operator who replaced the database and called {@code POST
   * /admin/policy/reload} got a 200 and the old countries.
   */
  @Test
  void reloadEndpoints_openTheReplacedDatabase_andReportIt_aBadOneKeepsTheRunningOne()
      throws Exception {
    Path db = swedishDatabase();
    try (Portcullis service = Portcullis.start(config(db), n -> null)) {
      assertThat(check(service, "89.160.20.112")).as("SE, not denied").isEqualTo(200);
      replaceByNorwegian(db);

      HttpResponse<String> reloaded =
          HttpClient.newHttpClient()
              .send(
                  HttpRequest.newBuilder(
                          URI.create(
                              "http://127.0.0.1:" + service.adminPort() + "/admin/policy/reload"))
                      .header("authorization", "Bearer " + ADMIN_TOKEN)
                      .POST(HttpRequest.BodyPublishers.noBody())
                      .build(),
                  HttpResponse.BodyHandlers.ofString());

      assertThat(check(service, "89.160.20.112"))
          .as("NO now, right after the reload answered, not at the next file check")
          .isEqualTo(403);
      assertThat(reloaded.statusCode()).as(reloaded.body()).isEqualTo(200);
      JsonNode geo = JSON.readTree(reloaded.body()).get("reloaded").get(0);
      assertThat(geo.get("name").asString()).isEqualTo("geoip_database");
      assertThat(geo.get("ok").asBoolean()).isTrue();
      assertThat(geo.get("detail").asString()).startsWith(db + ": GeoLite2-Country, built ");

      // gRPC ReloadPolicy alike; a file that is no MaxMind database is refused and reported
      Path garbage = Files.writeString(dir.resolve("garbage.mmdb"), "not a database");
      Files.move(garbage, db, StandardCopyOption.ATOMIC_MOVE);
      ManagedChannel channel =
          Grpc.newChannelBuilderForAddress(
                  "127.0.0.1", service.grpcPort(), InsecureChannelCredentials.create())
              .build();
      try {
        Metadata token = new Metadata();
        token.put(
            Metadata.Key.of("authorization", Metadata.ASCII_STRING_MARSHALLER),
            "Bearer " + ADMIN_TOKEN);
        PolicyStatus status =
            AdminServiceGrpc.newBlockingStub(channel)
                .withInterceptors(MetadataUtils.newAttachHeadersInterceptor(token))
                .reloadPolicy(ReloadPolicyRequest.getDefaultInstance());

        assertThat(status.getLastReloadOk()).isTrue();
        assertThat(status.getReloadedList())
            .singleElement()
            .satisfies(
                r -> {
                  assertThat(r.getName()).isEqualTo("geoip_database");
                  assertThat(r.getOk()).isFalse();
                  assertThat(r.getDetail())
                      .startsWith("cannot open the GeoIP database " + db)
                      .contains("; the running database (GeoLite2-Country, built ")
                      .endsWith(") stays");
                });
      } finally {
        channel.shutdownNow();
      }
      assertThat(check(service, "89.160.20.112")).as("the running database stays").isEqualTo(403);
    }
  }

  /** MaxMind's test database, in which 89.160.20.112 is in SE. */
  private Path swedishDatabase() throws Exception {
    Path db = dir.resolve("GeoLite2-Country.mmdb");
    try (InputStream in = getClass().getResourceAsStream("/geoip/GeoIP2-Country-Test.mmdb")) {
      Files.copy(in, db);
    }
    return db;
  }

  /**
   * Replaces {@code db} geoipupdate's way, a complete new file renamed over it, by a database in
   * which every address is in NO.
   */
  private void replaceByNorwegian(Path db) throws Exception {
    Path next =
        MmdbFiles.write(
            dir.resolve("next.mmdb"),
            "GeoLite2-Country",
            Map.of("country", Map.of("iso_code", "NO")));
    Files.move(next, db, StandardCopyOption.ATOMIC_MOVE);
  }

  /** GET /v1/status through forward-auth, from {@code client} as the trusted proxy says. */
  private static int check(Portcullis service, String client) throws Exception {
    return HttpClient.newHttpClient()
        .send(
            HttpRequest.newBuilder(
                    URI.create("http://127.0.0.1:" + service.forwardAuthPort() + "/check"))
                .header("X-Original-URI", "/v1/status")
                .header("X-Forwarded-For", client)
                .build(),
            HttpResponse.BodyHandlers.discarding())
        .statusCode();
  }
}
