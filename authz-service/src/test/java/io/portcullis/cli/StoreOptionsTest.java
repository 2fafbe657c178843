package io.portcullis.cli;

import static org.assertj.core.api.Assertions.assertThat;

import io.portcullis.audit.AuditStore;
import io.portcullis.config.RuntimeConfigLoader;
import io.portcullis.store.Database;
import io.portcullis.store.StoreSettings;
import io.portcullis.testing.AuditSamples;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code --config FILE} of the store commands ({@code audit}, {@code keys}) against a real SQLite
 * store: they read only {@code store.url}, so the service's other variables (admin token, TLS
 * paths, Redis password) need not be set where they run (cron, a log shipper); the file is still
 * checked, and a variable in {@code store.url} still must be set.
 */
class StoreOptionsTest {
  /** Variables no test environment sets. */
  private static final List<String> UNSET =
      List.of(
          "PORTCULLIS_TEST_UNSET_ADMIN_TOKEN",
          "PORTCULLIS_TEST_UNSET_TLS_DIR",
          "PORTCULLIS_TEST_UNSET_REDIS_PASSWORD",
          "PORTCULLIS_TEST_UNSET_REDIS_MASTER",
          "PORTCULLIS_TEST_UNSET_DB");

  @TempDir Path dir;
  private String url;
  private Path config;

  @BeforeEach
  void fill() {
    assertThat(UNSET).allSatisfy(v -> assertThat(System.getenv(v)).as(v).isNull());
    url = "jdbc:sqlite:" + dir.resolve("portcullis.db");
    try (Database db = Database.open(StoreSettings.of(url))) {
      AuditSamples.store(AuditStore.of(db), Instant.parse("2026-11-22T12:00:00Z"));
    }
    config = dir.resolve("portcullis.yaml");
  }

  private CommandRun run(String... args) {
    List<String> all = new ArrayList<>(List.of(args));
    all.add("--config");
    all.add(config.toString());
    return CommandRun.of(new PortcullisCommand(), all.toArray(String[]::new));
  }

  @Test
  void variablesOutsideTheStoreSection_needNotBeSet() throws Exception {
    // as deploy/portcullis.yaml: secrets and paths from the service's environment
    Files.writeString(
        config,
        """
        server:
          admin: { address: "127.0.0.1:9193", token: "${PORTCULLIS_TEST_UNSET_ADMIN_TOKEN}" }
          grpc:
            tls:
              cert: "${PORTCULLIS_TEST_UNSET_TLS_DIR}/server.pem"
              key: "${PORTCULLIS_TEST_UNSET_TLS_DIR}/server.key"
        store: { url: "%s" }
        ratelimit:
          backend: redis
          redis:
            address: "redis://:${PORTCULLIS_TEST_UNSET_REDIS_PASSWORD}@redis:26379"
            mode: sentinel
            master_name: "${PORTCULLIS_TEST_UNSET_REDIS_MASTER}"
        """
            .formatted(url));

    for (String[] command :
        List.of(
            new String[] {"audit", "verify"},
            new String[] {"audit", "query", "--limit", "1"},
            new String[] {"audit", "summary"},
            new String[] {"audit", "export", "--checkpoint", dir.resolve("ck").toString()},
            new String[] {"keys", "list"})) {
      CommandRun r = run(command);
      assertThat(r.exit()).as("%s: %s", String.join(" ", command), r.err()).isZero();
      assertThat(r.err()).as(String.join(" ", command)).doesNotContain("PORTCULLIS_TEST_UNSET");
    }
    assertThat(run("audit", "verify").out())
        .as("the store of store.url, not the default one")
        .isEqualTo("ok: " + AuditSamples.COUNT + " records verified\n");
  }

  @Test
  void aVariableInStoreUrl_mustStillBeSet_failingAtItsPosition() throws Exception {
    Files.writeString(
        config,
        """
        server: { admin: { token: "${PORTCULLIS_TEST_UNSET_ADMIN_TOKEN}" } }
        store:
          url: "jdbc:sqlite:${PORTCULLIS_TEST_UNSET_DB}"
        """);

    CommandRun r = run("audit", "export", "--checkpoint", dir.resolve("ck").toString());

    assertThat(r.exit()).isEqualTo(AuditCommand.USAGE);
    assertThat(r.err())
        .contains(
            config + ":3:8: store.url: environment variable 'PORTCULLIS_TEST_UNSET_DB' is not set")
        .doesNotContain("PORTCULLIS_TEST_UNSET_ADMIN_TOKEN");
  }

  @Test
  void theRestOfTheFile_isStillChecked() throws Exception {
    Files.writeString(
        config,
        """
        store: { url: "%s" }
        server: { admin: { token: short } }
        ratelimit: { backend: memcached }
        """
            .formatted(url));

    CommandRun r = run("keys", "list");

    assertThat(r.exit()).isEqualTo(AuditCommand.USAGE);
    assertThat(r.err())
        .contains(config + ":2:27: server.admin.token: the admin token must be at least 16")
        .contains(config + ":3:23: ratelimit.backend: expected memory or redis");
  }

  @Test
  void theServicesFiles_areNotOpened_soAShipperNeedsNoAccessToTheServerKey() throws Exception {
    // A log shipper running as another user cannot read the server's key (here: no such files);
    // serving with the same file still refuses them at their positions.
    Files.writeString(
        config,
        """
        store: { url: "%s" }
        server:
          grpc:
            tls: { cert: /nonexistent/server.pem, key: /nonexistent/server.key }
        geoip: { database: /nonexistent/GeoLite2-Country.mmdb }
        """
            .formatted(url));

    CommandRun r = run("audit", "verify");

    assertThat(r.exit()).as(r.err()).isZero();
    assertThat(r.out()).isEqualTo("ok: " + AuditSamples.COUNT + " records verified\n");
    assertThat(RuntimeConfigLoader.load(config, null, k -> null))
        .isInstanceOfSatisfying(
            RuntimeConfigLoader.Invalid.class,
            invalid ->
                assertThat(invalid.errors())
                    .extracting(e -> e.line() + ":" + e.field())
                    .containsExactly(
                        "4:server.grpc.tls.cert", "4:server.grpc.tls.key", "5:geoip.database"));
  }
}
