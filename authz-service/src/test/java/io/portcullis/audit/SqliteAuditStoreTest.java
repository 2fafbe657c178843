package io.portcullis.audit;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.portcullis.identity.CredentialType;
import io.portcullis.identity.Identity;
import io.portcullis.proto.v1.DecisionRecord;
import io.portcullis.request.RequestAttributes;
import io.portcullis.store.Database;
import io.portcullis.store.StoreSettings;
import io.portcullis.testing.DecisionFixtures;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.function.Predicate;
import org.flywaydb.core.Flyway;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The {@link AuditStore} contract against SQLite in a temporary file, with a store that moves its
 * tail into the key tables every few records, so each contract test reads records from both; and
 * what the key tables and the unindexed tail add ({@link SqliteAuditStore}).
 */
class SqliteAuditStoreTest extends AuditStoreContract {
  @TempDir static Path dir;
  static Database db;

  @BeforeAll
  static void open() {
    db = Database.open(StoreSettings.of("jdbc:sqlite:" + dir.resolve("data/portcullis.db")));
  }

  @AfterAll
  static void close() {
    db.close();
  }

  /**
   * Rows deleted outside retention leave their key entries and generations behind: clear them with
   * the rows.
   */
  @BeforeEach
  void emptyKeyTables() throws SQLException {
    for (String table :
        List.of(
            "audit_key_principal",
            "audit_key_source_ip",
            "audit_key_client",
            "audit_key_path",
            "audit_key_gen")) {
      sql("DELETE FROM " + table);
    }
  }

  static final List<String> KEY_TABLES =
      List.of("audit_key_principal", "audit_key_source_ip", "audit_key_client", "audit_key_path");

  @Override
  Database database() {
    return db;
  }

  @Override
  AuditStore newStore() {
    return new SqliteAuditStore(db, 3);
  }

  @Override
  boolean keyFiltersReadKeyTables() {
    return true;
  }

  @Override
  List<String> explain(JdbcAuditStore.Sql sql) throws SQLException {
    return explain(db, sql);
  }

  static List<String> explain(Database db, JdbcAuditStore.Sql sql) throws SQLException {
    List<String> plan = new ArrayList<>();
    try (Connection c = db.connection();
        PreparedStatement ps = c.prepareStatement("EXPLAIN QUERY PLAN " + sql.text())) {
      for (int i = 0; i < sql.params().size(); i++) {
        ps.setObject(i + 1, sql.params().get(i));
      }
      try (ResultSet rs = ps.executeQuery()) {
        while (rs.next()) {
          plan.add(rs.getString("detail"));
        }
      }
    }
    return plan;
  }

  // ---- fixtures -------------------------------------------------------------------------------

  /** Record {@code i} of a varied log: three principals, two addresses, paths under /v1 and /v2. */
  static DecisionRecord varied(int i) {
    RequestAttributes request =
        RequestAttributes.builder()
            .path((i % 2 == 0 ? "/v1/orders/" : "/v2/pay/") + i)
            .sourceIp("10.0.0." + (i % 2 + 1))
            .build();
    return DecisionRecords.of(
        DecisionFixtures.from(request)
            .decisionId("v" + i)
            .time(T0.plusSeconds(i / 2)) // pairs share a time: the tie-break matters
            .identity(
                Identity.builder(CredentialType.JWT, "user-" + i % 3)
                    .client(i % 4 == 0 ? null : "client-" + i % 4 / 2) // none, 0, 1, 1
                    .build())
            .allow(),
        A);
  }

  /** Records 0 to {@code n - 1} of {@link #varied}, linked from genesis. */
  static List<DecisionRecord> linkedVaried(int n) {
    List<DecisionRecord> records = new ArrayList<>(n);
    for (int i = 0; i < n; i++) {
      records.add(varied(i));
    }
    return link(records, ChainHead.GENESIS);
  }

  long count(String sql) throws SQLException {
    return count(db, sql);
  }

  static long count(Database db, String sql) throws SQLException {
    try (Connection c = db.connection();
        PreparedStatement ps = c.prepareStatement(sql);
        ResultSet rs = ps.executeQuery()) {
      rs.next();
      return rs.getLong(1);
    }
  }

  /** Every record a query finds, page by page, newest first. */
  static List<String> allPages(AuditStore s, AuditQuery first) {
    List<String> seen = new ArrayList<>();
    AuditQuery q = first;
    while (true) {
      AuditPage page = s.query(q);
      seen.addAll(ids(page));
      if (page.next() == null) {
        return seen;
      }
      q = q.after(page.next());
    }
  }

  /** Checks that every key-filtered query finds exactly the matching records of {@code stored}. */
  static void assertKeyQueriesFind(AuditStore s, List<DecisionRecord> stored) {
    List<DecisionRecord> newestFirst = stored.reversed();
    record Case(AuditQuery query, Predicate<DecisionRecord> matches) {}
    List<Case> cases =
        List.of(
            new Case(
                AuditQuery.builder().principal("user-1").limit(2).build(),
                r -> r.getPrincipal().equals("user-1")),
            new Case(
                AuditQuery.builder().sourceIp("10.0.0.2").limit(3).build(),
                r -> r.getSourceIp().equals("10.0.0.2")),
            new Case(
                AuditQuery.builder().client("client-1").limit(2).build(),
                r -> r.getClient().equals("client-1")),
            new Case(
                AuditQuery.builder().client("client-1").principal("user-2").limit(1).build(),
                r -> r.getClient().equals("client-1") && r.getPrincipal().equals("user-2")),
            new Case(
                AuditQuery.builder().pathPrefix("/v2/").limit(2).build(),
                r -> r.getPath().startsWith("/v2/")),
            new Case(
                AuditQuery.builder().principal("user-0").sourceIp("10.0.0.1").limit(2).build(),
                r -> r.getPrincipal().equals("user-0") && r.getSourceIp().equals("10.0.0.1")),
            new Case(
                AuditQuery.builder()
                    .principal("user-2")
                    .since(T0.plusSeconds(2))
                    .until(T0.plusSeconds(8))
                    .limit(2)
                    .build(),
                r ->
                    r.getPrincipal().equals("user-2")
                        && DecisionRecords.timeMicros(r)
                            >= DecisionRecords.micros(T0.plusSeconds(2))
                        && DecisionRecords.timeMicros(r)
                            < DecisionRecords.micros(T0.plusSeconds(8))));
    for (Case c : cases) {
      List<String> expected =
          newestFirst.stream().filter(c.matches()).map(DecisionRecord::getDecisionId).toList();
      assertThat(expected).as(c.query().toString()).isNotEmpty();
      assertThat(allPages(s, c.query())).as(c.query().toString()).isEqualTo(expected);
      // Summaries and timelines read the same rows (by key for principal, address and client).
      AuditQuery q = c.query();
      assertThat(s.summary(q, List.of()))
          .as(q.toString())
          .containsExactly(new SummaryRow(java.util.Map.of(), expected.size()));
      Instant since = q.since() != null ? q.since() : T0.minusSeconds(3600);
      Instant until = q.until() != null ? q.until() : T0.plusSeconds(3600);
      AuditQuery ranged =
          new AuditQuery(
              since,
              until,
              q.decision(),
              q.reason(),
              q.segment(),
              q.principal(),
              q.client(),
              q.sourceIp(),
              q.pathPrefix(),
              q.dryRunOnly(),
              q.limit(),
              null);
      assertThat(s.timeline(ranged, java.time.Duration.between(since, until)))
          .as(q.toString())
          .singleElement()
          .satisfies(b -> assertThat(b.allow() + b.deny()).isEqualTo(expected.size()));
    }
  }

  // ---- plans ----------------------------------------------------------------------------------

  @Test
  void query_keyFilteredPage_readsEachGenerationInPageOrderAndTheTailByRowIdRange()
      throws SQLException {
    SqliteAuditStore sqlite = (SqliteAuditStore) store;
    for (var e :
        List.of(
            new Object[] {AuditQuery.builder().principal("alice").build(), "audit_key_principal"},
            new Object[] {AuditQuery.builder().sourceIp("10.0.0.1").build(), "audit_key_source_ip"},
            new Object[] {AuditQuery.builder().client("acme").build(), "audit_key_client"},
            new Object[] {
              AuditQuery.builder()
                  .principal("alice")
                  .cursor(new AuditCursor(DecisionRecords.micros(T0), 5))
                  .build(),
              "audit_key_principal"
            })) {
      AuditQuery q = (AuditQuery) e[0];
      SqliteAuditStore.Key key = java.util.Objects.requireNonNull(SqliteAuditStore.keyOf(q, false));
      // The tail: a row id range, sorted (at most INDEX_TAIL rows), never the time index.
      String tail = String.join("\n", explain(sqlite.tailSql(q)));
      assertThat(tail).as(tail).contains("SEARCH audit_record USING INTEGER PRIMARY KEY (rowid>?)");
      assertThat(tail).as(tail).doesNotContain("audit_record_time");
      // A generation: one seek of (generation, key), its entries in page order, no sort.
      JdbcAuditStore.Sql generation = sqlite.generationSql(q, key, 42);
      assertThat(generation.text()).contains(e[1] + " x CROSS JOIN audit_record r");
      List<String> plan = explain(generation);
      String all = String.join("\n", plan);
      assertThat(all).as(all).contains("SEARCH x USING PRIMARY KEY (g=? AND k=?");
      assertThat(all).as(all).contains("SEARCH r USING INTEGER PRIMARY KEY (rowid=?)");
      assertThat(all).as(all).doesNotContain("TEMP B-TREE");
    }
  }

  @Test
  void replayedRecords_candidates_areFoundThroughTheTimeIndex() throws SQLException {
    SqliteAuditStore sqlite = (SqliteAuditStore) store;
    String plan =
        String.join(
            "\n",
            explain(new JdbcAuditStore.Sql(sqlite.storedCandidatesSql(), List.of("d-1", A, 7L))));
    assertThat(plan).contains("SEARCH audit_record USING INDEX audit_record_time (time_us=?)");
    assertThat(count("SELECT count(*) FROM sqlite_master WHERE name = 'audit_record_decision_id'"))
        .isZero();
  }

  @Test
  void query_pathPrefixByIndex_readsThePathKeyRangeOfEachGeneration() throws SQLException {
    SqliteAuditStore sqlite = (SqliteAuditStore) store;
    AuditQuery q = AuditQuery.builder().pathPrefix("/v1/").build();
    String byIndex =
        String.join("\n", explain(sqlite.generationSql(q, SqliteAuditStore.Key.PATH, 42)));
    assertThat(byIndex).contains("SEARCH audit_key_path USING PRIMARY KEY (g=? AND k>? AND k<?)");
    String count = String.join("\n", explain(sqlite.prefixCountSql(q, 10)));
    assertThat(count).contains("audit_key_path USING PRIMARY KEY (g=? AND k>? AND k<?)");
    String byTime = String.join("\n", explain(sqlite.querySql(q, false)));
    assertThat(byTime).contains("audit_record_time").doesNotContain("audit_key_path");
  }

  // ---- the tail and the key tables ------------------------------------------------------------

  @Test
  void records_beforeAndAfterTheirKeysAreIndexed_areFoundOnceByEveryQuery() throws SQLException {
    SqliteAuditStore s = new SqliteAuditStore(db, 1_000_000); // indexes only when told
    List<DecisionRecord> all = linkedVaried(20);
    for (int i = 0; i < 12; i += 4) {
      assertThat(s.append(all.subList(i, i + 4))).isInstanceOf(AppendResult.Appended.class);
    }
    assertKeyQueriesFind(s, all.subList(0, 12)); // all in the tail
    assertThat(s.indexTail()).isEqualTo(12);
    for (int i = 12; i < 20; i += 4) {
      assertThat(s.append(all.subList(i, i + 4))).isInstanceOf(AppendResult.Appended.class);
    }

    assertKeyQueriesFind(s, all); // 12 from the key tables, 8 from the tail
    for (String table : KEY_TABLES) {
      assertThat(count("SELECT count(*) FROM " + table)).as(table).isEqualTo(12);
    }
    assertThat(s.indexTail()).isEqualTo(8);
    assertThat(s.indexTail()).isZero();
    assertThat(count("SELECT count(*) FROM audit_key_gen")).isEqualTo(2);
    assertKeyQueriesFind(s, all); // all from the key tables, in two generations
    for (String table : KEY_TABLES) {
      assertThat(count("SELECT count(*) FROM " + table)).as(table).isEqualTo(20);
      assertThat(
              count(
                  "SELECT count(*) FROM "
                      + table
                      + " x JOIN audit_record r ON r.id = x.rid AND r.time_us = x.t"))
          .as(table)
          .isEqualTo(20);
    }
    assertThat(s.verify()).isEqualTo(new ChainVerification.Intact(20));
    assertThat(s.summary(null, null, List.of()).get(0).count()).isEqualTo(20);
    // A journal replay of indexed and tail records finds each stored.
    AppendResult replay = s.append(all.subList(8, 20));
    assertThat(replay).isEqualTo(new AppendResult.Appended(0, 12, s.head(A)));
  }

  @Test
  void query_generationsWhoseTimesOverlapOrRunBackwards_mergeIntoOnePageOrder()
      throws SQLException {
    SqliteAuditStore s = new SqliteAuditStore(db, 1_000_000); // indexes only when told
    // Generation 1: seconds 20..29; generation 2 (appended later, e.g. a journal replay of older
    // decisions): seconds 0..9; generation 3: seconds 15..24, overlapping the first; the tail:
    // seconds 10..14.
    int[][] secondsByPart = {{20, 30}, {0, 10}, {15, 25}, {10, 15}};
    List<DecisionRecord> all = new ArrayList<>();
    int n = 0;
    for (int[] part : secondsByPart) {
      for (int sec = part[0]; sec < part[1]; sec++, n++) {
        DecisionRecord r = varied(n);
        all.add(
            r.toBuilder()
                .setTime(
                    com.google.protobuf.Timestamp.newBuilder()
                        .setSeconds(T0.getEpochSecond() + sec))
                .build());
      }
    }
    all = link(all, ChainHead.GENESIS);
    int from = 0;
    for (int p = 0; p < secondsByPart.length; p++) {
      int size = secondsByPart[p][1] - secondsByPart[p][0];
      assertThat(s.append(all.subList(from, from + size)))
          .isInstanceOf(AppendResult.Appended.class);
      from += size;
      if (p < secondsByPart.length - 1) {
        assertThat(s.indexTail()).isEqualTo(size);
      }
    }
    assertThat(count("SELECT count(*) FROM audit_key_gen")).isEqualTo(3);

    List<DecisionRecord> byTime = new ArrayList<>(all);
    byTime.sort(
        java.util.Comparator.comparingLong(DecisionRecords::timeMicros)
            .thenComparingInt(all::indexOf)); // equal times: the later row (higher id) is newer
    assertKeyQueriesFind(s, byTime);
    // The first page of a principal's records comes from the generations holding its newest.
    AuditPage first = s.query(AuditQuery.builder().principal("user-1").limit(3).build());
    assertThat(first.records())
        .extracting(DecisionRecords::timeMicros)
        .containsExactlyElementsOf(
            byTime.reversed().stream()
                .filter(r -> r.getPrincipal().equals("user-1"))
                .limit(3)
                .map(DecisionRecords::timeMicros)
                .toList());
  }

  @Test
  void query_whileAFillCommitsBetweenItsReads_seesOneSnapshot() throws SQLException {
    SqliteAuditStore s = new SqliteAuditStore(db, 1_000_000); // indexes only when told
    List<DecisionRecord> all = linkedVaried(12);
    s.append(all); // all in the tail
    SqliteAuditStore filler = new SqliteAuditStore(db, 1_000_000); // another connection's fill
    s.afterTailRead =
        () -> {
          s.afterTailRead = () -> {};
          assertThat(filler.indexTail()).isEqualTo(12);
        };

    AuditPage page = s.query(AuditQuery.builder().principal("user-1").limit(100).build());

    // Without one snapshot the fill's new generation would hand back the tail's records again.
    assertThat(count("SELECT count(*) FROM audit_key_gen")).isEqualTo(1);
    assertThat(ids(page))
        .containsExactlyElementsOf(
            all.reversed().stream()
                .filter(r -> r.getPrincipal().equals("user-1"))
                .map(DecisionRecord::getDecisionId)
                .toList());
  }

  @Test
  void query_failingInsideItsReadTransaction_evictsTheConnectionSoLaterCallsSeeNewRecords()
      throws SQLException {
    SqliteAuditStore s = new SqliteAuditStore(db, 1_000_000);
    List<DecisionRecord> all = linkedVaried(24);
    s.append(all.subList(0, 12));
    s.afterTailRead =
        () -> {
          s.afterTailRead = () -> {};
          throw new IllegalStateException("read failed mid-snapshot");
        };
    AuditQuery byPrincipal = AuditQuery.builder().principal("user-1").limit(100).build();

    assertThatThrownBy(() -> s.query(byPrincipal)).hasMessage("read failed mid-snapshot");

    // Pooled again inside its BEGIN DEFERRED, the connection (the one this thread gets back
    // first) would refuse the append's transaction, or show the next query the old snapshot.
    s.append(all.subList(12, 24));
    assertThat(ids(s.query(byPrincipal)))
        .containsExactlyElementsOf(
            all.reversed().stream()
                .filter(r -> r.getPrincipal().equals("user-1"))
                .map(DecisionRecord::getDecisionId)
                .toList());
  }

  @Test
  void append_indexesTheTailOnceItIsLongEnough() throws SQLException {
    SqliteAuditStore s = new SqliteAuditStore(db, 5);
    List<DecisionRecord> all = linkedVaried(9);
    s.append(all.subList(0, 4));
    assertThat(count("SELECT count(*) FROM audit_key_principal")).isZero();
    s.append(all.subList(4, 6));
    assertThat(count("SELECT count(*) FROM audit_key_principal")).isEqualTo(6);
    s.append(all.subList(6, 9));
    assertThat(count("SELECT count(*) FROM audit_key_principal")).isEqualTo(6);
    assertKeyQueriesFind(s, all);
  }

  @Test
  void indexTail_failingBeforeItsCommit_losesNothingAndIsRedoneByAnAppendAfterTheBackOff()
      throws SQLException {
    java.util.concurrent.atomic.AtomicLong ticker = new java.util.concurrent.atomic.AtomicLong();
    SqliteAuditStore s = new SqliteAuditStore(db, 5, ticker::get);
    List<DecisionRecord> all = linkedVaried(12);
    long markBefore = count("SELECT indexed_to FROM audit_key_mark");
    // The last of the three key tables fails: the first two were written in the same transaction.
    sql(
        "CREATE TRIGGER fail_path_key BEFORE INSERT ON audit_key_path"
            + " BEGIN SELECT RAISE(ABORT, 'disk full'); END");
    try {
      assertThat(s.append(all.subList(0, 8))).isInstanceOf(AppendResult.Appended.class);
    } finally {
      sql("DROP TRIGGER fail_path_key");
    }
    assertThat(count("SELECT indexed_to FROM audit_key_mark")).isEqualTo(markBefore);
    assertThat(count("SELECT count(*) FROM audit_key_principal")).isZero();
    assertKeyQueriesFind(s, all.subList(0, 8));

    s.append(all.subList(8, 10)); // within the back-off: no second attempt
    assertThat(count("SELECT count(*) FROM audit_key_principal")).isZero();
    assertKeyQueriesFind(s, all.subList(0, 10));

    ticker.addAndGet(SqliteAuditStore.FIRST_BACKOFF.toNanos());
    s.append(all.subList(10, 12));

    assertThat(count("SELECT count(*) FROM audit_key_principal")).isEqualTo(12);
    assertKeyQueriesFind(s, all);
    assertThat(s.verify()).isEqualTo(new ChainVerification.Intact(12));
  }

  @Test
  void tail_survivesTheProcessEndingBeforeItsKeysWereIndexed() throws SQLException {
    String url = "jdbc:sqlite:" + dir.resolve("crash/audit.db");
    List<DecisionRecord> all = linkedVaried(10);
    try (Database first = Database.open(StoreSettings.of(url))) {
      new SqliteAuditStore(first, 1_000).append(all.subList(0, 6));
    } // every connection closed with the tail unindexed, as after kill -9
    try (Database second = Database.open(StoreSettings.of(url))) {
      SqliteAuditStore s = new SqliteAuditStore(second, 8);
      assertKeyQueriesFind(s, all.subList(0, 6));
      s.append(all.subList(6, 10));
      assertKeyQueriesFind(s, all);
      assertThat(s.verify()).isEqualTo(new ChainVerification.Intact(10));
    }
  }

  @Test
  void verify_editedTailRecord_isReported() throws SQLException {
    SqliteAuditStore s = new SqliteAuditStore(db, 1_000);
    s.append(linkedVaried(6));
    sql("UPDATE audit_record SET principal = 'mallory' WHERE decision_id = 'v3'");

    ChainVerification.Broken b = (ChainVerification.Broken) s.verify();

    assertThat(b.decisionId()).isEqualTo("v3");
    assertThat(b.detail()).contains("principal");
  }

  @Test
  void deleteBefore_removesTheKeysOfDeletedRecords_andLaterRecordsAreStillFound()
      throws SQLException {
    SqliteAuditStore s = new SqliteAuditStore(db, 4);
    List<DecisionRecord> old = linkedVaried(10);
    s.append(old);
    assertThat(count("SELECT count(*) FROM audit_key_principal")).isEqualTo(10);

    long firstId = count("SELECT min(id) FROM audit_record");
    long lastId = count("SELECT max(id) FROM audit_record");

    assertThat(count("SELECT count(*) FROM audit_key_gen")).isEqualTo(1); // one fill of all 10
    assertThat(s.deleteBefore(T0.plusSeconds(3600), 3)).isEqualTo(10); // the table is empty
    assertThat(count("SELECT count(*) FROM audit_key_gen")).isZero();

    for (String table : KEY_TABLES) {
      assertThat(
              count(
                  "SELECT count(*) FROM "
                      + table
                      + " WHERE rid BETWEEN "
                      + firstId
                      + " AND "
                      + lastId))
          .as(table)
          .isZero();
    }
    List<DecisionRecord> later = new ArrayList<>();
    for (int i = 10; i < 16; i++) {
      later.add(varied(i));
    }
    later = link(later, s.head(A));
    s.append(later);
    assertThat(count("SELECT min(id) FROM audit_record")).isGreaterThan(lastId);
    assertKeyQueriesFind(s, later);
    assertThat(s.verify()).isEqualTo(new ChainVerification.Intact(6));
  }

  @Test
  void deleteBefore_aGenerationInPart_keepsTheRestOfItFound_andDropsOnlyEmptiedGenerations()
      throws SQLException {
    SqliteAuditStore s = new SqliteAuditStore(db, 1_000_000); // indexes only when told
    List<DecisionRecord> all = linkedVaried(12); // record i at T0 + i/2 s
    s.append(all.subList(0, 4));
    s.indexTail(); // generation 1: records 0-3
    s.append(all.subList(4, 8));
    s.indexTail(); // generation 2: records 4-7
    s.append(all.subList(8, 12)); // the tail: records 8-11
    assertThat(count("SELECT count(*) FROM audit_key_gen")).isEqualTo(2);

    // Records 0-5 (before T0 + 3 s): all of generation 1, half of generation 2; in batches of 4.
    assertThat(s.deleteBefore(T0.plusSeconds(3), 4)).isEqualTo(6);

    assertThat(count("SELECT count(*) FROM audit_key_gen")).isEqualTo(1);
    for (String table : KEY_TABLES) {
      assertThat(count("SELECT count(*) FROM " + table)).as(table).isEqualTo(2); // records 6, 7
    }
    assertKeyQueriesFind(s, all.subList(6, 12));
    assertThat(s.verify()).isEqualTo(new ChainVerification.Intact(6));
  }

  @Test
  void migration_ofALogWrittenBeforeTheKeyTables_movesItsKeysThere() throws SQLException {
    String url = "jdbc:sqlite:" + dir.resolve("v2/audit.db");
    dir.resolve("v2").toFile().mkdirs();
    Flyway.configure()
        .dataSource(url, null, null)
        .locations("classpath:db/migration/sqlite")
        .target("2")
        .load()
        .migrate();
    List<DecisionRecord> all = linkedVaried(8);
    try (Connection c = java.sql.DriverManager.getConnection(url);
        PreparedStatement ps =
            c.prepareStatement(
                "INSERT INTO audit_record (instance, seq, decision_id, time_us, decision, reason,"
                    + " dry_run_reason, dry_run_rule, segment, rule, principal, client,"
                    + " source_ip, path, prev_hash, hash, record)"
                    + " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)")) {
      for (DecisionRecord r : all) {
        Object[] v = {
          r.getInstance(),
          r.getSeq(),
          r.getDecisionId(),
          DecisionRecords.timeMicros(r),
          r.getDecision(),
          r.getReason(),
          r.getDryRunReason(),
          r.getDryRunRule(),
          r.getSegment(),
          r.getRule(),
          r.getPrincipal(),
          r.getClient(),
          r.getSourceIp(),
          r.getPath(),
          r.getPrevHash(),
          r.getHash(),
          RecordChain.canonical(r)
        };
        for (int i = 0; i < v.length; i++) {
          ps.setObject(i + 1, v[i]);
        }
        ps.executeUpdate();
      }
      try (PreparedStatement chain =
          c.prepareStatement("INSERT INTO audit_chain VALUES (?, ?, ?, 0, '')")) {
        chain.setString(1, A);
        chain.setLong(2, 8);
        chain.setString(3, all.get(7).getHash());
        chain.executeUpdate();
      }
    }

    try (Database migrated = Database.open(StoreSettings.of(url))) {
      SqliteAuditStore s = new SqliteAuditStore(migrated, 1_000);
      assertKeyQueriesFind(s, all);
      assertThat(count(migrated, "SELECT count(*) FROM audit_key_gen")).isEqualTo(1);
      assertThat(count(migrated, "SELECT g FROM audit_key_gen"))
          .isEqualTo(count(migrated, "SELECT max(id) FROM audit_record"));
      List<String> plan =
          explain(
              migrated,
              s.generationSql(
                  AuditQuery.builder().principal("user-1").build(),
                  SqliteAuditStore.Key.PRINCIPAL,
                  8));
      assertThat(String.join("\n", plan)).contains("SEARCH x USING PRIMARY KEY (g=? AND k=?)");
      assertThat(s.verify()).isEqualTo(new ChainVerification.Intact(8));
      List<DecisionRecord> more = link(List.of(varied(8), varied(9)), s.head(A));
      s.append(more);
      List<DecisionRecord> both = new ArrayList<>(all);
      both.addAll(more);
      assertKeyQueriesFind(s, both);
    }
  }
}
