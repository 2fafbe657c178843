package io.portcullis.loadtest;

import io.portcullis.audit.AuditQuery;
import io.portcullis.audit.AuditStore;
import io.portcullis.audit.ChainHead;
import io.portcullis.audit.DecisionRecords;
import io.portcullis.audit.RecordChain;
import io.portcullis.audit.SqliteAuditStore;
import io.portcullis.audit.SummaryDimension;
import io.portcullis.proto.v1.DecisionRecord;
import io.portcullis.store.Database;
import io.portcullis.store.DatabaseKind;
import io.portcullis.store.StoreSettings;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Supplier;

/**
 * Audit query latency on a large log: fills the store to {@code --records} (default 10 million)
 * decision records spread over 30 days ({@link AuditBenchData}'s mix), then times the first page
 * (100 records) of filtered queries: by segment, principal, deny reason, path prefix, dry-run,
 * client and source address. Goal: under 100 ms each.
 *
 * <p>The fill ({@link #fill}) writes the rows the writer would write (same columns and bytes, a
 * valid hash chain) with direct JDBC and builds the indexes afterwards. An existing store that
 * already holds enough records is reused, so the fill runs once. {@code --tail N} (SQLite) leaves
 * the newest N records out of the key tables, as they are just before a fill: the worst case of a
 * key-filtered query, which scans that tail.
 *
 * <pre>
 * ./mvnw -q -B -Pbench -DskipTests package -pl loadtest -am
 * java --enable-native-access=ALL-UNNAMED -Xmx2g -cp loadtest/target/benchmarks.jar \
 *     io.portcullis.loadtest.AuditQueryBench --url jdbc:sqlite:/tmp/audit-bench.db --records 10000000
 * </pre>
 */
public final class AuditQueryBench {
  private static final int BATCH = 50_000;

  /** Records per generation of the SQLite key tables, as {@code SqliteAuditStore.INDEX_TAIL}. */
  private static final int INDEX_TAIL = 50_000;

  private static final Duration SPAN = Duration.ofDays(30);
  private static final Instant END = Instant.parse("2026-11-22T00:00:00Z");

  private AuditQueryBench() {}

  public static void main(String[] args) throws SQLException {
    String url = "jdbc:sqlite:/tmp/audit-bench.db";
    long records = 10_000_000;
    long tail = 0;
    int runs = 7;
    for (int i = 0; i < args.length; i++) {
      switch (args[i]) {
        case "--url" -> url = args[++i];
        case "--records" -> records = Long.parseLong(args[++i]);
        case "--runs" -> runs = Integer.parseInt(args[++i]);
        case "--tail" -> tail = Long.parseLong(args[++i]);
        default -> throw new IllegalArgumentException("unknown argument " + args[i]);
      }
    }
    try (Database db = Database.open(StoreSettings.of(url).withMaxPoolSize(4))) {
      AuditStore store = AuditStore.of(db);
      fill(db, store, records, tail);
      time(store, runs);
    }
  }

  /**
   * Fills the store to {@code target} records of one chain. Through {@link AuditStore#append} this
   * runs at the writer's speed (hours for 10 million on a busy 2-core machine), so the rows are
   * inserted with plain JDBC exactly as {@code JdbcAuditStore} writes them (same columns, canonical
   * record bytes, linked hashes) while the table's secondary indexes are dropped, and the indexes
   * are then rebuilt from the migration's own definitions, and the chain head row is set: the
   * result is the schema and content the writer would have produced.
   */
  static void fill(Database db, AuditStore store, long target, long tail) throws SQLException {
    ChainHead head = store.head("bench-1");
    if (head.seq() >= target) {
      System.out.printf("store holds %,d records already%n", head.seq());
      return;
    }
    if (head.seq() > 0) {
      throw new IllegalStateException("a partly filled store: delete it and start again");
    }
    AuditBenchData data = new AuditBenchData(42);
    long stepNanos = SPAN.toNanos() / target;
    Instant start = END.minus(SPAN);
    long began = System.nanoTime();
    try (Connection c = db.connection()) {
      List<String> indexes = dropIndexes(c, db.kind());
      c.setAutoCommit(false);
      try (PreparedStatement insert = c.prepareStatement(INSERT)) {
        for (long i = 0; i < target; i++) {
          DecisionRecord r =
              RecordChain.link(
                  DecisionRecords.of(data.next(start.plusNanos(i * stepNanos)), "bench-1"), head);
          head = new ChainHead(r.getSeq(), r.getHash());
          bind(insert, r);
          insert.addBatch();
          if ((i + 1) % BATCH == 0 || i == target - 1) {
            insert.executeBatch();
            c.commit();
            if ((i + 1) % 1_000_000 == 0 || i == target - 1) {
              double secs = (System.nanoTime() - began) / 1e9;
              System.out.printf(
                  "inserted %,d records (%.0f s, %,.0f records/s)%n", i + 1, secs, (i + 1) / secs);
            }
          }
        }
      }
      try (PreparedStatement chain =
          c.prepareStatement(
              "INSERT INTO audit_chain (instance, head_seq, head_hash, anchor_seq, anchor_hash)"
                  + " VALUES ('bench-1', ?, ?, 0, '')")) {
        chain.setLong(1, head.seq());
        chain.setString(2, head.hash());
        chain.executeUpdate();
      }
      c.commit();
      c.setAutoCommit(true);
      if (db.kind() == DatabaseKind.POSTGRESQL) {
        try (Statement s = c.createStatement()) {
          s.execute("SET maintenance_work_mem = '1GB'"); // index builds sort in memory
        }
      }
      for (String ddl : indexes) {
        long t0 = System.nanoTime();
        try (Statement s = c.createStatement()) {
          s.execute(ddl);
        }
        System.out.printf("%s (%.0f s)%n", ddl, (System.nanoTime() - t0) / 1e9);
      }
      if (db.kind() == DatabaseKind.SQLITE) {
        // What SqliteAuditStore.indexTail does after appends: one generation of the key tables
        // per INDEX_TAIL records, each filled in key order.
        long t0 = System.nanoTime();
        long generations = 0;
        long indexed = Math.max(0, target - tail);
        for (long from = 0; from < indexed; from += INDEX_TAIL) {
          long to = Math.min(indexed, from + INDEX_TAIL);
          SqliteAuditStore.writeGeneration(c, from, to);
          generations++;
        }
        try (Statement s = c.createStatement()) {
          s.execute("UPDATE audit_key_mark SET indexed_to = " + indexed);
        }
        System.out.printf(
            "key tables: %,d generations (%.0f s)%n", generations, (System.nanoTime() - t0) / 1e9);
      }
      try (Statement s = c.createStatement()) {
        // PostgreSQL: VACUUM also sets the visibility map, as autovacuum does for an insert-only
        // table in service, so index-only scans need not visit the heap.
        s.execute(db.kind() == DatabaseKind.POSTGRESQL ? "VACUUM ANALYZE audit_record" : "ANALYZE");
      }
    }
    System.out.printf("filled in %.0f s%n", (System.nanoTime() - began) / 1e9);
  }

  private static final String INSERT =
      "INSERT INTO audit_record (instance, seq, decision_id, time_us, decision, reason,"
          + " dry_run_reason, dry_run_rule, segment, rule, principal, client, source_ip, path,"
          + " prev_hash, hash, record) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)";

  private static void bind(PreparedStatement ps, DecisionRecord r) throws SQLException {
    ps.setString(1, r.getInstance());
    ps.setLong(2, r.getSeq());
    ps.setString(3, r.getDecisionId());
    ps.setLong(4, DecisionRecords.timeMicros(r));
    ps.setString(5, r.getDecision());
    ps.setString(6, r.getReason());
    ps.setString(7, r.getDryRunReason());
    ps.setString(8, r.getDryRunRule());
    ps.setString(9, r.getSegment());
    ps.setString(10, r.getRule());
    ps.setString(11, r.getPrincipal());
    ps.setString(12, r.getClient());
    ps.setString(13, r.getSourceIp());
    ps.setString(14, r.getPath());
    ps.setString(15, r.getPrevHash());
    ps.setString(16, r.getHash());
    ps.setBytes(17, RecordChain.canonical(r));
  }

  /** Drops the secondary indexes of audit_record and returns the statements that recreate them. */
  private static List<String> dropIndexes(Connection c, DatabaseKind kind) throws SQLException {
    List<String> names = new ArrayList<>();
    List<String> ddl = new ArrayList<>();
    String sql =
        kind == DatabaseKind.SQLITE
            ? "SELECT name, sql FROM sqlite_master WHERE type = 'index'"
                + " AND tbl_name = 'audit_record' AND sql IS NOT NULL"
            : "SELECT indexname, indexdef FROM pg_indexes WHERE tablename = 'audit_record'"
                + " AND indexname LIKE 'audit_record_%' AND indexname <> 'audit_record_chain'"
                + " AND indexname <> 'audit_record_pkey'";
    try (Statement s = c.createStatement();
        ResultSet rs = s.executeQuery(sql)) {
      while (rs.next()) {
        names.add(rs.getString(1));
        ddl.add(rs.getString(2));
      }
    }
    try (Statement s = c.createStatement()) {
      for (String name : names) {
        s.execute("DROP INDEX " + name);
      }
    }
    return ddl;
  }

  static void time(AuditStore store, int runs) {
    Instant now = END;
    Map<String, Supplier<Object>> cases = new LinkedHashMap<>();
    cases.put("no filter", () -> store.query(AuditQuery.all()));
    cases.put(
        "segment=segment-e (4 %)",
        () -> store.query(AuditQuery.builder().segment("segment-e").build()));
    cases.put(
        "segment=segment-t (0.1 %)",
        () -> store.query(AuditQuery.builder().segment("segment-t").build()));
    cases.put(
        "principal=user-0 (most active)",
        () -> store.query(AuditQuery.builder().principal("user-0").build()));
    cases.put(
        "principal=user-77777 (rare)",
        () -> store.query(AuditQuery.builder().principal("user-77777").build()));
    cases.put(
        "decision=deny&reason=invalid_token (5 %)",
        () -> store.query(AuditQuery.builder().decision("deny").reason("invalid_token").build()));
    cases.put(
        "decision=deny&reason=ip_denied (0.5 %)",
        () -> store.query(AuditQuery.builder().decision("deny").reason("ip_denied").build()));
    cases.put(
        "path_prefix=/v1 (82 %)",
        () -> store.query(AuditQuery.builder().pathPrefix("/v1").build()));
    cases.put(
        "path_prefix=/v2/pay (8 %)",
        () -> store.query(AuditQuery.builder().pathPrefix("/v2/pay").build()));
    cases.put(
        "path_prefix=/internal (0.5 %)",
        () -> store.query(AuditQuery.builder().pathPrefix("/internal").build()));
    cases.put(
        "path_prefix=/nothing (0 %)",
        () -> store.query(AuditQuery.builder().pathPrefix("/nothing").build()));
    cases.put("dry_run=true (2 %)", () -> store.query(AuditQuery.builder().dryRunOnly().build()));
    cases.put(
        "client=client-42", () -> store.query(AuditQuery.builder().client("client-42").build()));
    cases.put(
        "client=client-42&decision=deny",
        () -> store.query(AuditQuery.builder().client("client-42").decision("deny").build()));
    cases.put(
        "source_ip=10.3.4.7", () -> store.query(AuditQuery.builder().sourceIp("10.3.4.7").build()));
    cases.put(
        "principal=user-77777&since=1h (none)",
        () ->
            store.query(
                AuditQuery.builder()
                    .principal("user-77777")
                    .since(now.minus(Duration.ofHours(1)))
                    .build()));
    cases.put(
        "segment=segment-e&since=1h",
        () ->
            store.query(
                AuditQuery.builder()
                    .segment("segment-e")
                    .since(now.minus(Duration.ofHours(1)))
                    .build()));
    cases.put(
        "segment=segment-e&path_prefix=/v2",
        () -> store.query(AuditQuery.builder().segment("segment-e").pathPrefix("/v2").build()));
    cases.put(
        "summary reason, deny, last 24 h",
        () ->
            store.summary(
                AuditQuery.builder().decision("deny").since(now.minus(Duration.ofDays(1))).build(),
                List.of(SummaryDimension.REASON)));
    cases.put(
        "summary reason, client=client-42, last 24 h",
        () ->
            store.summary(
                AuditQuery.builder()
                    .client("client-42")
                    .since(now.minus(Duration.ofDays(1)))
                    .build(),
                List.of(SummaryDimension.REASON)));
    cases.put(
        "timeline client=client-42, last 24 h, 30 min buckets",
        () ->
            store.timeline(
                AuditQuery.builder()
                    .client("client-42")
                    .since(now.minus(Duration.ofDays(1)))
                    .until(now)
                    .build(),
                Duration.ofMinutes(30)));
    cases.put(
        "timeline last 24 h, 30 min buckets",
        () ->
            store.timeline(
                AuditQuery.builder().since(now.minus(Duration.ofDays(1))).until(now).build(),
                Duration.ofMinutes(30)));
    cases.put(
        "dry-run report (group by dry_run_reason,segment,dry_run_rule), last 24 h",
        () ->
            store.summary(
                AuditQuery.builder().dryRunOnly().since(now.minus(Duration.ofDays(1))).build(),
                List.of(
                    SummaryDimension.DRY_RUN_REASON,
                    SummaryDimension.SEGMENT,
                    SummaryDimension.DRY_RUN_RULE)));

    System.out.println();
    System.out.println("| query (first page, 100 records) | first run ms | median ms | max ms |");
    System.out.println("| --- | ---: | ---: | ---: |");
    for (var c : cases.entrySet()) {
      double[] ms = new double[runs];
      for (int i = 0; i < runs; i++) {
        long t0 = System.nanoTime();
        Object result = c.getValue().get();
        ms[i] = (System.nanoTime() - t0) / 1e6;
        if (result == null) {
          throw new IllegalStateException();
        }
      }
      double first = ms[0];
      double[] warm = Arrays.copyOfRange(ms, 1, runs);
      Arrays.sort(warm);
      System.out.printf(
          "| %s | %.1f | %.1f | %.1f |%n",
          c.getKey(), first, warm[warm.length / 2], warm[warm.length - 1]);
    }
  }
}
