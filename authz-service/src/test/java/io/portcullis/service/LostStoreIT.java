package io.portcullis.service;

import static org.assertj.core.api.Assertions.assertThat;

import io.portcullis.Portcullis;
import io.portcullis.config.RuntimeConfig;
import io.portcullis.testing.LogCapture;
import io.portcullis.testing.TestRuntimeConfigs;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A SQLite store lost between two runs: the service creates a new, empty one at the path, as on a
 * first start, and must say that the data directory shows an earlier run.
 */
class LostStoreIT {
  @TempDir Path dir;

  RuntimeConfig config() throws Exception {
    Path policy = dir.resolve("policy.yaml");
    Files.writeString(
        policy,
        """
        version: 1
        segments:
          - name: public
            match: { credential: [anonymous] }
            rules:
              - { name: status, methods: [GET], paths: ["/v1/status"] }
        """);
    RuntimeConfig c = TestRuntimeConfigs.loopback(dir, policy);
    // The journal under the test's data directory, as by default under data/.
    return new RuntimeConfig(
        c.instance(),
        c.grpc(),
        c.http(),
        c.admin(),
        c.policy(),
        c.storeUrl(),
        c.ratelimit(),
        c.rls(),
        c.audit().toBuilder().journalDirectory(dir.resolve("data/audit-journal")).build(),
        c.geoip(),
        c.requestLimits(),
        c.dataDir(),
        c.shutdownDelay());
  }

  static List<String> lostStoreWarnings(LogCapture logs) {
    return logs.warnings().stream().filter(m -> m.contains("Created a new, empty store")).toList();
  }

  @Test
  void aNewStoreWhereTheServiceRanBefore_isWarnedAbout_butNotOnAFirstStart() throws Exception {
    RuntimeConfig config = config();
    Path db = dir.resolve("portcullis.db");
    try (LogCapture logs = LogCapture.of("io.portcullis")) {
      try (Portcullis first = Portcullis.start(config, name -> null)) {
        assertThat(Files.exists(db)).isTrue();
      }
      assertThat(lostStoreWarnings(logs)).isEmpty();
    }
    for (String suffix : List.of("", "-wal", "-shm")) {
      Files.deleteIfExists(dir.resolve("portcullis.db" + suffix));
    }

    try (LogCapture logs = LogCapture.of("io.portcullis");
        Portcullis second = Portcullis.start(config, name -> null)) {
      assertThat(lostStoreWarnings(logs))
          .singleElement()
          .asString()
          .contains(db.toAbsolutePath().toString())
          .contains(dir.resolve("data/audit-journal").toAbsolutePath().toString())
          .contains(dir.resolve("data/admin-token").toAbsolutePath().toString());
    }
    // That store exists now: the next start is quiet again.
    try (LogCapture logs = LogCapture.of("io.portcullis");
        Portcullis third = Portcullis.start(config, name -> null)) {
      assertThat(lostStoreWarnings(logs)).isEmpty();
    }
  }
}
