package io.portcullis.audit;

import static java.util.concurrent.TimeUnit.SECONDS;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.micrometer.prometheusmetrics.PrometheusConfig;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import io.portcullis.decision.Decision;
import io.portcullis.metrics.MetricNames;
import io.portcullis.proto.v1.DecisionRecord;
import io.portcullis.request.RequestAttributes;
import io.portcullis.store.Database;
import io.portcullis.store.StoreSettings;
import io.portcullis.testing.DecisionFixtures;
import io.portcullis.testing.FakeClock;
import io.portcullis.testing.LogCapture;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.LockSupport;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.IntStream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The writer against a real SQLite file. A store outage is a real one: another connection holds
 * SQLite's write lock ({@code BEGIN EXCLUSIVE}), so the writer's transactions fail after the busy
 * timeout, exactly as when another process hogs the database.
 */
class AuditWriterTest {
  static final Instant T0 = Instant.parse("2026-11-22T10:00:00Z");
  static final String INSTANCE = "pc-test";

  @TempDir Path dir;
  Path dbFile;
  Database db;
  AuditStore store;
  AuditSettings settings;
  final List<AuditWriter> writers = new ArrayList<>();
  final List<Database> databases = new ArrayList<>();

  @BeforeEach
  void open() {
    dbFile = dir.resolve("portcullis.db");
    db =
        Database.open(
            StoreSettings.of("jdbc:sqlite:" + dbFile).withBusyTimeout(Duration.ofMillis(100)));
    store = AuditStore.of(db);
    settings =
        AuditSettings.builder()
            .journalDirectory(dir.resolve("journal"))
            .retryInterval(Duration.ofMillis(50))
            .build();
  }

  @AfterEach
  void close() {
    writers.forEach(AuditWriter::close);
    databases.forEach(Database::close);
    db.close();
  }

  AuditWriter writer(AuditSettings s, PrometheusMeterRegistry registry) {
    AuditWriter w =
        AuditWriter.builder(store).instance(INSTANCE).settings(s).meterRegistry(registry).build();
    writers.add(w);
    return w;
  }

  AuditWriter started() {
    return writer(settings, new PrometheusMeterRegistry(PrometheusConfig.DEFAULT)).start();
  }

  static Decision decision(int i) {
    return DecisionFixtures.from(RequestAttributes.builder().path("/v1/items/" + i).build())
        .decisionId("o-" + i)
        .time(T0.plusMillis(i))
        .segment("public")
        .allow();
  }

  static List<String> ids(int from, int to) {
    return IntStream.range(from, to).mapToObj(i -> "o-" + i).toList();
  }

  List<String> storedIdsInChainOrder() throws SQLException {
    List<String> out = new ArrayList<>();
    try (Connection c = db.connection();
        Statement s = c.createStatement();
        ResultSet rs = s.executeQuery("SELECT decision_id FROM audit_record ORDER BY seq")) {
      while (rs.next()) {
        out.add(rs.getString(1));
      }
    }
    return out;
  }

  /** Holds SQLite's write lock from another connection until closed. */
  Connection lockStore() throws SQLException {
    Connection c = DriverManager.getConnection("jdbc:sqlite:" + dbFile);
    try (Statement s = c.createStatement()) {
      s.execute("PRAGMA busy_timeout = 5000");
      s.execute("BEGIN EXCLUSIVE");
    }
    return c;
  }

  static void unlock(Connection lock) throws SQLException {
    try (Statement s = lock.createStatement()) {
      s.execute("COMMIT");
    }
    lock.close();
  }

  static Duration patience() {
    return Duration.ofSeconds(30);
  }

  /**
   * A store on the same file whose writer waits up to a minute for another writer's lock: {@link
   * #lockStore()} then makes it hang, as a frozen file system or a long transaction of another
   * process does, instead of failing after the busy timeout.
   */
  AuditStore patientStore() {
    Database patient =
        Database.open(
            StoreSettings.of("jdbc:sqlite:" + dbFile).withBusyTimeout(Duration.ofSeconds(60)));
    databases.add(patient);
    return AuditStore.of(patient);
  }

  AuditWriter writer(AuditStore s, AuditSettings settings, PrometheusMeterRegistry registry) {
    AuditWriter w =
        AuditWriter.builder(s)
            .instance(INSTANCE)
            .settings(settings)
            .meterRegistry(registry)
            .build();
    writers.add(w);
    return w;
  }

  /** Appends {@code decision(from..to-1)}, one about every millisecond: a steady stream. */
  static void appendSteadily(AuditWriter w, int from, int to) {
    for (int i = from; i < to; i++) {
      w.append(decision(i));
      LockSupport.parkNanos(1_000_000);
    }
  }

  /** The store holds {@code o-0..o-(n-1)} in chain order, and the chain verifies. */
  void assertStoredInOrder(int n) throws SQLException {
    assertThat(storedIdsInChainOrder()).containsExactlyElementsOf(ids(0, n));
    assertThat(store.verify()).isEqualTo(new ChainVerification.Intact(n));
  }

  /** The value of {@code name} (without labels) in a Prometheus scrape. */
  static double scraped(PrometheusMeterRegistry registry, String name) {
    Matcher m = Pattern.compile("(?m)^" + name + " (\\S+)$").matcher(registry.scrape());
    assertThat(m.find()).as(name + " in the scrape").isTrue();
    return Double.parseDouble(m.group(1));
  }

  @Test
  void append_fromOneThread_storesEveryDecisionInAppendOrder() throws SQLException {
    AuditWriter w = started();

    for (int i = 0; i < 1000; i++) {
      w.append(decision(i));
    }
    w.close();

    assertThat(storedIdsInChainOrder()).containsExactlyElementsOf(ids(0, 1000));
    assertThat(store.verify()).isEqualTo(new ChainVerification.Intact(1000));
    assertThat(w.written()).isEqualTo(1000);
    assertThat(w.dropped()).isZero();
  }

  @Test
  void aSteadyTrickle_isWrittenInAboutOneBatchPerFlushInterval_withoutWaitingForClose()
      throws SQLException {
    Duration interval = Duration.ofMillis(100);
    PrometheusMeterRegistry registry = new PrometheusMeterRegistry(PrometheusConfig.DEFAULT);
    AuditWriter w = writer(settings.toBuilder().flushInterval(interval).build(), registry).start();

    // One decision every ~2 ms for 0.6 s: a writer that committed whatever was queued as soon as it
    // could wrote most of them in a transaction of their own.
    long began = System.nanoTime();
    int n = 0;
    while (System.nanoTime() - began < Duration.ofMillis(600).toNanos()) {
      w.append(decision(n++));
      java.util.concurrent.locks.LockSupport.parkNanos(2_000_000);
    }
    long offeredNanos = System.nanoTime() - began;
    int offered = n;
    // Written without closing the writer, within about one interval of the last append.
    await()
        .atMost(interval.plusSeconds(2))
        .pollInterval(Duration.ofMillis(10))
        .until(() -> w.written() == offered);

    long batches = registry.get(MetricNames.AUDIT_BATCH_RECORDS).summary().count();
    long intervals = offeredNanos / interval.toNanos();
    assertThat(batches)
        .as("batches for %d decisions over %d intervals", offered, intervals)
        .isBetween(2L, intervals + 2);
    assertThat(storedIdsInChainOrder()).containsExactlyElementsOf(ids(0, offered));
  }

  @Test
  void append_fromSeveralThreads_storesEachDecisionOnce() throws Exception {
    AuditWriter w = started();
    List<Thread> threads = new ArrayList<>();
    for (int t = 0; t < 4; t++) {
      int base = t * 2500;
      threads.add(
          Thread.ofPlatform()
              .start(
                  () -> {
                    for (int i = 0; i < 2500; i++) {
                      w.append(decision(base + i));
                    }
                  }));
    }
    for (Thread t : threads) {
      t.join();
    }

    await().atMost(patience()).until(() -> w.written() == 10_000);
    assertThat(storedIdsInChainOrder()).containsExactlyInAnyOrderElementsOf(ids(0, 10_000));
    assertThat(store.verify()).isEqualTo(new ChainVerification.Intact(10_000));
  }

  @Test
  void append_queueFull_dropsAndCountsTheOverflow_andExportsTheMeters() throws SQLException {
    PrometheusMeterRegistry registry = new PrometheusMeterRegistry(PrometheusConfig.DEFAULT);
    AuditWriter w = writer(settings.toBuilder().queueCapacity(10).build(), registry);

    for (int i = 0; i < 15; i++) {
      w.append(decision(i)); // not started yet: nothing drains the queue
    }
    assertThat(w.queueDepth()).isEqualTo(10);
    assertThat(registry.scrape()).contains("portcullis_audit_queue_depth 10.0");
    w.start().close();

    assertThat(storedIdsInChainOrder()).containsExactlyElementsOf(ids(0, 10));
    String scrape = registry.scrape();
    assertThat(scrape)
        .contains("portcullis_audit_dropped_total 5.0")
        .contains("portcullis_audit_written_total 10.0")
        .contains("portcullis_audit_queue_depth 0.0");
  }

  @Test
  void storeOutage_spillsToTheJournal_andReplaysInOrderWhenTheStoreIsBack() throws Exception {
    PrometheusMeterRegistry registry = new PrometheusMeterRegistry(PrometheusConfig.DEFAULT);
    AuditWriter w = writer(settings, registry).start();
    for (int i = 0; i < 100; i++) {
      w.append(decision(i));
    }
    await().atMost(patience()).until(() -> w.written() == 100);
    assertThat(scraped(registry, "portcullis_audit_spilling")).isZero();
    assertThat(scraped(registry, "portcullis_audit_journal_bytes")).isEqualTo(8);

    Connection lock = lockStore();
    for (int i = 100; i < 300; i++) {
      w.append(decision(i));
    }
    await().atMost(patience()).until(() -> w.journaled() == 200);
    assertThat(w.spilling()).isTrue();
    assertThat(w.written()).isEqualTo(100);
    assertThat(Files.size(w.journalFile())).isGreaterThan(200L * 50);
    assertThat(scraped(registry, "portcullis_audit_spilling")).isEqualTo(1);
    assertThat(scraped(registry, "portcullis_audit_journal_bytes"))
        .isEqualTo(Files.size(w.journalFile()));
    unlock(lock);

    await().atMost(patience()).until(() -> w.written() == 300 && !w.spilling());
    assertThat(storedIdsInChainOrder()).containsExactlyElementsOf(ids(0, 300));
    assertThat(store.verify()).isEqualTo(new ChainVerification.Intact(300));
    assertThat(w.dropped()).isZero();
    assertThat(Files.size(w.journalFile())).isEqualTo(8); // the header only
    assertThat(scraped(registry, "portcullis_audit_spilling")).isZero();
    assertThat(scraped(registry, "portcullis_audit_journal_bytes")).isEqualTo(8);
  }

  @Test
  void journalFull_dropsAndCountsLaterRecords_yetTheChainHasNoHole() throws Exception {
    AuditWriter w =
        writer(
                settings.toBuilder().journalMaxBytes(4096).build(),
                new PrometheusMeterRegistry(PrometheusConfig.DEFAULT))
            .start();
    w.append(decision(0));
    await().atMost(patience()).until(() -> w.written() == 1);

    Connection lock = lockStore();
    for (int i = 1; i < 201; i++) {
      w.append(decision(i));
    }
    await().atMost(patience()).until(() -> w.journaled() + w.dropped() == 200);
    assertThat(w.dropped()).isPositive();
    unlock(lock);

    long expected = 1 + w.journaled();
    await().atMost(patience()).until(() -> w.written() == expected && !w.spilling());
    // What was kept is the oldest part, in order; the rest was dropped before being chained.
    assertThat(storedIdsInChainOrder()).containsExactlyElementsOf(ids(0, (int) expected));
    assertThat(store.verify()).isEqualTo(new ChainVerification.Intact(expected));
  }

  @Test
  void close_whileTheStoreIsDown_leavesRecordsInTheJournal_forTheNextStart() throws Exception {
    Connection lock = lockStore();
    AuditWriter first = started();
    for (int i = 0; i < 50; i++) {
      first.append(decision(i));
    }
    first.close();
    assertThat(first.journaled()).isEqualTo(50);
    assertThat(first.written()).isZero();
    unlock(lock);

    AuditWriter second = started();
    await().atMost(patience()).until(() -> second.written() == 50);
    second.append(decision(50));
    second.close();

    assertThat(storedIdsInChainOrder()).containsExactlyElementsOf(ids(0, 51));
    assertThat(store.verify()).isEqualTo(new ChainVerification.Intact(51));
  }

  @Test
  void start_withAJournalChainedFromAStaleHead_relinksItAfterTheStoredHead() throws Exception {
    AuditWriter first = started();
    for (int i = 0; i < 5; i++) {
      first.append(decision(i));
    }
    first.close();
    // A journal written by a writer that could not read the head when it started.
    List<DecisionRecord> stale = new ArrayList<>();
    for (int i = 5; i < 8; i++) {
      stale.add(DecisionRecords.of(decision(i), INSTANCE));
    }
    try (AuditJournal j =
        AuditJournal.open(settings.journalDirectory().resolve(INSTANCE + ".journal"))) {
      j.append(AuditStoreContract.link(stale, ChainHead.GENESIS), Long.MAX_VALUE);
    }

    AuditWriter second = started();
    await().atMost(patience()).until(() -> second.written() == 3);
    second.close();

    assertThat(storedIdsInChainOrder()).containsExactlyElementsOf(ids(0, 8));
    assertThat(store.verify()).isEqualTo(new ChainVerification.Intact(8));
  }

  @Test
  void start_withAJournalRecordEditedOnDisk_storeRefusesItsHash_andTheWriterRelinksIt()
      throws Exception {
    AuditWriter first = started();
    for (int i = 0; i < 3; i++) {
      first.append(decision(i));
    }
    first.close();
    // Journaled after the stored head, then one record's content edited in the file: its hash no
    // longer matches. Replay must not take the journal's hash on trust.
    List<DecisionRecord> journaled =
        new ArrayList<>(
            AuditStoreContract.link(
                List.of(
                    DecisionRecords.of(decision(3), INSTANCE),
                    DecisionRecords.of(decision(4), INSTANCE),
                    DecisionRecords.of(decision(5), INSTANCE)),
                store.head(INSTANCE)));
    DecisionRecord edited = journaled.get(1).toBuilder().setPath("/v1/edited").build();
    journaled.set(1, edited);
    try (AuditJournal j =
        AuditJournal.open(settings.journalDirectory().resolve(INSTANCE + ".journal"))) {
      j.append(journaled, Long.MAX_VALUE);
    }

    AuditWriter second = started();
    await().atMost(patience()).until(() -> second.written() == 3 && !second.spilling());
    second.close();

    assertThat(storedIdsInChainOrder()).containsExactlyElementsOf(ids(0, 6));
    assertThat(store.verify()).isEqualTo(new ChainVerification.Intact(6));
    DecisionRecord stored = store.query(AuditQuery.builder().limit(6).build()).records().get(1);
    assertThat(stored.getDecisionId()).isEqualTo("o-4");
    assertThat(stored.getPath()).isEqualTo("/v1/edited");
    assertThat(stored.getHash()).isNotEqualTo(edited.getHash());
  }

  /**
   * The writer's journal file holding o-0, o-1 and o-2, chained from genesis, as left by a stop.
   */
  Path journalOfThree() throws IOException {
    List<DecisionRecord> journaled =
        AuditStoreContract.link(
            List.of(
                DecisionRecords.of(decision(0), INSTANCE),
                DecisionRecords.of(decision(1), INSTANCE),
                DecisionRecords.of(decision(2), INSTANCE)),
            ChainHead.GENESIS);
    Path file = settings.journalDirectory().resolve(INSTANCE + ".journal");
    try (AuditJournal j = AuditJournal.open(file)) {
      j.append(journaled, Long.MAX_VALUE);
    }
    return file;
  }

  @Test
  void start_withAJournalWhoseFirstEntryIsDamaged_replaysTheRest_andCountsTheLostRecordAsDropped()
      throws Exception {
    Path file = journalOfThree();
    byte[] bytes = Files.readAllBytes(file);
    bytes[8 + 8 + 4] ^= 0x55; // inside entry 1 of 3: its CRC no longer matches
    Files.write(file, bytes);
    PrometheusMeterRegistry registry = new PrometheusMeterRegistry(PrometheusConfig.DEFAULT);

    AuditWriter w = writer(settings, registry).start();
    await().atMost(patience()).until(() -> w.written() == 2 && !w.spilling());
    w.close();

    assertThat(storedIdsInChainOrder()).containsExactly("o-1", "o-2");
    assertThat(store.verify()).isEqualTo(new ChainVerification.Intact(2));
    assertThat(registry.scrape()).contains("portcullis_audit_dropped_total 1.0");
  }

  @Test
  void pipeline_smallBatchesThroughAnOutage_storeEveryDecisionInAppendOrder() throws Exception {
    // Batches of 7: many batches are linked ahead of the store thread when it switches to the
    // journal and back.
    AuditWriter w =
        writer(
                settings.toBuilder().maxBatch(7).build(),
                new PrometheusMeterRegistry(PrometheusConfig.DEFAULT))
            .start();
    for (int i = 0; i < 300; i++) {
      w.append(decision(i));
    }
    await().atMost(patience()).until(() -> w.written() > 0);

    Connection lock = lockStore();
    for (int i = 300; i < 1300; i++) {
      w.append(decision(i));
    }
    await().atMost(patience()).until(() -> w.journaled() > 0);
    for (int i = 1300; i < 1600; i++) {
      w.append(decision(i));
    }
    unlock(lock);
    for (int i = 1600; i < 2000; i++) {
      w.append(decision(i));
    }
    await().atMost(patience()).until(() -> w.written() == 2000 && !w.spilling());
    w.close();

    assertThat(storedIdsInChainOrder()).containsExactlyElementsOf(ids(0, 2000));
    assertThat(store.verify()).isEqualTo(new ChainVerification.Intact(2000));
    assertThat(w.dropped()).isZero();
    assertThat(w.journaled()).isPositive();
  }

  @Test
  void twoWritersOfOneInstance_batchesRelinkedInFlight_formOneUnbrokenChain() throws Exception {
    // Each writer's batches keep diverging from the head the other one moved: the store thread
    // re-links them, and the linker must start over from the re-linked head.
    AuditSettings small = settings.toBuilder().maxBatch(5).build();
    AuditWriter a = writer(small, new PrometheusMeterRegistry(PrometheusConfig.DEFAULT)).start();
    AuditWriter b =
        writer(
                small.toBuilder().journalDirectory(dir.resolve("journal-b")).build(),
                new PrometheusMeterRegistry(PrometheusConfig.DEFAULT))
            .start();
    Thread ta =
        Thread.ofPlatform()
            .start(() -> IntStream.range(0, 1000).forEach(i -> a.append(decision(i))));
    Thread tb =
        Thread.ofPlatform()
            .start(() -> IntStream.range(1000, 2000).forEach(i -> b.append(decision(i))));
    ta.join();
    tb.join();
    a.close();
    b.close();

    List<String> stored = storedIdsInChainOrder();
    assertThat(stored).containsExactlyInAnyOrderElementsOf(ids(0, 2000));
    // Each writer's own records stay in its append order.
    assertThat(stored.stream().filter(ids(0, 1000)::contains).toList())
        .containsExactlyElementsOf(ids(0, 1000));
    assertThat(stored.stream().filter(ids(1000, 2000)::contains).toList())
        .containsExactlyElementsOf(ids(1000, 2000));
    assertThat(store.verify()).isEqualTo(new ChainVerification.Intact(2000));
    assertThat(a.dropped() + b.dropped()).isZero();
  }

  @Test
  void chainHeadMovedBackUnderTheWriter_isCounted_andTheChainContinuesFromIt() throws Exception {
    PrometheusMeterRegistry registry = new PrometheusMeterRegistry(PrometheusConfig.DEFAULT);
    AuditWriter w = writer(settings, registry).start();
    IntStream.range(0, 5).forEach(i -> w.append(decision(i)));
    await().atMost(patience()).until(() -> w.written() == 5);
    // Someone with write access deletes the last two records and moves the head back: no hashing
    // needed, and what is left verifies.
    try (Connection c = db.connection();
        Statement s = c.createStatement()) {
      s.executeUpdate("DELETE FROM audit_record WHERE seq > 3");
      s.executeUpdate(
          "UPDATE audit_chain SET head_seq = 3, head_hash ="
              + " (SELECT hash FROM audit_record WHERE seq = 3)");
    }
    assertThat(store.verify()).isEqualTo(new ChainVerification.Intact(3));
    assertThat(registry.scrape()).contains("portcullis_audit_chain_rewound_total 0.0");

    IntStream.range(5, 8).forEach(i -> w.append(decision(i)));
    await().atMost(patience()).until(() -> w.written() == 8);
    w.close();

    assertThat(registry.scrape()).contains("portcullis_audit_chain_rewound_total 1.0");
    assertThat(storedIdsInChainOrder()).containsExactly("o-0", "o-1", "o-2", "o-5", "o-6", "o-7");
    assertThat(store.verify()).isEqualTo(new ChainVerification.Intact(6));
  }

  /**
   * Inserts with plain SQL a copy of the stored record {@code copiedSeq} as record {@code seq} of
   * {@link #INSTANCE}, without moving the chain head: what someone with write access to the
   * database, or a process writing under this instance id without the chain's lock, would leave.
   */
  void insertRowByHand(long copiedSeq, long seq) throws SQLException {
    try (Connection c = db.connection();
        PreparedStatement ps =
            c.prepareStatement(
                "INSERT INTO audit_record (instance, seq, decision_id, time_us, decision, reason,"
                    + " dry_run_reason, dry_run_rule, segment, rule, principal, client, source_ip,"
                    + " path, prev_hash, hash, record) SELECT instance, ?, 'by-hand', time_us,"
                    + " decision, reason, dry_run_reason, dry_run_rule, segment, rule, principal,"
                    + " client, source_ip, path, prev_hash, hash, record FROM audit_record"
                    + " WHERE instance = ? AND seq = ?")) {
      ps.setLong(1, seq);
      ps.setString(2, INSTANCE);
      ps.setLong(3, copiedSeq);
      assertThat(ps.executeUpdate()).isEqualTo(1);
    }
  }

  /** What an operator does once the row is examined: deletes the rows after the chain head. */
  void deleteRowsAfterTheHead() throws SQLException {
    try (Connection c = db.connection();
        Statement s = c.createStatement()) {
      s.executeUpdate(
          "DELETE FROM audit_record WHERE seq > (SELECT head_seq FROM audit_chain"
              + " WHERE audit_chain.instance = audit_record.instance)");
    }
  }

  @Test
  void rowInsertedByHandAtTheNextSeq_keepsDecisionsInTheJournal_saysWhyOnce_andResumesOnceRemoved()
      throws Exception {
    PrometheusMeterRegistry registry = new PrometheusMeterRegistry(PrometheusConfig.DEFAULT);
    FakeClock clock = FakeClock.at(T0);
    AuditWriter w =
        AuditWriter.builder(store)
            .instance(INSTANCE)
            .settings(settings)
            .meterRegistry(registry)
            .clock(clock)
            .build();
    writers.add(w);
    w.start();
    IntStream.range(0, 5).forEach(i -> w.append(decision(i)));
    await().atMost(patience()).until(() -> w.written() == 5);
    insertRowByHand(5, 6);

    try (LogCapture logs = LogCapture.of(AuditWriter.class)) {
      IntStream.range(5, 10).forEach(i -> w.append(decision(i)));
      await().atMost(patience()).until(() -> w.journaled() == 5);
      // The replay thread retries every 50 ms: the reason is given once, not on every attempt.
      await().during(Duration.ofMillis(300)).atMost(patience()).until(() -> w.written() == 5);

      assertThat(w.spilling()).isTrue();
      assertThat(w.dropped()).isZero();
      assertThat(registry.scrape()).contains("portcullis_audit_chain_blocked 1.0");
      assertThat(logs.errors())
          .singleElement()
          .asString()
          .contains("instance '" + INSTANCE + "'")
          .contains("seq 6")
          .contains("portcullis audit verify")
          .contains("same instance id")
          .contains("docs/operations.md");

      // A minute later, still blocked: said again, once.
      clock.advance(Duration.ofSeconds(61));
      await().atMost(patience()).until(() -> logs.errors().size() == 2);
      IntStream.range(10, 12).forEach(i -> w.append(decision(i)));
      await().atMost(patience()).until(() -> w.journaled() == 7);
      assertThat(logs.errors()).hasSize(2);
    }
    // The forged row was neither overwritten nor skipped: verify reports it.
    assertThat(((ChainVerification.Broken) store.verify()).seq()).isEqualTo(6);

    deleteRowsAfterTheHead();

    await().atMost(patience()).until(() -> w.written() == 12 && !w.spilling());
    assertThat(registry.scrape()).contains("portcullis_audit_chain_blocked 0.0");
    w.close();
    assertThat(storedIdsInChainOrder()).containsExactlyElementsOf(ids(0, 12));
    assertThat(store.verify()).isEqualTo(new ChainVerification.Intact(12));
    assertThat(w.dropped()).isZero();
  }

  @Test
  void restart_continuesTheSameChain() throws SQLException {
    AuditWriter first = started();
    IntStream.range(0, 10).forEach(i -> first.append(decision(i)));
    first.close();
    AuditWriter second = started();
    IntStream.range(10, 20).forEach(i -> second.append(decision(i)));
    second.close();

    assertThat(storedIdsInChainOrder()).containsExactlyElementsOf(ids(0, 20));
    assertThat(store.head(INSTANCE).seq()).isEqualTo(20);
    assertThat(store.verify()).isEqualTo(new ChainVerification.Intact(20));
  }

  @Test
  void append_afterClose_isDroppedAndCounted() throws SQLException {
    AuditWriter w = started();
    w.close();

    w.append(decision(1));

    assertThat(w.dropped()).isEqualTo(1);
    assertThat(storedIdsInChainOrder()).isEmpty();
  }

  @Test
  void storeHangs_whileTheQueueFills_recordsAreJournaledNotDropped_andStoredOnceItAnswers()
      throws Exception {
    PrometheusMeterRegistry registry = new PrometheusMeterRegistry(PrometheusConfig.DEFAULT);
    // A timeout longer than the hang: only the queue filling up may end the wait.
    AuditWriter w =
        writer(
                patientStore(),
                settings.toBuilder().queueCapacity(400).storeTimeout(Duration.ofMinutes(1)).build(),
                registry)
            .start();
    IntStream.range(0, 10).forEach(i -> w.append(decision(i)));
    await().atMost(patience()).until(() -> w.written() == 10);

    Connection lock = lockStore();
    try (LogCapture logs = LogCapture.of(AuditWriter.class)) {
      // Before, the store thread waited inside the append for as long as the lock was held: the
      // queue filled, and about half of these were dropped, none journaled, nothing logged.
      appendSteadily(w, 10, 810);
      await().atMost(Duration.ofSeconds(15)).until(() -> w.journaled() == 800);

      assertThat(w.dropped()).isZero();
      assertThat(w.written()).isEqualTo(10);
      assertThat(scraped(registry, "portcullis_audit_spilling")).isEqualTo(1);
      assertThat(scraped(registry, "portcullis_audit_journal_bytes"))
          .isEqualTo(Files.size(w.journalFile()))
          .isGreaterThan(800 * 50);
      assertThat(logs.warnings())
          .singleElement()
          .asString()
          .contains("did not answer an append")
          .contains("the audit queue filled to");
    } finally {
      unlock(lock);
    }

    await().atMost(patience()).until(() -> w.written() == 810 && !w.spilling());
    assertStoredInOrder(810);
    assertThat(w.dropped()).isZero();
    assertThat(scraped(registry, "portcullis_audit_spilling")).isZero();
    assertThat(scraped(registry, "portcullis_audit_journal_bytes")).isEqualTo(8);
  }

  @Test
  void storeHangs_recordsAreJournaledAfterTheStoreTimeout_andStoredOnceItAnswers()
      throws Exception {
    AuditWriter w =
        writer(
                patientStore(),
                settings.toBuilder().storeTimeout(Duration.ofMillis(500)).build(),
                new PrometheusMeterRegistry(PrometheusConfig.DEFAULT))
            .start();
    w.append(decision(0));
    await().atMost(patience()).until(() -> w.written() == 1);

    Connection lock = lockStore();
    try (LogCapture logs = LogCapture.of(AuditWriter.class)) {
      IntStream.range(1, 6).forEach(i -> w.append(decision(i)));
      // Journaled within the timeout (and a flush interval), while the store still hangs.
      await().atMost(Duration.ofSeconds(5)).until(() -> w.journaled() == 5);
      assertThat(w.spilling()).isTrue();
      assertThat(logs.warnings())
          .singleElement()
          .asString()
          .contains("did not answer an append of")
          .contains("audit.store_timeout PT0.5S");
    } finally {
      unlock(lock);
    }

    await().atMost(patience()).until(() -> w.written() == 6 && !w.spilling());
    assertStoredInOrder(6);
    assertThat(w.dropped()).isZero();
  }

  @Test
  void close_whileTheStoreHangs_returnsWithinTheStoreTimeout_andTheNextStartStoresTheRest()
      throws Exception {
    Duration timeout = Duration.ofSeconds(1);
    AuditWriter first =
        writer(
            patientStore(),
            settings.toBuilder().storeTimeout(timeout).build(),
            new PrometheusMeterRegistry(PrometheusConfig.DEFAULT));
    Connection lock = lockStore();
    // Released once close() returned, or after 10 s: before, close() waited for as long as the
    // store hung.
    CompletableFuture<Void> closed = new CompletableFuture<>();
    CompletableFuture<Void> released =
        closed
            .completeOnTimeout(null, 10, TimeUnit.SECONDS)
            .thenRunAsync(
                () -> {
                  try {
                    unlock(lock);
                  } catch (SQLException e) {
                    throw new IllegalStateException(e);
                  }
                });
    long took;
    try (LogCapture logs = LogCapture.of(AuditWriter.class)) {
      first.start();
      IntStream.range(0, 50).forEach(i -> first.append(decision(i)));
      long began = System.nanoTime();
      first.close();
      took = System.nanoTime() - began;
      closed.complete(null);

      assertThat(logs.infosWithThread())
          .anySatisfy(m -> assertThat(m).contains("flushing 50 audit records"));
      assertThat(logs.warnings())
          .anySatisfy(m -> assertThat(m).contains("stopped with 50 records in its journal"));
    }
    assertThat(Duration.ofNanos(took)).isLessThan(timeout.plusSeconds(2));
    assertThat(first.journaled()).isEqualTo(50);
    assertThat(first.dropped()).isZero();
    released.get(30, TimeUnit.SECONDS);

    AuditWriter second = started();
    await().atMost(patience()).until(() -> !second.spilling());
    second.append(decision(50));
    second.close();
    assertStoredInOrder(51);
  }

  @Test
  void start_withATornJournalTail_cutsIt_andCountsItsRecordAsDropped() throws Exception {
    Path file = journalOfThree();
    // `truncate -s -20`: the last entry lost its end, as in a crash mid-write.
    try (var ch = java.nio.channels.FileChannel.open(file, StandardOpenOption.WRITE)) {
      ch.truncate(ch.size() - 20);
    }
    PrometheusMeterRegistry registry = new PrometheusMeterRegistry(PrometheusConfig.DEFAULT);

    try (LogCapture logs = LogCapture.of(AuditWriter.class)) {
      AuditWriter w = writer(settings, registry).start();
      await().atMost(patience()).until(() -> w.written() == 2 && !w.spilling());
      w.close();
      assertThat(logs.warnings())
          .anySatisfy(
              m -> assertThat(m).contains("cut a torn tail").contains("records lost: at least 1"));
    }
    assertThat(storedIdsInChainOrder()).containsExactly("o-0", "o-1");
    assertThat(registry.scrape()).contains("portcullis_audit_dropped_total 1.0");
  }

  @Test
  void append_queueFull_warnsAtTheFirstDrop_thenAtMostEvery10sWithTheCountSince() {
    FakeClock clock = FakeClock.at(T0);
    AuditWriter w =
        AuditWriter.builder(store)
            .instance(INSTANCE)
            .settings(settings.toBuilder().queueCapacity(10).build())
            .clock(clock)
            .build();
    writers.add(w);
    try (LogCapture logs = LogCapture.of(AuditWriter.class)) {
      IntStream.range(0, 15).forEach(i -> w.append(decision(i))); // not started: 5 dropped
      assertThat(logs.warnings())
          .singleElement()
          .asString()
          .contains("Audit queue full: 1 decisions dropped since " + T0)
          .contains("audit.queue_capacity 10");

      clock.advance(Duration.ofSeconds(5));
      w.append(decision(15));
      assertThat(logs.warnings()).hasSize(1);
      clock.advance(Duration.ofSeconds(5));
      w.append(decision(16));
      assertThat(logs.warnings())
          .hasSize(2)
          .last()
          .asString()
          .contains("Audit queue full: 6 decisions dropped since " + T0);
    }
    assertThat(w.dropped()).isEqualTo(7);
  }

  /**
   * Deletes the SQLite file and its {@code -wal} and {@code -shm}, as {@code rm data/x.db*} does.
   */
  void deleteStoreFiles() throws IOException {
    for (String suffix : List.of("", "-wal", "-shm")) {
      Files.deleteIfExists(dir.resolve(dbFile.getFileName() + suffix));
    }
  }

  @Test
  void storeFileDeletedUnderTheWriter_saysSoOnce_setsTheGauge_andJournalsInsteadOfWritingToIt()
      throws Exception {
    PrometheusMeterRegistry registry = new PrometheusMeterRegistry(PrometheusConfig.DEFAULT);
    AuditWriter w = writer(settings, registry).start();
    IntStream.range(0, 10).forEach(i -> w.append(decision(i)));
    await().atMost(patience()).until(() -> w.written() == 10);

    try (LogCapture logs = LogCapture.of(AuditWriter.class)) {
      deleteStoreFiles();
      // SQLite goes on writing the unlinked file without an error: the writer's check (every 2 s
      // by default) is what notices.
      await()
          .atMost(patience())
          .until(() -> scraped(registry, "portcullis_audit_store_file_missing") == 1.0);
      IntStream.range(10, 30).forEach(i -> w.append(decision(i)));
      await().atMost(patience()).until(() -> w.journaled() == 20);
      // The replay thread keeps trying every 50 ms; it must not store into the deleted file.
      await().during(Duration.ofMillis(300)).atMost(patience()).until(() -> w.written() == 10);

      assertThat(w.spilling()).isTrue();
      assertThat(scraped(registry, "portcullis_audit_spilling")).isEqualTo(1.0);
      assertThat(w.dropped()).isZero();
      assertThat(logs.errors())
          .singleElement()
          .asString()
          .contains("the SQLite file " + dbFile.toAbsolutePath() + " was deleted")
          .contains(w.journalFile().toString())
          .contains("Restart the service");
    }
  }

  /**
   * The file check is a stat, not a store call: on a file system where it hangs (an NFS hard
   * mount), close() must still return within audit.store_timeout rather than wait for it.
   */
  @Test
  void close_whileTheStoreFileCheckHangs_returnsWithinTheStoreTimeout() throws Exception {
    CountDownLatch entered = new CountDownLatch(1);
    CountDownLatch release = new CountDownLatch(1);
    AuditStore hangingStat =
        (AuditStore)
            java.lang.reflect.Proxy.newProxyInstance(
                AuditStore.class.getClassLoader(),
                new Class<?>[] {AuditStore.class},
                (proxy, method, args) -> {
                  if (method.getName().equals("fileProblem")) {
                    entered.countDown();
                    release.await();
                    return java.util.Optional.empty();
                  }
                  try {
                    return method.invoke(store, args);
                  } catch (java.lang.reflect.InvocationTargetException e) {
                    throw e.getCause();
                  }
                });
    AuditWriter w =
        AuditWriter.builder(hangingStat)
            .instance(INSTANCE)
            .settings(settings.toBuilder().storeTimeout(Duration.ofMillis(500)).build())
            .meterRegistry(new PrometheusMeterRegistry(PrometheusConfig.DEFAULT))
            .fileCheckInterval(Duration.ofMillis(20))
            .build()
            .start();
    try {
      IntStream.range(0, 5).forEach(i -> w.append(decision(i)));
      assertThat(entered.await(10, TimeUnit.SECONDS)).as("the file check ran").isTrue();

      java.util.concurrent.CompletableFuture<Void> closing =
          java.util.concurrent.CompletableFuture.runAsync(w::close);

      assertThat(closing).as("close() with the file check hanging").succeedsWithin(5, SECONDS);
      assertThat(w.written() + w.journaled()).as("every record stored or journaled").isEqualTo(5);
    } finally {
      release.countDown();
    }
  }

  @Test
  void afterTheStoreFileWasDeleted_aRestartCreatesANewStoreAndReplaysTheJournalIntoANewChain()
      throws Exception {
    AuditWriter w = writer(settings, new PrometheusMeterRegistry(PrometheusConfig.DEFAULT));
    w.start();
    IntStream.range(0, 10).forEach(i -> w.append(decision(i)));
    await().atMost(patience()).until(() -> w.written() == 10);
    deleteStoreFiles();
    await().atMost(patience()).until(w::spilling);
    IntStream.range(10, 30).forEach(i -> w.append(decision(i)));
    w.close();
    db.close();

    // The restart: a new, empty store at the path; the journal continues the lost chain (seq 11
    // on), so the store refuses it as diverging and the writer re-links it after genesis.
    assertThat(dbFile).doesNotExist();
    db = Database.open(StoreSettings.of("jdbc:sqlite:" + dbFile));
    store = AuditStore.of(db);
    AuditWriter restarted =
        writer(store, settings, new PrometheusMeterRegistry(PrometheusConfig.DEFAULT)).start();
    await().atMost(patience()).until(() -> !restarted.spilling());

    assertThat(storedIdsInChainOrder()).containsExactlyElementsOf(ids(10, 30));
    assertThat(store.head(INSTANCE).seq()).isEqualTo(20);
    assertThat(store.verify()).isEqualTo(new ChainVerification.Intact(20));
  }

  @Test
  void storeFileReplacedUnderTheWriter_isNoticedToo() throws Exception {
    PrometheusMeterRegistry registry = new PrometheusMeterRegistry(PrometheusConfig.DEFAULT);
    AuditWriter w = writer(settings, registry).start();
    IntStream.range(0, 3).forEach(i -> w.append(decision(i)));
    await().atMost(patience()).until(() -> w.written() == 3);
    Path other = dir.resolve("other.db");
    Files.writeString(other, "");

    try (LogCapture logs = LogCapture.of(AuditWriter.class)) {
      Files.move(other, dbFile, java.nio.file.StandardCopyOption.REPLACE_EXISTING);
      await()
          .atMost(patience())
          .until(() -> scraped(registry, "portcullis_audit_store_file_missing") == 1.0);
      IntStream.range(3, 6).forEach(i -> w.append(decision(i)));
      await().atMost(patience()).until(() -> w.journaled() == 3);

      assertThat(w.written()).isEqualTo(3);
      assertThat(logs.errors())
          .singleElement()
          .asString()
          .contains(dbFile.toAbsolutePath() + " was replaced by another file");
    }
  }
}
