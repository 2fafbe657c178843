package io.portcullis.audit;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.micrometer.prometheusmetrics.PrometheusConfig;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import io.portcullis.decision.Decision;
import io.portcullis.store.Database;
import io.portcullis.store.StoreSettings;
import io.portcullis.testing.ChildJvm;
import io.portcullis.testing.FreshPostgresDatabase;
import io.portcullis.testing.TcpProxy;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.stream.IntStream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The writer's durability promises with real processes and a real PostgreSQL: a store outage (a TCP
 * proxy the test cuts), SIGTERM of a child JVM, and SIGKILL of a child JVM with the store up and
 * during an outage.
 */
class AuditWriterIT {
  /** The writer's batch window: what a crash may lose at most. */
  static final Duration FLUSH_WINDOW = Duration.ofMillis(50);

  /**
   * Allowance for the 2-core, shared test machine: thread scheduling and GC pauses of two JVMs and
   * PostgreSQL between the child's last append and the kill.
   */
  static final Duration SCHEDULING_SLACK = Duration.ofMillis(250);

  static final String CHILD_APP = "portcullis-audit-child";

  static FreshPostgresDatabase pg;

  @TempDir Path dir;
  Database db;
  AuditStore store;

  @BeforeAll
  static void createDatabase() {
    pg = FreshPostgresDatabase.create();
  }

  @AfterAll
  static void dropDatabase() throws SQLException {
    pg.close();
  }

  @BeforeEach
  void open() throws SQLException {
    db = Database.open(StoreSettings.of(pg.url()));
    store = AuditStore.of(db);
    try (Connection c = db.connection();
        Statement s = c.createStatement()) {
      s.executeUpdate("DELETE FROM audit_record");
      s.executeUpdate("DELETE FROM audit_chain");
    }
  }

  @AfterEach
  void close() {
    db.close();
  }

  AuditSettings settings() {
    return AuditSettings.builder()
        .journalDirectory(dir.resolve("journal"))
        .retryInterval(Duration.ofMillis(100))
        .build();
  }

  static Decision decision(int i) {
    return AuditWriterTest.decision(i);
  }

  record Row(String decisionId, Instant time) {}

  List<Row> rowsInChainOrder() throws SQLException {
    List<Row> out = new ArrayList<>();
    try (Connection c = db.connection();
        Statement s = c.createStatement();
        ResultSet rs =
            s.executeQuery("SELECT decision_id, time_us FROM audit_record ORDER BY seq")) {
      while (rs.next()) {
        long us = rs.getLong(2);
        out.add(
            new Row(
                rs.getString(1),
                Instant.ofEpochSecond(
                    Math.floorDiv(us, 1_000_000), Math.floorMod(us, 1_000_000) * 1000)));
      }
    }
    return out;
  }

  long count() throws SQLException {
    try (Connection c = db.connection();
        Statement s = c.createStatement();
        ResultSet rs = s.executeQuery("SELECT count(*) FROM audit_record")) {
      rs.next();
      return rs.getLong(1);
    }
  }

  /** Server sessions of this test's database opened with {@code ApplicationName=app}. */
  long sessionsOf(String app) throws SQLException {
    try (Connection c = db.connection();
        PreparedStatement ps =
            c.prepareStatement(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = ? AND application_name = ?")) {
      ps.setString(1, pg.name());
      ps.setString(2, app);
      try (ResultSet rs = ps.executeQuery()) {
        rs.next();
        return rs.getLong(1);
      }
    }
  }

  static List<String> ids(List<Row> rows) {
    return rows.stream().map(Row::decisionId).toList();
  }

  static List<String> sequence(String prefix, int n) {
    return IntStream.range(0, n).mapToObj(i -> prefix + i).toList();
  }

  Path journalFile(String instance) {
    return dir.resolve("journal").resolve(instance + ".journal");
  }

  @Test
  void storeOutage_journalsEveryRecord_andReplaysThemInOrderWhenTheStoreIsBack() throws Exception {
    try (TcpProxy proxy = TcpProxy.to(pg.hostPort());
        Database viaProxy =
            Database.open(
                StoreSettings.of(pg.urlVia("127.0.0.1", proxy.port()))
                    .withConnectTimeout(Duration.ofSeconds(1)))) {
      AuditWriter w =
          AuditWriter.builder(AuditStore.of(viaProxy))
              .instance("pc-a")
              .settings(settings())
              .build()
              .start();
      for (int i = 0; i < 500; i++) {
        w.append(decision(i));
      }
      await().atMost(Duration.ofSeconds(30)).until(() -> w.written() == 500);

      proxy.cut();
      for (int i = 500; i < 1500; i++) {
        w.append(decision(i));
      }
      await().atMost(Duration.ofSeconds(30)).until(() -> w.journaled() == 1000);
      assertThat(w.spilling()).isTrue();
      assertThat(w.written()).isEqualTo(500);
      assertThat(count()).isEqualTo(500);

      proxy.restore();
      await().atMost(Duration.ofSeconds(30)).until(() -> w.written() == 1500 && !w.spilling());
      w.close();

      assertThat(ids(rowsInChainOrder())).containsExactlyElementsOf(sequence("o-", 1500));
      assertThat(store.verify()).isEqualTo(new ChainVerification.Intact(1500));
      assertThat(w.dropped()).isZero();
      assertThat(Files.size(journalFile("pc-a"))).isEqualTo(8);
    }
  }

  /** The decision ids of {@code instance}'s records in chain order. */
  List<String> idsOf(String instance) throws SQLException {
    List<String> out = new ArrayList<>();
    try (Connection c = db.connection();
        PreparedStatement ps =
            c.prepareStatement(
                "SELECT decision_id FROM audit_record WHERE instance = ? ORDER BY seq")) {
      ps.setString(1, instance);
      try (ResultSet rs = ps.executeQuery()) {
        while (rs.next()) {
          out.add(rs.getString(1));
        }
      }
    }
    return out;
  }

  @Test
  void rowInsertedByHandAtTheNextSeq_keepsTheJournal_whileANewInstanceIdWrites_untilItIsRemoved()
      throws Exception {
    PrometheusMeterRegistry registry = new PrometheusMeterRegistry(PrometheusConfig.DEFAULT);
    AuditWriter w =
        AuditWriter.builder(store)
            .instance("pc-e")
            .settings(settings())
            .meterRegistry(registry)
            .build()
            .start();
    IntStream.range(0, 10).forEach(i -> w.append(decision(i)));
    await().atMost(Duration.ofSeconds(30)).until(() -> w.written() == 10);
    try (Connection c = db.connection();
        Statement s = c.createStatement()) {
      // A row at head + 1 that moves no head: before, every later append failed on the chain's
      // unique constraint (journaled for ever, one WARN calling the store "unavailable").
      s.executeUpdate(
          "INSERT INTO audit_record (instance, seq, decision_id, time_us, decision, reason,"
              + " dry_run_reason, dry_run_rule, segment, rule, principal, client, source_ip, path,"
              + " prev_hash, hash, record) SELECT instance, 11, 'by-hand', time_us, decision,"
              + " reason, dry_run_reason, dry_run_rule, segment, rule, principal, client,"
              + " source_ip, path, prev_hash, hash, record FROM audit_record"
              + " WHERE instance = 'pc-e' AND seq = 10");
    }

    IntStream.range(10, 20).forEach(i -> w.append(decision(i)));
    await().atMost(Duration.ofSeconds(30)).until(() -> w.journaled() == 10);
    assertThat(registry.scrape()).contains("portcullis_audit_chain_blocked 1.0");
    w.close(); // stopped while blocked: the records stay in its journal
    assertThat(w.written()).isEqualTo(10);
    assertThat(w.dropped()).isZero();
    long journalBytes = Files.size(journalFile("pc-e"));
    assertThat(journalBytes).isGreaterThan(10L * 50);

    // Restarted under a new instance id: a chain and a journal of its own, stored at once. It
    // does not read the old id's journal, which waits untouched.
    try (AuditWriter renamed =
        AuditWriter.builder(store).instance("pc-e2").settings(settings()).build().start()) {
      IntStream.range(100, 105).forEach(i -> renamed.append(decision(i)));
    }
    assertThat(idsOf("pc-e2")).containsExactlyElementsOf(ids(100, 105));
    assertThat(Files.size(journalFile("pc-e"))).isEqualTo(journalBytes);

    // The row examined and deleted, a writer of the old id (the renamed one may keep running)
    // stores its journal after the chain's head.
    try (Connection c = db.connection();
        Statement s = c.createStatement()) {
      s.executeUpdate("DELETE FROM audit_record WHERE instance = 'pc-e' AND seq > 10");
    }
    AuditWriter old = AuditWriter.builder(store).instance("pc-e").settings(settings()).build();
    old.start();
    await().atMost(Duration.ofSeconds(30)).until(() -> old.written() == 10 && !old.spilling());
    old.close();

    assertThat(idsOf("pc-e")).containsExactlyElementsOf(ids(0, 20));
    assertThat(store.verify()).isEqualTo(new ChainVerification.Intact(25));
    assertThat(Files.size(journalFile("pc-e"))).isEqualTo(8);
  }

  static List<String> ids(int from, int to) {
    return AuditWriterTest.ids(from, to);
  }

  @Test
  void sigterm_childJvmFlushesEveryQueuedRecordBeforeExiting() throws Exception {
    int n = 20_000;
    try (ChildJvm child =
        ChildJvm.start(
            AuditWriterChild.class,
            dir.resolve("child.log"),
            pg.url(),
            dir.resolve("journal").toString(),
            "pc-b",
            "burst",
            Integer.toString(n))) {
      String appended = child.awaitLine("APPENDED", Duration.ofSeconds(60));
      int queued = Integer.parseInt(appended.substring("APPENDED ".length()));

      child.terminate();
      int exit = child.awaitExit(Duration.ofSeconds(60));

      assertThat(queued).as("records still queued when SIGTERM was sent").isPositive();
      assertThat(exit).isEqualTo(143); // 128 + SIGTERM, after the shutdown hooks ran
    }
    assertThat(ids(rowsInChainOrder())).containsExactlyElementsOf(sequence("b-", n));
    assertThat(store.verify()).isEqualTo(new ChainVerification.Intact(n));
    assertThat(Files.size(journalFile("pc-b"))).isEqualTo(8);
  }

  @Test
  void sigkill_withTheStoreUp_losesAtMostTheLastBatchWindow() throws Exception {
    Instant killedAt;
    try (ChildJvm child =
        streamingChild(pg.url() + "&ApplicationName=" + CHILD_APP, "pc-c", 2000)) {

      killedAt = Instant.now();
      child.kill();
      child.awaitExit(Duration.ofSeconds(30));
    }
    // A COMMIT the child sent just before it died may still be applied: wait for its sessions.
    await()
        .atMost(Duration.ofSeconds(30))
        .pollInterval(Duration.ofMillis(50))
        .until(() -> sessionsOf(CHILD_APP) == 0);

    List<Row> rows = rowsInChainOrder();
    assertThat(ids(rows)).containsExactlyElementsOf(sequence("s-", rows.size()));
    assertLostAtMostTheLastWindow(rows, killedAt);
    assertThat(store.verify()).isEqualTo(new ChainVerification.Intact(rows.size()));

    // The next start continues the chain.
    try (AuditWriter next =
        AuditWriter.builder(store).instance("pc-c").settings(settings()).build().start()) {
      next.append(decision(0));
    }
    assertThat(store.verify()).isEqualTo(new ChainVerification.Intact(rows.size() + 1));
  }

  @Test
  void sigkill_duringAnOutage_journalIsRecoveredByTheNextStart() throws Exception {
    Instant killedAt;
    long storedBeforeCut;
    try (TcpProxy proxy = TcpProxy.to(pg.hostPort());
        ChildJvm child = streamingChild(pg.urlVia("127.0.0.1", proxy.port()), "pc-d", 1000)) {

      proxy.cut();
      storedBeforeCut = count();
      Path journal = journalFile("pc-d");
      await()
          .atMost(Duration.ofSeconds(60))
          .pollInterval(Duration.ofMillis(50))
          .until(() -> Files.exists(journal) && Files.size(journal) > 50_000);

      killedAt = Instant.now();
      child.kill();
      child.awaitExit(Duration.ofSeconds(30));
    }

    AuditWriter next =
        AuditWriter.builder(store).instance("pc-d").settings(settings()).build().start();
    await().atMost(Duration.ofSeconds(60)).until(() -> next.written() > 0 && !next.spilling());
    next.close();

    List<Row> rows = rowsInChainOrder();
    assertThat(rows.size())
        .as("records journaled during the outage were stored")
        .isGreaterThan((int) storedBeforeCut + 100);
    assertThat(ids(rows)).containsExactlyElementsOf(sequence("s-", rows.size()));
    assertLostAtMostTheLastWindow(rows, killedAt);
    assertThat(store.verify()).isEqualTo(new ChainVerification.Intact(rows.size()));
    assertThat(Files.size(journalFile("pc-d"))).isEqualTo(8);
  }

  /** A child appending continuously, once at least {@code stored} of its records are stored. */
  ChildJvm streamingChild(String url, String instance, long stored) throws Exception {
    ChildJvm child =
        ChildJvm.start(
            AuditWriterChild.class,
            dir.resolve("child.log"),
            url,
            dir.resolve("journal").toString(),
            instance,
            "stream");
    try {
      child.awaitLine("STREAMING", Duration.ofSeconds(60));
      await()
          .atMost(Duration.ofSeconds(60))
          .pollInterval(Duration.ofMillis(50))
          .until(() -> count() >= stored);
      return child;
    } catch (RuntimeException | Error e) {
      child.close();
      throw e;
    }
  }

  /**
   * The child appended continuously until it was killed, so everything appended before {@code
   * killedAt - window} must be stored: the newest stored record is at most a window old.
   */
  static void assertLostAtMostTheLastWindow(List<Row> rows, Instant killedAt) {
    Instant newest = rows.get(rows.size() - 1).time();
    Duration lost = Duration.between(newest, killedAt);
    System.out.printf("kill -9: newest stored record was %d ms before the kill%n", lost.toMillis());
    assertThat(lost).isLessThanOrEqualTo(FLUSH_WINDOW.plus(SCHEDULING_SLACK));
  }

  AuditWriter writer(String instance, AuditSettings settings, PrometheusMeterRegistry registry) {
    return AuditWriter.builder(AuditStore.of(db, settings.storeTimeout()))
        .instance(instance)
        .settings(settings)
        .meterRegistry(registry)
        .build();
  }

  @Test
  void storeHangs_onATableLock_recordsAreJournaledNotDropped_andStoredOnceItIsReleased()
      throws Exception {
    PrometheusMeterRegistry registry = new PrometheusMeterRegistry(PrometheusConfig.DEFAULT);
    // A timeout longer than the hang: only the queue filling up may end the wait.
    AuditWriter w =
        writer(
                "pc-h",
                settings().toBuilder()
                    .queueCapacity(400)
                    .storeTimeout(Duration.ofMinutes(1))
                    .build(),
                registry)
            .start();
    IntStream.range(0, 10).forEach(i -> w.append(decision(i)));
    await().atMost(Duration.ofSeconds(30)).until(() -> w.written() == 10);

    CompletableFuture<Void> hangOver = new CompletableFuture<>();
    CompletableFuture<Void> released =
        PostgresAuditStoreIT.releaseWhen(
            hangOver, PostgresAuditStoreIT.lockAuditTable(pg.url()), Duration.ofMinutes(1));
    try {
      // Before, the store thread waited inside the append until the lock was released (or the
      // driver's 120 s socket timeout): about half of these dropped, none journaled, nothing
      // logged (the review saw 147 of 200 with a queue of 50).
      AuditWriterTest.appendSteadily(w, 10, 810);
      await().atMost(Duration.ofSeconds(15)).until(() -> w.journaled() == 800);
      assertThat(w.dropped()).isZero();
      assertThat(w.written()).isEqualTo(10);
      assertThat(AuditWriterTest.scraped(registry, "portcullis_audit_spilling")).isEqualTo(1);
      assertThat(AuditWriterTest.scraped(registry, "portcullis_audit_journal_bytes"))
          .isEqualTo(Files.size(journalFile("pc-h")));
    } finally {
      hangOver.complete(null);
    }
    released.get(30, TimeUnit.SECONDS);

    await().atMost(Duration.ofSeconds(30)).until(() -> w.written() == 810 && !w.spilling());
    w.close();
    assertThat(idsOf("pc-h")).containsExactlyElementsOf(ids(0, 810));
    assertThat(store.verify()).isEqualTo(new ChainVerification.Intact(810));
    assertThat(w.dropped()).isZero();
    assertThat(AuditWriterTest.scraped(registry, "portcullis_audit_journal_bytes")).isEqualTo(8);
  }

  @Test
  void close_whileTheStoreHangs_returnsWithinTheStoreTimeout_andTheNextStartStoresTheRest()
      throws Exception {
    Duration timeout = Duration.ofSeconds(1);
    AuditWriter first =
        writer(
                "pc-i",
                settings().toBuilder().storeTimeout(timeout).build(),
                new PrometheusMeterRegistry(PrometheusConfig.DEFAULT))
            .start();
    CompletableFuture<Void> closed = new CompletableFuture<>();
    CompletableFuture<Void> released =
        PostgresAuditStoreIT.releaseWhen(
            closed, PostgresAuditStoreIT.lockAuditTable(pg.url()), Duration.ofSeconds(10));
    long took;
    try {
      IntStream.range(0, 40).forEach(i -> first.append(decision(i)));
      long began = System.nanoTime();
      // SIGTERM's shutdown hook: before, it waited for the lock, and a supervisor's SIGKILL after
      // its grace period lost all 40 (none stored, the journal empty).
      first.close();
      took = System.nanoTime() - began;
    } finally {
      closed.complete(null);
    }
    assertThat(Duration.ofNanos(took)).isLessThan(timeout.plusSeconds(2));
    assertThat(first.journaled()).isEqualTo(40);
    assertThat(first.dropped()).isZero();
    released.get(30, TimeUnit.SECONDS);

    AuditWriter next =
        writer("pc-i", settings(), new PrometheusMeterRegistry(PrometheusConfig.DEFAULT)).start();
    // The append close() stopped waiting for may still have committed its batch once the lock was
    // released: the replay skips those records, so count rows, not what this writer wrote.
    await().atMost(Duration.ofSeconds(30)).until(() -> !next.spilling());
    next.close();
    assertThat(idsOf("pc-i")).containsExactlyElementsOf(ids(0, 40));
    assertThat(store.verify()).isEqualTo(new ChainVerification.Intact(40));
    assertThat(Files.size(journalFile("pc-i"))).isEqualTo(8);
  }
}
