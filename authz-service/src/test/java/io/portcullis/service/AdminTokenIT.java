package io.portcullis.service;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.portcullis.Portcullis;
import io.portcullis.config.RuntimeConfig;
import io.portcullis.testing.TestRuntimeConfigs;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The admin token is at least 16 characters wherever it comes from: the admin gRPC service shares
 * the gRPC port, which is reachable from the network, so a short token could be guessed there.
 */
class AdminTokenIT {
  @TempDir Path dir;

  private RuntimeConfig config() throws Exception {
    Path policy =
        Files.writeString(
            dir.resolve("policy.yaml"),
            """
            version: 1
            segments:
              - name: public
                rules: [{ name: status, methods: [GET], paths: ["/v1/status"] }]
            """);
    return TestRuntimeConfigs.loopback(dir, policy);
  }

  @Test
  void shortTokenFromTheEnvironment_stopsTheStart_withoutShowingIt() throws Exception {
    RuntimeConfig config = config();

    assertThatThrownBy(
            () ->
                Portcullis.start(config, n -> n.equals("PORTCULLIS_ADMIN_TOKEN") ? "abc12" : null)
                    .close())
        .isInstanceOf(Portcullis.StartupException.class)
        .hasMessageContaining("PORTCULLIS_ADMIN_TOKEN")
        .hasMessageContaining("at least 16 characters")
        .hasMessageNotContaining("abc12");
  }

  @Test
  void shortOrEmptyTokenFile_stopsTheStart() throws Exception {
    RuntimeConfig config = config();
    Files.createDirectories(config.dataDir());
    for (String content : new String[] {"", "short\n"}) {
      Files.writeString(config.dataDir().resolve("admin-token"), content);

      assertThatThrownBy(() -> Portcullis.start(config, n -> null).close())
          .as("token file holding '%s'", content.strip())
          .isInstanceOf(Portcullis.StartupException.class)
          .hasMessageContaining("admin-token")
          .hasMessageContaining("at least 16 characters");
    }
  }

  @Test
  void longEnoughTokenFromTheEnvironment_starts() throws Exception {
    RuntimeConfig config = config();
    try (Portcullis service =
        Portcullis.start(
            config, n -> n.equals("PORTCULLIS_ADMIN_TOKEN") ? "0123456789abcdef" : null)) {
      assertThat(service.grpcPort()).isPositive();
    }
  }
}
