package io.portcullis.audit;

import static org.assertj.core.api.Assertions.assertThat;

import io.micrometer.prometheusmetrics.PrometheusConfig;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import io.portcullis.decision.Reason;
import io.portcullis.identity.CredentialType;
import io.portcullis.identity.Identity;
import io.portcullis.proto.v1.DecisionRecord;
import io.portcullis.request.RequestAttributes;
import io.portcullis.store.Database;
import io.portcullis.testing.DecisionFixtures;
import io.portcullis.testing.LogCapture;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * The behaviour every {@link AuditStore} must have, run against each real database: {@link
 * SqliteAuditStoreTest} (a temporary file) and {@link PostgresAuditStoreIT} (a fresh database on
 * the test server).
 */
abstract class AuditStoreContract {
  static final Instant T0 = Instant.parse("2026-11-22T10:00:00Z");
  static final String A = "instance-a";
  static final String B = "instance-b";

  /** The database under test, migrated; shared by the test class. */
  abstract Database database();

  /** The plan the database chooses for {@code sql}, one line per plan step. */
  abstract List<String> explain(JdbcAuditStore.Sql sql) throws SQLException;

  /** The store under test; by default the one {@link AuditStore#of} makes. */
  AuditStore newStore() {
    return AuditStore.of(database());
  }

  /**
   * Whether pages filtered by principal, source address or client come from key tables beside
   * {@code audit_record} (SQLite: {@link SqliteAuditStore}) rather than from indexes of it; the
   * implementation's own test then checks those plans.
   */
  boolean keyFiltersReadKeyTables() {
    return false;
  }

  AuditStore store;

  @BeforeEach
  void emptyTables() throws SQLException {
    try (Connection c = database().connection();
        Statement s = c.createStatement()) {
      s.executeUpdate("DELETE FROM audit_record");
      s.executeUpdate("DELETE FROM audit_chain");
    }
    store = newStore();
  }

  // ---- fixtures -------------------------------------------------------------------------------

  static DecisionRecord record(String instance, String decisionId, Instant time) {
    return DecisionRecords.of(
        DecisionFixtures.from(RequestAttributes.builder().path("/v1/orders").build())
            .decisionId(decisionId)
            .time(time)
            .segment("public")
            .allow(),
        instance);
  }

  /** {@code n} records of {@code instance}, one a minute from {@code T0}, linked after head. */
  static List<DecisionRecord> linked(String instance, int n, ChainHead head) {
    List<DecisionRecord> out = new ArrayList<>();
    ChainHead h = head;
    for (int i = 0; i < n; i++) {
      DecisionRecord r =
          RecordChain.link(
              record(instance, instance + "-" + (h.seq() + 1), T0.plusSeconds(60 * h.seq())), h);
      out.add(r);
      h = new ChainHead(r.getSeq(), r.getHash());
    }
    return out;
  }

  static List<DecisionRecord> link(List<DecisionRecord> records, ChainHead head) {
    List<DecisionRecord> out = new ArrayList<>();
    ChainHead h = head;
    for (DecisionRecord r : records) {
      DecisionRecord l = RecordChain.link(r, h);
      out.add(l);
      h = new ChainHead(l.getSeq(), l.getHash());
    }
    return out;
  }

  AppendResult.Appended appendOk(List<DecisionRecord> records) {
    AppendResult r = store.append(records);
    assertThat(r).isInstanceOf(AppendResult.Appended.class);
    return (AppendResult.Appended) r;
  }

  void sql(String statement, Object... params) throws SQLException {
    try (Connection c = database().connection();
        PreparedStatement ps = c.prepareStatement(statement)) {
      for (int i = 0; i < params.length; i++) {
        ps.setObject(i + 1, params[i]);
      }
      ps.executeUpdate();
    }
  }

  /** Every page of {@code first} and the queries after it, following each page's cursor. */
  List<AuditPage> pages(AuditQuery first) {
    List<AuditPage> pages = new ArrayList<>();
    AuditQuery q = first;
    while (true) {
      AuditPage page = store.query(q);
      pages.add(page);
      if (page.next() == null) {
        return pages;
      }
      q = q.after(AuditCursor.parse(page.nextCursor()));
    }
  }

  static List<String> ids(AuditPage page) {
    return page.records().stream().map(DecisionRecord::getDecisionId).toList();
  }

  // ---- append and head ------------------------------------------------------------------------

  @Test
  void head_ofUnknownInstance_isGenesis() {
    assertThat(store.head(A)).isEqualTo(ChainHead.GENESIS);
  }

  @Test
  void append_linkedBatches_storeInOrderAndAdvanceHead() {
    List<DecisionRecord> first = linked(A, 3, ChainHead.GENESIS);
    AppendResult.Appended a = appendOk(first);
    assertThat(a.inserted()).isEqualTo(3);
    assertThat(a.head()).isEqualTo(new ChainHead(3, first.get(2).getHash()));
    List<DecisionRecord> second = linked(A, 2, a.head());
    appendOk(second);

    assertThat(store.head(A)).isEqualTo(new ChainHead(5, second.get(1).getHash()));
    AuditPage page = store.query(AuditQuery.all());
    assertThat(ids(page))
        .containsExactly(
            "instance-a-5", "instance-a-4", "instance-a-3", "instance-a-2", "instance-a-1");
    DecisionRecord newest = page.records().get(0);
    assertThat(newest).isEqualTo(second.get(1));
    assertThat(newest.getPrevHash()).isEqualTo(second.get(0).getHash());
    assertThat(store.verify()).isEqualTo(new ChainVerification.Intact(5));
  }

  @Test
  void append_recordNotContinuingTheChain_divergesAndWritesNothing() {
    appendOk(linked(A, 2, ChainHead.GENESIS));
    ChainHead head = store.head(A);
    // Linked after genesis although the chain is at seq 2: a writer that started without the head.
    List<DecisionRecord> stale =
        link(List.of(record(A, "late-1", T0), record(A, "late-2", T0)), ChainHead.GENESIS);

    AppendResult r = store.append(stale);

    assertThat(r).isEqualTo(new AppendResult.Diverged(0, head));
    assertThat(store.head(A)).isEqualTo(head);
    assertThat(store.query(AuditQuery.all()).records()).hasSize(2);

    // Re-linked after the head it named, the batch goes in.
    AppendResult.Appended ok = appendOk(link(stale, head));
    assertThat(ok.inserted()).isEqualTo(2);
    assertThat(store.verify()).isEqualTo(new ChainVerification.Intact(4));
  }

  @Test
  void append_recordWithWrongHash_diverges() {
    DecisionRecord forged =
        linked(A, 1, ChainHead.GENESIS).get(0).toBuilder().setDecision("deny").build();

    assertThat(store.append(List.of(forged)))
        .isEqualTo(new AppendResult.Diverged(0, ChainHead.GENESIS));
  }

  @Test
  void appendLinked_recordsFromRecordChain_areStoredAsLinkedAndVerify() {
    appendOk(linked(A, 1, ChainHead.GENESIS));
    ChainHead head = store.head(A);
    LinkedRecord second = RecordChain.linked(record(A, "second", T0.plusSeconds(60)), head);
    LinkedRecord third = RecordChain.linked(record(A, "third", T0.plusSeconds(120)), second.head());

    AppendResult r = store.appendLinked(List.of(second, third));

    assertThat(r).isEqualTo(new AppendResult.Appended(2, 0, third.head()));
    assertThat(store.query(AuditQuery.builder().limit(2).build()).records())
        .containsExactly(third.record(), second.record());
    assertThat(store.verify()).isEqualTo(new ChainVerification.Intact(3));
  }

  @Test
  void appendLinked_afterTheHeadMoved_divergesAndWritesNothing() {
    LinkedRecord early = RecordChain.linked(record(A, "early", T0), ChainHead.GENESIS);
    appendOk(linked(A, 2, ChainHead.GENESIS)); // another writer got there first

    AppendResult r = store.appendLinked(List.of(early));

    assertThat(r).isEqualTo(new AppendResult.Diverged(0, store.head(A)));
    assertThat(store.query(AuditQuery.all()).records()).hasSize(2);
    assertThat(store.verify()).isEqualTo(new ChainVerification.Intact(2));
  }

  @Test
  void append_recordEditedAfterLinking_isRefusedAlthoughItsChainFieldsContinue() {
    // What a journal file edited on disk looks like: seq and prev_hash fit, the content does not.
    LinkedRecord genuine = RecordChain.linked(record(A, "edited", T0), ChainHead.GENESIS);
    DecisionRecord edited = genuine.record().toBuilder().setPath("/v1/elsewhere").build();

    assertThat(store.append(List.of(edited)))
        .isEqualTo(new AppendResult.Diverged(0, ChainHead.GENESIS));
    assertThat(store.query(AuditQuery.all()).records()).isEmpty();
  }

  @Test
  void append_replayOfStoredRecords_skipsThemAndStoresTheRest() {
    List<DecisionRecord> batch = linked(A, 4, ChainHead.GENESIS);
    appendOk(batch.subList(0, 2)); // committed, but the writer never learned it did

    AppendResult.Appended replay = appendOk(batch);

    assertThat(replay.inserted()).isEqualTo(2);
    assertThat(replay.duplicates()).isEqualTo(2);
    assertThat(store.query(AuditQuery.all()).records()).hasSize(4);
    assertThat(store.verify()).isEqualTo(new ChainVerification.Intact(4));
  }

  @Test
  void append_storedCopiesThenUnlinkedRecord_divergesAtTheFirstNewRecord() {
    List<DecisionRecord> committed = linked(A, 2, ChainHead.GENESIS);
    appendOk(committed);
    // A journal written from a stale head: the two committed records, re-linked differently, then
    // a new one.
    List<DecisionRecord> journal =
        link(
            List.of(committed.get(0), committed.get(1), record(A, "new", T0.plusSeconds(500))),
            new ChainHead(7, committed.get(1).getHash()));

    AppendResult r = store.append(journal);

    assertThat(r).isEqualTo(new AppendResult.Diverged(2, store.head(A)));
    List<DecisionRecord> fixed = new ArrayList<>(journal.subList(0, 2));
    fixed.addAll(link(journal.subList(2, 3), store.head(A)));
    AppendResult.Appended ok = appendOk(fixed);
    assertThat(ok.inserted()).isEqualTo(1);
    assertThat(ok.duplicates()).isEqualTo(2);
    assertThat(store.verify()).isEqualTo(new ChainVerification.Intact(3));
  }

  @Test
  void append_afterARowInsertedByHandAfterTheHead_isBlocked_writesNothing_andKeepsTheRow()
      throws SQLException {
    List<DecisionRecord> first = linked(A, 2, ChainHead.GENESIS);
    appendOk(first);
    appendOk(linked(B, 1, ChainHead.GENESIS));
    ChainHead head = store.head(A);
    // Without moving the head, as a hand-written INSERT or a process bypassing the chain's lock
    // would: before, every later append failed on the (instance, seq) constraint, re-linked or not.
    insertForgedRow(2, 3, "forged");
    List<DecisionRecord> next = linked(A, 2, head);

    assertThat(store.append(next)).isEqualTo(new AppendResult.Blocked(3, head));
    assertThat(store.appendLinked(List.of(RecordChain.linked(record(A, "n", T0), head))))
        .isEqualTo(new AppendResult.Blocked(3, head));
    assertThat(store.head(A)).isEqualTo(head);
    assertThat(store.query(AuditQuery.all()).records()).hasSize(4); // the row is kept
    // What is already stored is still recognised; other chains are not held up.
    assertThat(store.append(first)).isEqualTo(new AppendResult.Appended(0, 2, head));
    appendOk(linked(B, 1, store.head(B)));

    sql("DELETE FROM audit_record WHERE instance = ? AND seq > ?", A, head.seq());

    assertThat(appendOk(next).inserted()).isEqualTo(2);
    assertThat(store.verify()).isEqualTo(new ChainVerification.Intact(6));
  }

  @Test
  void append_aRowInsertedFarAfterTheHead_blocksTheNextRecordAlready() throws SQLException {
    appendOk(linked(A, 2, ChainHead.GENESIS));
    ChainHead head = store.head(A);
    insertForgedRow(2, 9, "forged");

    assertThat(store.append(linked(A, 1, head))).isEqualTo(new AppendResult.Blocked(9, head));
  }

  // ---- query ----------------------------------------------------------------------------------

  /** Six varied decisions at T0+0..5 s. */
  void storeVariedDecisions() {
    RequestAttributes get =
        RequestAttributes.builder().path("/v1/orders/7").sourceIp("10.0.0.1").build();
    RequestAttributes post =
        RequestAttributes.builder().method("POST").path("/v2/pay").sourceIp("10.0.0.2").build();
    Identity alice = Identity.builder(CredentialType.JWT, "alice").client("acme").build();
    Identity bob =
        Identity.builder(CredentialType.API_KEY, "key-bob")
            .client("globex")
            .apiKeyId("key-bob")
            .build();
    List<DecisionRecord> rs = new ArrayList<>();
    rs.add(
        DecisionRecords.of(
            DecisionFixtures.from(get)
                .decisionId("d0")
                .time(T0)
                .identity(alice)
                .segment("partners")
                .rule("read")
                .allow(),
            A));
    rs.add(
        DecisionRecords.of(
            DecisionFixtures.from(get)
                .decisionId("d1")
                .time(T0.plusSeconds(1))
                .identity(bob)
                .segment("partners")
                .deny(Reason.RATE_LIMITED, "limit exhausted"),
            A));
    rs.add(
        DecisionRecords.of(
            DecisionFixtures.from(post)
                .decisionId("d2")
                .time(T0.plusSeconds(2))
                .segment("public")
                .deny(Reason.INVALID_TOKEN, "bad signature"),
            A));
    rs.add(
        DecisionRecords.of(
            DecisionFixtures.from(post)
                .decisionId("d3")
                .time(T0.plusSeconds(3))
                .identity(alice)
                .segment("internal")
                .rule("pay")
                .dryRunAllow(Reason.DENIED_BY_RULE, "pay-dry-run"),
            A));
    rs.add(
        DecisionRecords.of(
            DecisionFixtures.from(get)
                .decisionId("d4")
                .time(T0.plusSeconds(4))
                .identity(bob)
                .segment("partners")
                .rule("read")
                .allow(),
            A));
    rs.add(
        DecisionRecords.of(
            DecisionFixtures.from(post)
                .decisionId("d5")
                .time(T0.plusSeconds(5))
                .identity(alice)
                .segment("partners")
                .deny(Reason.RATE_LIMITED, "limit exhausted"),
            B));
    appendOk(link(rs.subList(0, 5), ChainHead.GENESIS));
    appendOk(link(rs.subList(5, 6), ChainHead.GENESIS));
  }

  /** A query for each filter of {@link #storeVariedDecisions}'s log, and the ids it finds. */
  static Map<AuditQuery, List<String>> filterCases() {
    return Map.ofEntries(
        Map.entry(AuditQuery.builder().decision("deny").build(), List.of("d5", "d2", "d1")),
        Map.entry(AuditQuery.builder().reason("rate_limited").build(), List.of("d5", "d1")),
        Map.entry(
            AuditQuery.builder().segment("partners").build(), List.of("d5", "d4", "d1", "d0")),
        Map.entry(AuditQuery.builder().principal("alice").build(), List.of("d5", "d3", "d0")),
        Map.entry(AuditQuery.builder().client("globex").build(), List.of("d4", "d1")),
        Map.entry(AuditQuery.builder().sourceIp("10.0.0.2").build(), List.of("d5", "d3", "d2")),
        Map.entry(AuditQuery.builder().pathPrefix("/v1/").build(), List.of("d4", "d1", "d0")),
        Map.entry(AuditQuery.builder().dryRunOnly().build(), List.of("d3")),
        Map.entry(
            AuditQuery.builder().since(T0.plusSeconds(1)).until(T0.plusSeconds(3)).build(),
            List.of("d2", "d1")),
        Map.entry(
            AuditQuery.builder().segment("partners").decision("allow").principal("bob").build(),
            List.of()),
        Map.entry(
            AuditQuery.builder().segment("partners").decision("allow").build(),
            List.of("d4", "d0")));
  }

  @Test
  void query_eachFilter_returnsOnlyMatchingRecordsNewestFirst() {
    storeVariedDecisions();
    filterCases()
        .forEach(
            (q, expected) ->
                assertThat(ids(store.query(q)))
                    .as(q.toString())
                    .containsExactlyElementsOf(expected));
  }

  @Test
  void query_returnsFullRecordsWithEveryField() {
    storeVariedDecisions();
    DecisionRecord d3 = store.query(AuditQuery.builder().dryRunOnly().build()).records().get(0);
    assertThat(d3.getMethod()).isEqualTo("POST");
    assertThat(d3.getPath()).isEqualTo("/v2/pay");
    assertThat(d3.getDryRunReason()).isEqualTo("denied_by_rule");
    assertThat(d3.getDryRunRule()).isEqualTo("pay-dry-run");
    assertThat(d3.getCredential()).isEqualTo("jwt");
    assertThat(d3.getSeq()).isEqualTo(4);
    assertThat(d3.getHash()).hasSize(64);
    assertThat(d3.getPrevHash()).hasSize(64);
  }

  @Test
  void query_cursorPaging_visitsEveryRecordOnceInOrder_evenWithEqualTimesAndIds() {
    List<DecisionRecord> rs = new ArrayList<>();
    for (int i = 0; i < 23; i++) {
      // Groups of three share a time; the last two of a group share a decision id too.
      Instant t = T0.plusMillis(i / 3);
      String id = i % 3 == 0 ? "x" + i : "dup" + (i / 3);
      rs.add(record(A, id, t));
    }
    appendOk(link(rs, ChainHead.GENESIS));

    List<AuditPage> pages = pages(AuditQuery.builder().limit(4).build());
    List<DecisionRecord> seen = pages.stream().flatMap(p -> p.records().stream()).toList();

    assertThat(pages).hasSize(6);
    assertThat(seen).hasSize(23);
    assertThat(new HashSet<>(seen.stream().map(DecisionRecord::getSeq).toList())).hasSize(23);
    for (int i = 1; i < seen.size(); i++) {
      long prev = DecisionRecords.timeMicros(seen.get(i - 1));
      long cur = DecisionRecords.timeMicros(seen.get(i));
      assertThat(cur).isLessThanOrEqualTo(prev);
    }
  }

  @Test
  void query_lastPageExactlyFull_hasNoNextCursor() {
    appendOk(linked(A, 4, ChainHead.GENESIS));
    AuditPage page = store.query(AuditQuery.builder().limit(4).build());
    assertThat(page.records()).hasSize(4);
    assertThat(page.next()).isNull();
    assertThat(page.nextCursor()).isEmpty();
  }

  @Test
  void query_filteredFirstPage_isServedByAnIndexWithoutSorting() throws SQLException {
    storeVariedDecisions();
    JdbcAuditStore jdbc = (JdbcAuditStore) store;
    Map<AuditQuery, String> cases =
        new HashMap<>(
            Map.of(
                AuditQuery.all(), "audit_record_time",
                AuditQuery.builder().decision("deny").build(), "audit_record_decision",
                AuditQuery.builder().reason("rate_limited").build(), "audit_record_reason",
                AuditQuery.builder().segment("partners").build(), "audit_record_segment",
                AuditQuery.builder().dryRunOnly().build(), "audit_record_dry_run",
                AuditQuery.builder()
                        .segment("partners")
                        .cursor(new AuditCursor(DecisionRecords.micros(T0.plusSeconds(4)), 5))
                        .build(),
                    "audit_record_segment"));
    if (!keyFiltersReadKeyTables()) {
      cases.put(AuditQuery.builder().principal("alice").build(), "audit_record_principal");
      cases.put(AuditQuery.builder().sourceIp("10.0.0.1").build(), "audit_record_source_ip");
      cases.put(AuditQuery.builder().client("acme").build(), "audit_record_client");
    }
    for (var e : cases.entrySet()) {
      String plan = String.join("\n", explain(jdbc.querySql(e.getKey())));
      assertThat(plan).as(e.getKey() + "\n" + plan).contains(e.getValue());
      assertThat(plan.toLowerCase()).as(plan).doesNotContain("sort").doesNotContain("temp b-tree");
    }
  }

  @Test
  void query_pathPrefix_fromThePathIndexOrTheTimeIndex_findsTheSamePagesNewestFirst()
      throws SQLException {
    List<DecisionRecord> rs = new ArrayList<>();
    String[] paths = {"/v1/orders/1", "/v2/pay", "/v1/orders", "/v1", "/v10/x", "/v1/orders/2"};
    for (int i = 0; i < 30; i++) {
      rs.add(
          DecisionRecords.of(
              DecisionFixtures.from(
                      RequestAttributes.builder().path(paths[i % paths.length]).build())
                  .decisionId("p" + i)
                  .time(T0.plusSeconds(i / 2)) // pairs share a time: the tie-break matters
                  .allow(),
              A));
    }
    appendOk(link(rs, ChainHead.GENESIS));
    JdbcAuditStore jdbc = (JdbcAuditStore) store;

    for (String prefix : List.of("/v1/orders", "/v1", "/v2/", "/v10", "/v3", "/v1/orders/2")) {
      List<String> expected =
          rs.reversed().stream()
              .filter(r -> r.getPath().startsWith(prefix))
              .map(DecisionRecord::getDecisionId)
              .toList(); // newest first; of two equal times the later row first
      for (boolean byIndex : List.of(true, false)) {
        List<String> seen = new ArrayList<>();
        AuditQuery q = AuditQuery.builder().pathPrefix(prefix).limit(4).build();
        while (true) {
          AuditPage page = jdbc.query(q, byIndex);
          seen.addAll(ids(page));
          if (page.next() == null) {
            break;
          }
          q = q.after(page.next());
        }
        assertThat(seen).as(prefix + " byIndex=" + byIndex).isEqualTo(expected);
      }
      assertThat(ids(store.query(AuditQuery.builder().pathPrefix(prefix).limit(100).build())))
          .as(prefix)
          .isEqualTo(expected);
    }
  }

  // ---- query: records that cannot be read ----------------------------------------------------

  /** Bytes that do not parse as a record: field 1 announces 16 bytes and none follow. */
  static final byte[] TRUNCATED = {0x0a, 0x10};

  /**
   * What a query returns for the row of {@code stored} when its record cannot be read: the row's
   * instance, seq, decision id, time and hashes, and {@code unreadable}.
   */
  static DecisionRecord unreadableEntry(DecisionRecord stored) {
    return DecisionRecord.newBuilder()
        .setDecisionId(stored.getDecisionId())
        .setTime(stored.getTime())
        .setInstance(stored.getInstance())
        .setSeq(stored.getSeq())
        .setPrevHash(stored.getPrevHash())
        .setHash(stored.getHash())
        .setUnreadable(true)
        .build();
  }

  @Test
  void query_rowWhoseRecordCannotBeParsed_isAnUnreadableEntryInItsPlace_andTheCursorGoesOn()
      throws SQLException {
    List<DecisionRecord> a = linked(A, 7, ChainHead.GENESIS);
    appendOk(a);
    sql("UPDATE audit_record SET record = ? WHERE instance = ? AND seq = 4", TRUNCATED, A);
    List<DecisionRecord> expected = new ArrayList<>(a.reversed());
    expected.set(3, unreadableEntry(a.get(3)));

    try (LogCapture logs = LogCapture.of(JdbcAuditStore.class)) {
      List<AuditPage> pages = pages(AuditQuery.builder().limit(2).build());
      assertThat(pages).hasSize(4);
      assertThat(pages.stream().flatMap(p -> p.records().stream()))
          .containsExactlyElementsOf(expected);
      // Everything in one page: the same, and the row is not logged again.
      assertThat(store.query(AuditQuery.all()).records()).containsExactlyElementsOf(expected);

      assertThat(logs.warnings()).hasSize(1);
      assertThat(logs.warnings().get(0))
          .contains("seq 4 of instance instance-a (decision_id instance-a-4) cannot be read")
          .contains("portcullis audit verify");
    }
    String line = AuditJson.line(expected.get(3));
    assertThat(line)
        .isEqualTo(
            "{\"decision_id\":\"instance-a-4\",\"time\":\"2026-11-22T10:03:00Z\","
                + "\"instance\":\"instance-a\",\"seq\":\"4\",\"prev_hash\":\""
                + a.get(2).getHash()
                + "\",\"hash\":\""
                + a.get(3).getHash()
                + "\",\"unreadable\":true}");
  }

  /**
   * {@code portcullis_audit_unreadable_rows_total} counts the damaged rows a query met, each once
   * (as its WARN), however often it is paged through; a row damaged again (another hash) counts
   * again.
   */
  @Test
  void query_unreadableRows_areCountedOncePerRow_inTheUnreadableRowsMetric() throws SQLException {
    PrometheusMeterRegistry registry = new PrometheusMeterRegistry(PrometheusConfig.DEFAULT);
    assertThat(store.bindMetrics(registry)).isSameAs(store);
    List<DecisionRecord> a = linked(A, 6, ChainHead.GENESIS);
    appendOk(a);
    store.query(AuditQuery.all());
    assertThat(registry.scrape()).contains("portcullis_audit_unreadable_rows_total 0.0");
    sql("UPDATE audit_record SET record = ? WHERE instance = ? AND seq = 2", TRUNCATED, A);
    sql(
        "UPDATE audit_record SET record = ? WHERE instance = ? AND seq = 5",
        RecordChain.canonical(a.get(3)), // another record's bytes
        A);

    store.query(AuditQuery.all());
    pages(AuditQuery.builder().limit(2).build());
    store.query(AuditQuery.all());

    assertThat(registry.scrape()).contains("portcullis_audit_unreadable_rows_total 2.0");
    sql("UPDATE audit_record SET hash = ? WHERE instance = ? AND seq = 2", "edited", A);
    store.query(AuditQuery.all());
    assertThat(registry.scrape()).contains("portcullis_audit_unreadable_rows_total 3.0");
  }

  @Test
  void query_unreadableRow_isReturnedWhenItsColumnsMatchTheFilters_byEveryWayAPageIsRead()
      throws SQLException {
    storeVariedDecisions();
    Map<String, DecisionRecord> stored = new HashMap<>();
    store.query(AuditQuery.all()).records().forEach(r -> stored.put(r.getDecisionId(), r));
    List<SummaryRow> summary =
        store.summary(AuditQuery.all(), List.of(SummaryDimension.SEGMENT, SummaryDimension.REASON));
    AuditQuery range = AuditQuery.builder().since(T0).until(T0.plusSeconds(6)).build();
    List<TimelineBucket> timeline = store.timeline(range, Duration.ofSeconds(2));
    // d1 (bob of globex, partners, rate_limited, GET /v1/orders/7 from 10.0.0.1) holds the bytes
    // of d0: they parse, as a record of another seq. Shown as d0, d0 would appear twice and d1
    // not at all.
    sql(
        "UPDATE audit_record SET record = (SELECT record FROM audit_record WHERE decision_id ="
            + " 'd0') WHERE decision_id = 'd1'");
    DecisionRecord d1 = unreadableEntry(stored.get("d1"));

    Map<AuditQuery, List<String>> cases = new HashMap<>(filterCases());
    cases.put(AuditQuery.all(), List.of("d5", "d4", "d3", "d2", "d1", "d0"));
    cases.put(AuditQuery.builder().segment("public").build(), List.of("d2"));
    JdbcAuditStore jdbc = (JdbcAuditStore) store;
    for (var c : cases.entrySet()) {
      List<AuditPage> pages = new ArrayList<>(List.of(store.query(c.getKey())));
      if (c.getKey().pathPrefix() != null) {
        pages.add(jdbc.query(c.getKey(), true));
        pages.add(jdbc.query(c.getKey(), false));
      }
      for (AuditPage page : pages) {
        assertThat(ids(page)).as(c.getKey().toString()).containsExactlyElementsOf(c.getValue());
        for (DecisionRecord r : page.records()) {
          assertThat(r)
              .as(c.getKey().toString())
              .isEqualTo(r.getDecisionId().equals("d1") ? d1 : stored.get(r.getDecisionId()));
        }
      }
    }
    // Summaries and timelines count the row's columns: the same as before.
    assertThat(
            store.summary(
                AuditQuery.all(), List.of(SummaryDimension.SEGMENT, SummaryDimension.REASON)))
        .isEqualTo(summary);
    assertThat(store.timeline(range, Duration.ofSeconds(2))).isEqualTo(timeline);
  }

  @Test
  void query_rowsHoldingRecordsNoWriterMakes_areUnreadableEntries() throws SQLException {
    List<DecisionRecord> a = linked(A, 3, ChainHead.GENESIS);
    appendOk(a);
    // Right instance and seq, but a time no timestamp can hold (the JSON printer throws on it), and
    // a record claiming to be an unreadable entry.
    DecisionRecord farFuture =
        a.get(0).toBuilder()
            .setTime(com.google.protobuf.Timestamp.newBuilder().setSeconds(Long.MAX_VALUE / 2))
            .build();
    DecisionRecord marked = a.get(1).toBuilder().setUnreadable(true).build();
    sql(
        "UPDATE audit_record SET record = ? WHERE instance = ? AND seq = 1",
        RecordChain.canonical(farFuture),
        A);
    sql(
        "UPDATE audit_record SET record = ? WHERE instance = ? AND seq = 2",
        RecordChain.canonical(marked),
        A);

    List<DecisionRecord> page = store.query(AuditQuery.all()).records();

    assertThat(page)
        .containsExactly(a.get(2), unreadableEntry(a.get(1)), unreadableEntry(a.get(0)));
    page.forEach(AuditJson::line); // each can be printed
    // The export reads them as unreadable entries too (the JSON printer refuses the time).
    assertThat(store.readChain(A, 0, 10))
        .containsExactly(
            ChainEntry.of(unreadableEntry(a.get(0))),
            ChainEntry.of(unreadableEntry(a.get(1))),
            ChainEntry.of(a.get(2)));
  }

  @Test
  void upperBound_ofAnAsciiPrefix_isTheNextStringAfterAllItsExtensions() {
    assertThat(JdbcAuditStore.upperBound("/v1")).isEqualTo("/v2");
    assertThat(JdbcAuditStore.upperBound("/v1/")).isEqualTo("/v10");
    assertThat(JdbcAuditStore.upperBound("/caf\u00e9")).isNull();
  }

  // ---- summary --------------------------------------------------------------------------------

  @Test
  void summary_countsByRequestedDimensions_largestFirst() {
    storeVariedDecisions();

    List<SummaryRow> bySegmentDecision =
        store.summary(null, null, List.of(SummaryDimension.SEGMENT, SummaryDimension.DECISION));
    assertThat(bySegmentDecision)
        .containsExactly(
            new SummaryRow(Map.of("segment", "partners", "decision", "allow"), 2),
            new SummaryRow(Map.of("segment", "partners", "decision", "deny"), 2),
            new SummaryRow(Map.of("segment", "internal", "decision", "allow"), 1),
            new SummaryRow(Map.of("segment", "public", "decision", "deny"), 1));

    assertThat(
            store.summary(
                T0.plusSeconds(1),
                T0.plusSeconds(5),
                List.of(SummaryDimension.REASON, SummaryDimension.DRY_RUN_REASON)))
        .containsExactly(
            new SummaryRow(Map.of("reason", "", "dry_run_reason", ""), 1),
            new SummaryRow(Map.of("reason", "", "dry_run_reason", "denied_by_rule"), 1),
            new SummaryRow(Map.of("reason", "invalid_token", "dry_run_reason", ""), 1),
            new SummaryRow(Map.of("reason", "rate_limited", "dry_run_reason", ""), 1));

    assertThat(store.summary(null, null, List.of(SummaryDimension.CLIENT)))
        .containsExactly(
            new SummaryRow(Map.of("client", "acme"), 3),
            new SummaryRow(Map.of("client", "globex"), 2),
            new SummaryRow(Map.of("client", ""), 1));
    assertThat(store.summary(null, null, List.of(SummaryDimension.RULE)))
        .containsExactly(
            new SummaryRow(Map.of("rule", ""), 3),
            new SummaryRow(Map.of("rule", "read"), 2),
            new SummaryRow(Map.of("rule", "pay"), 1));
    assertThat(store.summary(null, null, List.of())).containsExactly(new SummaryRow(Map.of(), 6));
  }

  /** Dry-run allows in a dry-run segment and under a dry-run rule, among ordinary decisions. */
  void storeDryRunRollout() {
    RequestAttributes get = RequestAttributes.builder().path("/v1/orders").build();
    Identity tester = Identity.builder(CredentialType.JWT, "tina").build();
    List<DecisionRecord> rs = new ArrayList<>();
    int second = 0;
    for (int i = 0; i < 3; i++) {
      rs.add(
          DecisionRecords.of(
              DecisionFixtures.from(get)
                  .time(T0.plusSeconds(second++))
                  .identity(tester)
                  .segment("beta")
                  .rule("testers")
                  .dryRunAllow(Reason.INSUFFICIENT_PERMISSIONS, "beta"),
              A));
    }
    rs.add(
        DecisionRecords.of(
            DecisionFixtures.from(get)
                .time(T0.plusSeconds(second++))
                .identity(tester)
                .segment("beta")
                .dryRunAllow(Reason.NO_MATCHING_RULE, "beta"),
            A));
    for (int i = 0; i < 2; i++) {
      rs.add(
          DecisionRecords.of(
              DecisionFixtures.from(get)
                  .time(T0.plusSeconds(second++))
                  .identity(tester)
                  .segment("partners")
                  .rule("bulk-export")
                  .dryRunAllow(Reason.RATE_LIMITED, "bulk-export"),
              A));
    }
    rs.add(
        DecisionRecords.of(
            DecisionFixtures.from(get)
                .time(T0.plusSeconds(second++))
                .segment("partners")
                .rule("read")
                .allow(),
            A));
    rs.add(
        DecisionRecords.of(
            DecisionFixtures.from(get)
                .time(T0.plusSeconds(second))
                .segment("partners")
                .deny(Reason.INSUFFICIENT_PERMISSIONS, "role missing"),
            A));
    appendOk(link(rs, ChainHead.GENESIS));
  }

  @Test
  void summary_withDryRunFilter_reportsWouldBeDeniesByReasonSegmentAndWaivingRule() {
    storeDryRunRollout();

    List<SummaryRow> report =
        store.summary(
            AuditQuery.builder().dryRunOnly().build(),
            List.of(
                SummaryDimension.DRY_RUN_REASON,
                SummaryDimension.SEGMENT,
                SummaryDimension.DRY_RUN_RULE));

    assertThat(report)
        .containsExactly(
            new SummaryRow(
                Map.of(
                    "dry_run_reason",
                    "insufficient_permissions",
                    "segment",
                    "beta",
                    "dry_run_rule",
                    "beta"),
                3),
            new SummaryRow(
                Map.of(
                    "dry_run_reason",
                    "rate_limited",
                    "segment",
                    "partners",
                    "dry_run_rule",
                    "bulk-export"),
                2),
            new SummaryRow(
                Map.of(
                    "dry_run_reason",
                    "no_matching_rule",
                    "segment",
                    "beta",
                    "dry_run_rule",
                    "beta"),
                1));
  }

  @Test
  void summary_withFilters_countsOnlyMatchingRecords_andKeepsTheLargestGroupsUpToTheLimit() {
    storeVariedDecisions();

    assertThat(
            store.summary(
                AuditQuery.builder().decision("deny").build(), List.of(SummaryDimension.REASON)))
        .containsExactly(
            new SummaryRow(Map.of("reason", "rate_limited"), 2),
            new SummaryRow(Map.of("reason", "invalid_token"), 1));
    assertThat(
            store.summary(
                AuditQuery.builder().pathPrefix("/v2/").principal("alice").build(), List.of()))
        .containsExactly(new SummaryRow(Map.of(), 2));
    assertThat(
            store.summary(
                AuditQuery.builder().limit(2).build(),
                List.of(SummaryDimension.PRINCIPAL, SummaryDimension.SOURCE_IP)))
        .containsExactly(
            new SummaryRow(Map.of("principal", "alice", "source_ip", "10.0.0.2"), 2),
            new SummaryRow(Map.of("principal", "key-bob", "source_ip", "10.0.0.1"), 2));
  }

  // ---- timeline -------------------------------------------------------------------------------

  @Test
  void timeline_countsAllowsDeniesAndDryRunsPerBucket_includingEmptyBuckets() {
    storeVariedDecisions(); // d0..d5 at T0+0..5 s: allow, deny, deny, dry-run allow, allow, deny

    List<TimelineBucket> t =
        store.timeline(
            AuditQuery.builder().since(T0).until(T0.plusSeconds(8)).build(), Duration.ofSeconds(2));

    assertThat(t)
        .containsExactly(
            new TimelineBucket(T0, 1, 1, 0),
            new TimelineBucket(T0.plusSeconds(2), 1, 1, 1),
            new TimelineBucket(T0.plusSeconds(4), 1, 1, 0),
            new TimelineBucket(T0.plusSeconds(6), 0, 0, 0));
  }

  @Test
  void timeline_appliesFilters_andIgnoresRecordsOutsideTheRange() {
    storeVariedDecisions();

    List<TimelineBucket> t =
        store.timeline(
            AuditQuery.builder()
                .segment("partners")
                .since(T0.plusSeconds(1))
                .until(T0.plusSeconds(5))
                .build(),
            Duration.ofSeconds(3));

    // partners: d1 deny (1 s), d4 allow (4 s); d0 (0 s) and d5 (5 s) are outside the range.
    assertThat(t)
        .containsExactly(
            new TimelineBucket(T0.plusSeconds(1), 0, 1, 0),
            new TimelineBucket(T0.plusSeconds(4), 1, 0, 0));
  }

  @Test
  void timeline_withoutARangeOrWithTooManyBuckets_isRejected() {
    org.assertj.core.api.Assertions.assertThatThrownBy(
            () -> store.timeline(AuditQuery.all(), Duration.ofMinutes(1)))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("since and until");
    org.assertj.core.api.Assertions.assertThatThrownBy(
            () ->
                store.timeline(
                    AuditQuery.builder().since(T0).until(T0.plus(Duration.ofDays(30))).build(),
                    Duration.ofSeconds(1)))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("buckets");
  }

  // ---- verify ---------------------------------------------------------------------------------

  @Test
  void verify_dryRunRuleColumnEdited_reportsThatRecord() throws SQLException {
    storeDryRunRollout();
    sql("UPDATE audit_record SET dry_run_rule = 'other' WHERE dry_run_rule = 'bulk-export'");

    ChainVerification.Broken b = (ChainVerification.Broken) store.verify();

    assertThat(b.seq()).isEqualTo(5);
    assertThat(b.detail()).contains("column dry_run_rule was altered");
  }

  @Test
  void verify_aRecordClaimingToBeUnreadable_isReportedEvenWithMatchingHashes() {
    // A forger who recomputes the chain: queries and export show these rows as unreadable, so
    // verify must name them too.
    DecisionRecord marked = record(A, A + "-1", T0).toBuilder().setUnreadable(true).build();
    appendOk(link(List.of(marked), ChainHead.GENESIS));

    ChainVerification.Broken b = (ChainVerification.Broken) store.verify();
    assertThat(b.seq()).isEqualTo(1);
    assertThat(b.detail()).contains("claims to be an unreadable entry");
  }

  @Test
  void verify_aRecordWithAnInvalidTime_isReportedEvenWithMatchingHashes() {
    DecisionRecord r = record(B, B + "-1", T0);
    DecisionRecord badNanos =
        r.toBuilder().setTime(r.getTime().toBuilder().setNanos(1_000_000_000)).build();
    appendOk(link(List.of(badNanos), ChainHead.GENESIS));

    ChainVerification.Broken t = (ChainVerification.Broken) store.verify();
    assertThat(t.instance()).isEqualTo(B);
    assertThat(t.detail()).contains("time is not a valid timestamp");
  }

  @Test
  void verify_untouchedChainsOfTwoInstances_areIntact() {
    appendOk(linked(A, 5, ChainHead.GENESIS));
    appendOk(linked(B, 3, ChainHead.GENESIS));
    assertThat(store.verify()).isEqualTo(new ChainVerification.Intact(8));
    assertThat(store.verify().toProto().getOk()).isTrue();
  }

  @Test
  void verify_recordsWithAndWithoutALimit_areIntact_andPrintRemainingWhenALimitApplied() {
    RequestAttributes req = RequestAttributes.builder().path("/v1/orders").build();
    appendOk(
        link(
            List.of(
                DecisionRecords.of(
                    DecisionFixtures.from(req)
                        .decisionId("last-admitted")
                        .time(T0)
                        .limit(DecisionFixtures.limit("per-ip", 0))
                        .allow(),
                    A),
                DecisionRecords.of(
                    DecisionFixtures.from(req)
                        .decisionId("refused")
                        .time(T0.plusSeconds(1))
                        .limit(DecisionFixtures.limit("per-ip", 0))
                        .deny(Reason.RATE_LIMITED, "limit 'per-ip' exhausted"),
                    A),
                DecisionRecords.of(
                    DecisionFixtures.from(req)
                        .decisionId("unlimited")
                        .time(T0.plusSeconds(2))
                        .allow(),
                    A)),
            ChainHead.GENESIS));

    assertThat(store.verify()).isEqualTo(new ChainVerification.Intact(3));
    Map<String, String> json = new HashMap<>();
    for (DecisionRecord r : store.query(AuditQuery.builder().build()).records()) {
      json.put(r.getDecisionId(), AuditJson.line(r));
    }
    assertThat(json.get("last-admitted")).contains("\"limit\":\"per-ip\",\"remaining\":\"0\"");
    assertThat(json.get("refused")).contains("\"limit\":\"per-ip\",\"remaining\":\"0\"");
    assertThat(json.get("unlimited")).doesNotContain("remaining");
  }

  @Test
  void verify_columnEditedWithSql_reportsThatRecord() throws SQLException {
    appendOk(linked(A, 5, ChainHead.GENESIS));
    sql("UPDATE audit_record SET decision = 'deny' WHERE decision_id = 'instance-a-3'");

    ChainVerification v = store.verify();

    assertThat(v).isInstanceOf(ChainVerification.Broken.class);
    ChainVerification.Broken b = (ChainVerification.Broken) v;
    assertThat(b.decisionId()).isEqualTo("instance-a-3");
    assertThat(b.seq()).isEqualTo(3);
    assertThat(b.checked()).isEqualTo(2);
    assertThat(b.detail()).contains("column decision was altered");
    assertThat(v.toProto().getFirstBroken()).isEqualTo("instance-a-3");
  }

  @Test
  void verify_recordAndColumnsEditedConsistently_reportsHashMismatch() throws SQLException {
    List<DecisionRecord> rs = linked(A, 5, ChainHead.GENESIS);
    appendOk(rs);
    DecisionRecord edited = rs.get(3).toBuilder().setDecision("deny").setStatus(403).build();
    sql(
        "UPDATE audit_record SET decision = 'deny', record = ? WHERE seq = 4",
        RecordChain.canonical(edited));

    ChainVerification.Broken b = (ChainVerification.Broken) store.verify();

    assertThat(b.decisionId()).isEqualTo("instance-a-4");
    assertThat(b.detail()).contains("hash does not match");
  }

  @Test
  void verify_rowDeleted_reportsTheNextRecord() throws SQLException {
    appendOk(linked(A, 5, ChainHead.GENESIS));
    sql("DELETE FROM audit_record WHERE decision_id = 'instance-a-3'");

    ChainVerification.Broken b = (ChainVerification.Broken) store.verify();

    assertThat(b.decisionId()).isEqualTo("instance-a-4");
    assertThat(b.detail()).contains("seq 3 is missing");
  }

  @Test
  void verify_firstRowDeleted_reportsTheSecond() throws SQLException {
    appendOk(linked(A, 3, ChainHead.GENESIS));
    sql("DELETE FROM audit_record WHERE seq = 1");

    ChainVerification.Broken b = (ChainVerification.Broken) store.verify();

    assertThat(b.decisionId()).isEqualTo("instance-a-2");
  }

  @Test
  void verify_rowsReordered_reportsTheFirstMovedRecord() throws SQLException {
    appendOk(linked(A, 5, ChainHead.GENESIS));
    sql("UPDATE audit_record SET seq = -1 WHERE seq = 2");
    sql("UPDATE audit_record SET seq = 2 WHERE seq = 3");
    sql("UPDATE audit_record SET seq = 3 WHERE seq = -1");

    ChainVerification.Broken b = (ChainVerification.Broken) store.verify();

    assertThat(b.seq()).isEqualTo(2);
    assertThat(b.decisionId()).isEqualTo("instance-a-3");
    assertThat(b.detail()).contains("column seq was altered");
  }

  @Test
  void verify_lastRowsDeleted_reportsTheTruncatedTail() throws SQLException {
    appendOk(linked(A, 5, ChainHead.GENESIS));
    sql("DELETE FROM audit_record WHERE seq >= 4");

    ChainVerification.Broken b = (ChainVerification.Broken) store.verify();

    assertThat(b.decisionId()).isEqualTo("instance-a-3");
    assertThat(b.detail()).contains("records seq 4..5 are missing").contains("end of the chain");
  }

  @Test
  void verify_recordsInsertedWithoutAChain_areReported() throws SQLException {
    appendOk(linked(A, 2, ChainHead.GENESIS));
    sql("DELETE FROM audit_chain");

    ChainVerification.Broken b = (ChainVerification.Broken) store.verify();

    assertThat(b.decisionId()).isEqualTo("instance-a-1");
    assertThat(b.detail()).contains("chain head row is gone");
  }

  /**
   * Inserts with plain SQL a copy of the row at {@code copiedSeq} as record {@code seq} with
   * decision id {@code decisionId}: a forged row, as someone with write access to the database
   * would add it.
   */
  void insertForgedRow(long copiedSeq, long seq, String decisionId) throws SQLException {
    sql(
        "INSERT INTO audit_record (instance, seq, decision_id, time_us, decision, reason,"
            + " dry_run_reason, dry_run_rule, segment, rule, principal, client, source_ip, path,"
            + " prev_hash, hash, record) SELECT instance, ?, ?, time_us, decision, reason,"
            + " dry_run_reason, dry_run_rule, segment, rule, principal, client, source_ip, path,"
            + " prev_hash, hash, record FROM audit_record WHERE instance = ? AND seq = ?",
        seq,
        decisionId,
        A,
        copiedSeq);
  }

  @Test
  void verify_rowInsertedAfterTheChainHead_isReported() throws SQLException {
    appendOk(linked(A, 3, ChainHead.GENESIS));
    insertForgedRow(3, 9, "forged");
    assertThat(store.query(AuditQuery.all()).records()).hasSize(4); // readers are shown it

    ChainVerification.Broken b = (ChainVerification.Broken) store.verify();

    assertThat(b.seq()).isEqualTo(9);
    assertThat(b.decisionId()).isEqualTo("forged");
    assertThat(b.checked()).isEqualTo(3);
    assertThat(b.detail()).contains("record seq 9 lies after the chain head (seq 3)");
  }

  @Test
  void verify_rowInsertedAtOrBeforeTheAnchor_isReported() throws SQLException {
    appendOk(linked(A, 6, ChainHead.GENESIS));
    store.deleteBefore(T0.plus(Duration.ofMinutes(2)), 10); // anchor at seq 2
    insertForgedRow(4, 1, "forged-old");
    insertForgedRow(4, -5, "forged-negative");

    ChainVerification.Broken b = (ChainVerification.Broken) store.verify();

    assertThat(b.seq()).isEqualTo(-5);
    assertThat(b.decisionId()).isEqualTo("forged-negative");
    assertThat(b.detail()).contains("record seq -5 lies at or before the chain anchor (seq 2)");
  }

  // ---- reading chains in order (export) --------------------------------------------------------

  static List<Long> seqs(List<ChainEntry> entries) {
    return entries.stream().map(ChainEntry::seq).toList();
  }

  /** The records of {@code entries}, each checked to be readable and to carry its columns. */
  static List<DecisionRecord> records(List<ChainEntry> entries) {
    for (ChainEntry e : entries) {
      assertThat(e.readable()).as("seq " + e.seq()).isTrue();
      assertThat(ChainEntry.of(e.record())).isEqualTo(e);
    }
    return entries.stream().map(ChainEntry::record).toList();
  }

  static ChainHead at(DecisionRecord r) {
    return new ChainHead(r.getSeq(), r.getHash());
  }

  @Test
  void chains_nameEachInstancesAnchorAndHead_withTheirHashes_inInstanceOrder() {
    assertThat(store.chains()).isEmpty();
    List<DecisionRecord> b = linked(B, 3, ChainHead.GENESIS);
    appendOk(b);
    List<DecisionRecord> a = linked(A, 6, ChainHead.GENESIS); // T0 + 0..5 min
    appendOk(a);

    assertThat(store.chains())
        .containsExactly(
            new ChainPosition(A, ChainHead.GENESIS, at(a.get(5))),
            new ChainPosition(B, ChainHead.GENESIS, at(b.get(2))));

    store.deleteBefore(T0.plus(Duration.ofMinutes(3)), 10); // A: seq 1..3, B: all three
    assertThat(store.chains())
        .containsExactly(
            new ChainPosition(A, at(a.get(2)), at(a.get(5))),
            new ChainPosition(B, at(b.get(2)), at(b.get(2))));
    assertThat(store.chains().get(0).anchorSeq()).isEqualTo(3);
    assertThat(store.chains().get(0).headSeq()).isEqualTo(6);
  }

  @Test
  void readChain_returnsTheRecordsAfterSeqInSeqOrder_withTheirChainFields_pageByPage() {
    List<DecisionRecord> rs = new ArrayList<>();
    for (int i = 0; i < 7; i++) {
      // Times out of seq order: the chain's order is seq, not time.
      rs.add(record(A, "a-" + (i + 1), T0.plusSeconds(i % 2 == 0 ? 600 - i : i)));
    }
    List<DecisionRecord> a = link(rs, ChainHead.GENESIS);
    appendOk(a.subList(0, 4));
    appendOk(linked(B, 2, ChainHead.GENESIS));
    appendOk(a.subList(4, 7));

    assertThat(records(store.readChain(A, 0, 3))).containsExactlyElementsOf(a.subList(0, 3));
    assertThat(records(store.readChain(A, 3, 3))).containsExactlyElementsOf(a.subList(3, 6));
    assertThat(records(store.readChain(A, 6, 3))).containsExactly(a.get(6));
    assertThat(store.readChain(A, 7, 3)).isEmpty();
    assertThat(store.readChain(A, 3, 3).get(0).prevHash()).isEqualTo(a.get(2).getHash());
    assertThat(seqs(store.readChain(B, 0, 100))).containsExactly(1L, 2L);
    assertThat(store.readChain("instance-unknown", 0, 100)).isEmpty();
  }

  @Test
  void readChain_acrossARetentionDeletion_continuesWithTheOldestStoredRecord() {
    List<DecisionRecord> a = linked(A, 6, ChainHead.GENESIS); // T0 + 0..5 min
    appendOk(a);
    assertThat(seqs(store.readChain(A, 0, 2))).containsExactly(1L, 2L);

    store.deleteBefore(T0.plus(Duration.ofMinutes(3)), 10); // seq 1..3; the anchor is at 3

    // A reader that had read up to seq 2 sees the jump to 4: seq 3 was deleted before it read it.
    assertThat(records(store.readChain(A, 2, 10))).containsExactlyElementsOf(a.subList(3, 6));
    assertThat(seqs(store.readChain(A, 0, 2))).containsExactly(4L, 5L);
    assertThat(seqs(store.readChain(A, 4, 10))).containsExactly(5L, 6L);
    assertThat(store.chains()).containsExactly(new ChainPosition(A, at(a.get(2)), at(a.get(5))));

    // Appends after retention follow on.
    List<DecisionRecord> more = linked(A, 2, store.head(A));
    appendOk(more);
    assertThat(records(store.readChain(A, 6, 10))).containsExactlyElementsOf(more);
  }

  @Test
  void readChain_leavesOutRowsOutsideTheChain() throws SQLException {
    appendOk(linked(A, 4, ChainHead.GENESIS));
    store.deleteBefore(T0.plus(Duration.ofMinutes(1)), 10); // seq 1; the anchor is at 1
    insertForgedRow(3, 9, "forged-after-head");
    insertForgedRow(3, 1, "forged-at-anchor");
    insertForgedRow(3, -2, "forged-negative");

    assertThat(seqs(store.readChain(A, -10, 100))).containsExactly(2L, 3L, 4L);
    assertThat(seqs(store.readChain(A, 4, 100))).isEmpty();
  }

  /**
   * A row whose record cannot be read is, in a chain read (the export), the entry a query returns
   * for it: the row's instance, seq, decision id, time (when it can be one) and hashes. It used to
   * be an entry without a record, and the export's line for it lacked decision_id and time.
   */
  @Test
  void readChain_rowWhoseRecordCannotBeRead_isTheUnreadableEntryOfAQuery_betweenTheOthers()
      throws SQLException {
    List<DecisionRecord> a = linked(A, 5, ChainHead.GENESIS);
    appendOk(a);
    sql("UPDATE audit_record SET record = ? WHERE instance = ? AND seq = 3", TRUNCATED, A);
    // and a time_us no timestamp can hold: the entry has no time
    sql(
        "UPDATE audit_record SET record = ?, time_us = ? WHERE instance = ? AND seq = 4",
        TRUNCATED,
        Long.MAX_VALUE,
        A);

    List<ChainEntry> entries = store.readChain(A, 0, 10);

    assertThat(seqs(entries)).containsExactly(1L, 2L, 3L, 4L, 5L);
    DecisionRecord third = unreadableEntry(a.get(2));
    DecisionRecord fourth = unreadableEntry(a.get(3)).toBuilder().clearTime().build();
    assertThat(entries.get(2)).isEqualTo(ChainEntry.of(third));
    assertThat(entries.get(3)).isEqualTo(ChainEntry.of(fourth));
    assertThat(entries.get(2).readable()).isFalse();
    assertThat(entries.get(3).readable()).isFalse();
    assertThat(store.query(AuditQuery.all()).records()).contains(third, fourth);
    assertThat(records(entries.subList(0, 2))).containsExactlyElementsOf(a.subList(0, 2));
    assertThat(records(entries.subList(4, 5))).containsExactlyElementsOf(a.subList(4, 5));
  }

  @Test
  void readChain_isServedByTheChainIndexWithoutSorting() throws SQLException {
    appendOk(linked(A, 20, ChainHead.GENESIS));
    appendOk(linked(B, 20, ChainHead.GENESIS));
    String plan = String.join("\n", explain(((JdbcAuditStore) store).readChainSql(A, 5, 10)));

    assertThat(plan).as(plan).containsAnyOf("audit_record_chain", "sqlite_autoindex_audit_record");
    assertThat(plan.toLowerCase()).as(plan).doesNotContain("sort").doesNotContain("temp b-tree");
  }

  @Test
  void firstSeqAtOrAfter_isTheFirstRecordInSeqOrderStampedFromThatTime() {
    List<DecisionRecord> rs = new ArrayList<>();
    rs.add(record(A, "old", T0));
    rs.add(record(A, "ahead", T0.plusSeconds(3600))); // written while the clock was ahead
    rs.add(record(A, "back", T0.plusSeconds(60)));
    rs.add(record(A, "later", T0.plusSeconds(120)));
    appendOk(link(rs, ChainHead.GENESIS));
    appendOk(linked(B, 1, ChainHead.GENESIS));

    assertThat(store.firstSeqAtOrAfter(A, T0)).isEqualTo(1L);
    assertThat(store.firstSeqAtOrAfter(A, T0.plusSeconds(90))).isEqualTo(2L);
    assertThat(store.firstSeqAtOrAfter(A, T0.plusSeconds(3600))).isEqualTo(2L);
    assertThat(store.firstSeqAtOrAfter(A, T0.plusSeconds(3601))).isNull();
    assertThat(store.firstSeqAtOrAfter("instance-unknown", T0)).isNull();

    store.deleteBefore(T0.plusSeconds(1), 10); // seq 1
    assertThat(store.firstSeqAtOrAfter(A, T0)).isEqualTo(2L);
  }

  // ---- retention ------------------------------------------------------------------------------

  @Test
  void deleteBefore_removesOldPrefixInBatches_andTheRestStillVerifies() {
    appendOk(linked(A, 10, ChainHead.GENESIS)); // T0 + 0..9 min
    appendOk(linked(B, 3, ChainHead.GENESIS)); // T0 + 0..2 min

    long deleted = store.deleteBefore(T0.plus(Duration.ofMinutes(5)), 2);

    assertThat(deleted).isEqualTo(5 + 3);
    assertThat(ids(store.query(AuditQuery.all())))
        .containsExactly(
            "instance-a-10", "instance-a-9", "instance-a-8", "instance-a-7", "instance-a-6");
    assertThat(store.verify()).isEqualTo(new ChainVerification.Intact(5));
    assertThat(store.head(B).seq()).isEqualTo(3);

    // Both chains continue after retention, B from an empty table.
    appendOk(linked(A, 2, store.head(A)));
    appendOk(linked(B, 1, store.head(B)));
    assertThat(store.verify()).isEqualTo(new ChainVerification.Intact(8));
  }

  @Test
  void deleteBefore_stopsAtTheFirstRecentRecord_soTheChainStaysContiguous() {
    List<DecisionRecord> rs = new ArrayList<>();
    rs.add(record(A, "old-1", T0));
    rs.add(record(A, "recent", T0.plusSeconds(3600)));
    rs.add(record(A, "old-2", T0.plusSeconds(1))); // written later with an earlier time
    appendOk(link(rs, ChainHead.GENESIS));

    assertThat(store.deleteBefore(T0.plusSeconds(60), 100)).isEqualTo(1);

    assertThat(ids(store.query(AuditQuery.all()))).containsExactly("recent", "old-2");
    assertThat(store.verify()).isEqualTo(new ChainVerification.Intact(2));
  }

  @Test
  void retentionStall_expiredRecordsBehindOneStampedAfterTheCutoff_isReportedUntilItsTimePasses() {
    Instant future = T0.plus(Duration.ofDays(3 * 365)); // written while the clock was years ahead
    List<DecisionRecord> rs = new ArrayList<>();
    rs.add(record(A, "old-1", T0));
    rs.add(record(A, "future", future));
    rs.add(record(A, "old-2", T0.plusSeconds(1)));
    rs.add(record(A, "old-3", T0.plusSeconds(2)));
    appendOk(link(rs, ChainHead.GENESIS));
    appendOk(linked(B, 3, ChainHead.GENESIS)); // T0 + 0..2 min: expired, and deleted
    Instant cutoff = T0.plus(Duration.ofHours(1));
    assertThat(store.retentionStall(cutoff)).as("before a run, nothing is blocked yet").isNull();

    assertThat(store.deleteBefore(cutoff, 100)).isEqualTo(1 + 3);

    assertThat(store.retentionStall(cutoff)).isEqualTo(new RetentionStall(A, 2, future, 3));
    assertThat(store.verify()).isEqualTo(new ChainVerification.Intact(3));
    Instant later = future.plusSeconds(1);
    assertThat(store.deleteBefore(later, 100)).isEqualTo(3);
    assertThat(store.retentionStall(later)).isNull();
  }

  @Test
  void retentionStall_afterARunThatDeletedEverythingExpired_isNull() {
    appendOk(linked(A, 10, ChainHead.GENESIS));
    Instant cutoff = T0.plus(Duration.ofMinutes(5));

    store.deleteBefore(cutoff, 3);

    assertThat(store.retentionStall(cutoff)).isNull();
  }

  @Test
  void deleteBefore_thenDeletingARowBehindTheAnchor_isStillDetected() throws SQLException {
    appendOk(linked(A, 6, ChainHead.GENESIS));
    store.deleteBefore(T0.plus(Duration.ofMinutes(2)), 10);
    sql("DELETE FROM audit_record WHERE seq = 3");

    ChainVerification.Broken b = (ChainVerification.Broken) store.verify();

    assertThat(b.decisionId()).isEqualTo("instance-a-4");
  }
}
