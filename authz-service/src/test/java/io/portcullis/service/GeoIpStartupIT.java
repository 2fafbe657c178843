package io.portcullis.service;

import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.portcullis.Portcullis;
import io.portcullis.config.RuntimeConfig;
import io.portcullis.testing.MmdbFiles;
import io.portcullis.testing.TestRuntimeConfigs;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A GeoIP database without countries stops the start: MaxMind's reader opens it, then refuses every
 * country lookup, which made every enforced request a 500 while the service reported ready.
 */
class GeoIpStartupIT {
  @TempDir Path dir;

  @Test
  void asnDatabase_stopsTheStart_namingTheSettingTheFileAndItsType() throws Exception {
    Path policy =
        Files.writeString(
            dir.resolve("policy.yaml"),
            """
            version: 1
            segments:
              - name: public
                rules: [{ name: status, methods: [GET], paths: ["/v1/status"] }]
            """);
    Path asn =
        MmdbFiles.write(
            dir.resolve("GeoLite2-ASN.mmdb"),
            "GeoLite2-ASN",
            Map.of("autonomous_system_number", 64500));
    RuntimeConfig c = TestRuntimeConfigs.loopback(dir, policy);
    RuntimeConfig config =
        new RuntimeConfig(
            c.instance(),
            c.grpc(),
            c.http(),
            c.admin(),
            c.policy(),
            c.storeUrl(),
            c.ratelimit(),
            c.rls(),
            c.audit(),
            new RuntimeConfig.GeoIp(null, asn),
            c.requestLimits(),
            c.dataDir());

    assertThatThrownBy(() -> Portcullis.start(config, n -> null).close())
        .isInstanceOf(Portcullis.StartupException.class)
        .hasMessageStartingWith("geoip.database: ")
        .hasMessageContaining(asn.toString())
        .hasMessageContaining("is a GeoLite2-ASN database");
  }
}
