package io.portcullis.audit;

import static org.assertj.core.api.Assertions.assertThat;

import io.micrometer.prometheusmetrics.PrometheusConfig;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import io.portcullis.proto.v1.DecisionRecord;
import io.portcullis.store.Database;
import io.portcullis.store.StoreSettings;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.time.InstantSource;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class AuditRetentionTest {
  @TempDir Path dir;

  @Test
  void runOnce_deletesRecordsOlderThanTheRetentionMeasuredOnTheInjectedClock() {
    Instant now = Instant.parse("2026-11-22T10:00:00Z");
    PrometheusMeterRegistry registry = new PrometheusMeterRegistry(PrometheusConfig.DEFAULT);
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
          AuditRetention.manual(store, settings, InstantSource.fixed(now), registry)) {
        assertThat(retention.cutoff()).isEqualTo(now.minus(Duration.ofDays(30)));
        assertThat(retention.runOnce()).isEqualTo(2);
        assertThat(retention.runOnce()).isZero();
      }
      assertThat(registry.scrape()).contains("portcullis_audit_retention_stalled 0.0");

      assertThat(AuditStoreContract.ids(store.query(AuditQuery.all())))
          .containsExactly("d-1", "d-29", "d-30");
      assertThat(store.verify()).isEqualTo(new ChainVerification.Intact(3));
    }
  }

  @Test
  void runOnce_expiredRecordsBehindOneFromAClockStepAhead_setsTheStalledGaugeUntilItExpires() {
    Instant now = Instant.parse("2026-11-22T10:00:00Z");
    Instant future = now.plus(Duration.ofDays(3 * 365));
    PrometheusMeterRegistry registry = new PrometheusMeterRegistry(PrometheusConfig.DEFAULT);
    try (Database db = Database.open(StoreSettings.of("jdbc:sqlite:" + dir.resolve("p.db")))) {
      AuditStore store = AuditStore.of(db);
      List<DecisionRecord> rs = new ArrayList<>();
      rs.add(AuditStoreContract.record("pc-1", "old-40", now.minus(Duration.ofDays(40))));
      rs.add(AuditStoreContract.record("pc-1", "future", future));
      rs.add(AuditStoreContract.record("pc-1", "old-35", now.minus(Duration.ofDays(35))));
      rs.add(AuditStoreContract.record("pc-1", "old-31", now.minus(Duration.ofDays(31))));
      rs.add(AuditStoreContract.record("pc-1", "recent", now.minus(Duration.ofDays(1))));
      store.append(AuditStoreContract.link(rs, ChainHead.GENESIS));
      AuditSettings settings = AuditSettings.builder().retention(Duration.ofDays(30)).build();
      AtomicReference<Instant> clock = new AtomicReference<>(now);

      try (AuditRetention retention =
          AuditRetention.manual(store, settings, clock::get, registry)) {
        assertThat(retention.runOnce()).isEqualTo(1);
        assertThat(registry.scrape()).contains("portcullis_audit_retention_stalled 1.0");
        assertThat(AuditStoreContract.ids(store.query(AuditQuery.all())))
            .containsExactly("future", "recent", "old-31", "old-35");

        clock.set(future.plus(Duration.ofDays(31)));
        assertThat(retention.runOnce()).isEqualTo(4);
        assertThat(registry.scrape()).contains("portcullis_audit_retention_stalled 0.0");
      }
    }
  }
}
