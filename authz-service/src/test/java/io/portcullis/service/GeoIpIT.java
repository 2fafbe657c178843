package io.portcullis.service;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import io.portcullis.Portcullis;
import io.portcullis.config.RuntimeConfig;
import io.portcullis.metrics.MetricNames;
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

/** The GeoIP database in the running service: what start-up refuses, and replacing the file. */
class GeoIpIT {
  @TempDir Path dir;

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
        TestRuntimeConfigs.loopback(dir, policy), new RuntimeConfig.GeoIp(null, database));
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
    Path db = dir.resolve("GeoLite2-Country.mmdb");
    try (InputStream in = getClass().getResourceAsStream("/geoip/GeoIP2-Country-Test.mmdb")) {
      Files.copy(in, db);
    }
    try (Portcullis service = Portcullis.start(config(db), n -> null)) {
      assertThat(check(service, "89.160.20.112")).as("SE, not denied").isEqualTo(200);

      // geoipupdate's way: a complete new file renamed over the old one (this one says NO)
      Path next =
          MmdbFiles.write(
              dir.resolve("next.mmdb"),
              "GeoLite2-Country",
              Map.of("country", Map.of("iso_code", "NO")));
      Files.move(next, db, StandardCopyOption.ATOMIC_MOVE);

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
