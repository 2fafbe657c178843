package io.portcullis.audit;

import static org.assertj.core.api.Assertions.assertThat;

import io.portcullis.proto.v1.DecisionRecord;
import io.portcullis.store.Database;
import io.portcullis.store.StoreSettings;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.time.InstantSource;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class AuditRetentionTest {
  @TempDir Path dir;

  @Test
  void runOnce_deletesRecordsOlderThanTheRetentionMeasuredOnTheInjectedClock() {
    Instant now = Instant.parse("2026-11-22T10:00:00Z");
    try (Database db = Database.open(StoreSettings.of("jdbc:sqlite:" + dir.resolve("p.db")))) {
      AuditStore store = AuditStore.of(db);
      List<DecisionRecord> rs = new ArrayList<>();
      for (int daysAgo : new int[] {40, 31, 30, 29, 1}) {
        rs.add(
            AuditStoreContract.record(
                "pc-1", "d-" + daysAgo, now.minus(Duration.ofDays(daysAgo)).plusSeconds(1)));
      }
      store.append(AuditStoreContract.link(rs, ChainHead.GENESIS));
      AuditSettings settings =
          AuditSettings.builder().retention(Duration.ofDays(30)).retentionBatch(1).build();

      try (AuditRetention retention =
          AuditRetention.manual(store, settings, InstantSource.fixed(now))) {
        assertThat(retention.cutoff()).isEqualTo(now.minus(Duration.ofDays(30)));
        assertThat(retention.runOnce()).isEqualTo(2);
        assertThat(retention.runOnce()).isZero();
      }

      assertThat(AuditStoreContract.ids(store.query(AuditQuery.all())))
          .containsExactly("d-1", "d-29", "d-30");
      assertThat(store.verify()).isEqualTo(new ChainVerification.Intact(3));
    }
  }
}
