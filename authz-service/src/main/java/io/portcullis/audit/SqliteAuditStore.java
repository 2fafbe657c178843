package io.portcullis.audit;

import static java.util.stream.Collectors.joining;

import io.portcullis.store.Database;
import io.portcullis.store.DatabaseKind;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Objects;
import java.util.function.LongSupplier;
import org.jspecify.annotations.Nullable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The audit store in the embedded SQLite database. Write transactions start with {@code BEGIN
 * IMMEDIATE} ({@link Database}), which takes the database's single write lock, so a chain needs no
 * row lock. The keyset seek leads with a plain {@code time_us <=} bound, which SQLite turns into an
 * index range, followed by the exact tie-break on the row id (which every SQLite index holds last).
 *
 * <h2>Key tables, their generations and the unindexed tail</h2>
 *
 * Principal, source address and path are random keys: an index on them takes each insert on a leaf
 * page of its own, and a commit every 50 ms rewrites about one page per record and index (half the
 * writer's cost, loadtest/RESULTS.md "Writer throughput into SQLite"); an index on the client
 * dirties a page per client and commit. So {@code audit_record} has no such index (schema: {@code
 * db/migration/sqlite/V3__audit_key_tables.sql} and {@code V4__audit_key_generations.sql}); their
 * entries live in {@code audit_key_principal}, {@code audit_key_source_ip}, {@code
 * audit_key_client} and {@code audit_key_path} ({@code (g, k, t, rid)}: generation, key, time, row
 * id). Appends write only {@code audit_record}, in one transaction per batch as before; after an
 * append, once the records not yet in the key tables (the tail: {@code id >
 * audit_key_mark.indexed_to}) number {@link #INDEX_TAIL}, the writer's thread copies the tail's
 * keys into the key tables as one new generation, in key order, and moves the mark, in one
 * transaction ({@link #indexTail}). The generation leads the key tables' primary keys, so a fill
 * appends to their b-trees and costs the same on a log of any size (filling one b-tree over the
 * whole log rewrote more of it with every fill: 60 s at 50,000 records/s doubled the writer's cost
 * per record). {@code audit_key_gen} lists the generations with their time ranges.
 *
 * <p>Every record is in {@code audit_record} from its append on, so the chain head, verify,
 * retention, duplicate checks of journal replays and every query without a key filter are those of
 * {@link JdbcAuditStore}. A page filtered by principal, source address or client (or a rare path
 * prefix) is merged from the tail, scanned by row id range and sorted (at most about {@link
 * #INDEX_TAIL} rows), and each generation's entries of the key, read in page order ({@link #page});
 * all in one read transaction, so they see one snapshot. Summaries and timelines filtered by such a
 * key read its rows by id ({@link #countedRows}). Retention deletes the key entries of the records
 * it deletes, and the generations it empties. New records take ids above the mark ({@link
 * #nextRowId}), so an id the key tables name is never given to another record.
 */
public final class SqliteAuditStore extends JdbcAuditStore {

  /** How many records the tail holds before the writer moves their keys to the key tables. */
  static final int INDEX_TAIL = 50_000;

  /** The key tables: the column each holds, its table. */
  enum Key {
    PRINCIPAL("principal"),
    SOURCE_IP("source_ip"),
    CLIENT("client"),
    PATH("path");

    final String column;
    final String table;

    Key(String column) {
      this.column = column;
      this.table = "audit_key_" + column;
    }
  }

  private static final Logger log = LoggerFactory.getLogger(SqliteAuditStore.class);

  private static final String MARK = "(SELECT indexed_to FROM audit_key_mark)";

  /**
   * The first wait after a failed fill; it doubles with each failure, up to {@link #MAX_BACKOFF}.
   */
  static final Duration FIRST_BACKOFF = Duration.ofSeconds(1);

  static final Duration MAX_BACKOFF = Duration.ofMinutes(5);

  private final int indexTail;
  private final LongSupplier ticker;

  /** Runs between a keyed query's tail read and its generation reads (tests: a fill meanwhile). */
  volatile Runnable afterTailRead = () -> {};

  private final Object fillLock = new Object();
  private long backoffNanos; // guarded by fillLock
  private long retryAtNanos; // guarded by fillLock

  public SqliteAuditStore(Database database) {
    this(database, INDEX_TAIL, System::nanoTime);
  }

  /** A store that indexes its tail once it holds {@code indexTail} records (tests use few). */
  SqliteAuditStore(Database database, int indexTail) {
    this(database, indexTail, System::nanoTime);
  }

  /** As above, with the monotonic clock of the retry back-off (tests). */
  SqliteAuditStore(Database database, int indexTail, LongSupplier ticker) {
    super(requireKind(database));
    if (indexTail < 1) {
      throw new IllegalArgumentException("indexTail must be positive");
    }
    this.indexTail = indexTail;
    this.ticker = ticker;
  }

  private static Database requireKind(Database database) {
    if (database.kind() != DatabaseKind.SQLITE) {
      throw new IllegalArgumentException("SqliteAuditStore needs a SQLite database");
    }
    return database;
  }

  @Override
  String lockSuffix() {
    return "";
  }

  @Override
  String olderThan(AuditCursor cursor, List<Object> params) {
    return olderThan("time_us", "id", cursor, params);
  }

  private static String olderThan(String time, String id, AuditCursor cursor, List<Object> params) {
    params.add(cursor.timeMicros());
    params.add(cursor.timeMicros());
    params.add(cursor.timeMicros());
    params.add(cursor.rowId());
    return time + " <= ? AND (" + time + " < ? OR (" + time + " = ? AND " + id + " < ?))";
  }

  /**
   * The time index finds a replayed record's candidates (the records of its microsecond): SQLite
   * keeps no decision id index, whose 36-character keys cost every append an index insert for this
   * lookup alone, which only journal replays make.
   */
  @Override
  String storedCandidatesSql() {
    return "SELECT record FROM audit_record INDEXED BY audit_record_time"
        + " WHERE decision_id = ? AND instance = ? AND time_us = ?";
  }

  @Override
  String pathRange() {
    return "path >= ? AND path < ?";
  }

  // ---- append: ids above the mark, then the tail's upkeep --------------------------------------

  @Override
  long nextRowId(Connection c) throws SQLException {
    try (PreparedStatement ps =
            c.prepareStatement(
                "SELECT max(coalesce((SELECT max(id) FROM audit_record), 0), " + MARK + ") + 1");
        ResultSet rs = ps.executeQuery()) {
      rs.next();
      return rs.getLong(1);
    }
  }

  /**
   * Indexes the tail once it is long enough. A failure here does not fail the append, whose records
   * are committed: the tail stays as it was (queries scan it) and an append after a back-off tries
   * again. The back-off (1 s, doubling up to 5 min) keeps a fill that fails for good (a full disk)
   * from holding the write lock over an ever longer tail on every append, and the log quiet.
   */
  @Override
  void afterAppend() {
    synchronized (fillLock) {
      long now = ticker.getAsLong();
      if (backoffNanos > 0 && now - retryAtNanos < 0) {
        return;
      }
      try {
        if (tailLength() >= indexTail) {
          indexTail();
        }
        backoffNanos = 0;
      } catch (RuntimeException e) {
        backoffNanos =
            backoffNanos == 0
                ? FIRST_BACKOFF.toNanos()
                : Math.min(2 * backoffNanos, MAX_BACKOFF.toNanos());
        retryAtNanos = now + backoffNanos;
        log.warn(
            "indexing the audit log's tail failed; retrying in {} (queries scan the unindexed"
                + " tail meanwhile): {}",
            Duration.ofNanos(backoffNanos),
            e.toString());
      }
    }
  }

  private long tailLength() {
    try (Connection c = database().connection();
        PreparedStatement ps =
            c.prepareStatement(
                "SELECT (SELECT max(id) FROM audit_record) - indexed_to FROM audit_key_mark");
        ResultSet rs = ps.executeQuery()) {
      return rs.next() ? rs.getLong(1) : 0;
    } catch (SQLException e) {
      throw failure("measuring the audit log's unindexed tail", e);
    }
  }

  /**
   * Copies the keys of every record above the mark into the key tables as a new generation, in key
   * order, records the generation and moves the mark to the newest record, in one transaction. The
   * generation's number is its newest record's id, higher than every earlier generation's, and it
   * leads each key table's primary key: the fill appends its sorted entries at the end of each
   * table's b-tree instead of inserting them among all earlier entries, so its cost does not grow
   * with the log. A crash before the commit leaves the tail as it was (its records are in {@code
   * audit_record} already), and the next append redoes it.
   *
   * @return how many records were indexed
   */
  long indexTail() {
    return transaction(
        "indexing the audit log's tail",
        c -> {
          long from;
          long to;
          try (PreparedStatement ps =
                  c.prepareStatement(
                      "SELECT indexed_to, (SELECT max(id) FROM audit_record) FROM audit_key_mark");
              ResultSet rs = ps.executeQuery()) {
            rs.next();
            from = rs.getLong(1);
            to = rs.getLong(2);
          }
          if (to <= from) {
            return 0L;
          }
          writeGeneration(c, from, to);
          try (PreparedStatement ps =
              c.prepareStatement("UPDATE audit_key_mark SET indexed_to = ?")) {
            ps.setLong(1, to);
            ps.executeUpdate();
          }
          return to - from;
        },
        n -> true);
  }

  /**
   * Writes the keys of the records {@code from < id <= to} into the key tables as generation {@code
   * to}, each table's entries in key order, and lists the generation in {@code audit_key_gen}, in
   * the caller's transaction; the caller moves the mark. Public for the query benchmark's bulk fill
   * ({@code AuditQueryBench}), which builds a large log's generations the way the store does.
   */
  public static void writeGeneration(Connection c, long from, long to) throws SQLException {
    for (Key key : Key.values()) {
      try (PreparedStatement ps =
          c.prepareStatement(
              "INSERT INTO "
                  + key.table
                  + " (g, k, t, rid) SELECT ?, "
                  + key.column
                  + ", time_us, id FROM audit_record WHERE id > ? AND id <= ?"
                  + " ORDER BY 2, 3, 4")) {
        ps.setLong(1, to);
        ps.setLong(2, from);
        ps.setLong(3, to);
        ps.executeUpdate();
      }
    }
    try (PreparedStatement ps =
        c.prepareStatement(
            "INSERT INTO audit_key_gen (g, lo, min_t, max_t) SELECT * FROM (SELECT ?, ?,"
                + " min(time_us) AS min_t, max(time_us) FROM audit_record"
                + " WHERE id > ? AND id <= ?) WHERE min_t IS NOT NULL")) {
      ps.setLong(1, to);
      ps.setLong(2, from);
      ps.setLong(3, from);
      ps.setLong(4, to);
      ps.executeUpdate();
    }
  }

  /**
   * Deletes the key entries of the records retention is about to delete (each in the generation
   * that holds its id; a record of the tail has none), then the generations left without other
   * records. One delete per entry, by its whole primary key: SQLite reads a row-value {@code IN} on
   * the four key columns by the generation alone, which would scan the generation per record.
   */
  @Override
  void beforeDelete(Connection c, String instance, long fromSeq, long toSeq) throws SQLException {
    Key[] keys = Key.values();
    List<PreparedStatement> deletes = new ArrayList<>(keys.length);
    long minId = Long.MAX_VALUE;
    long maxId = Long.MIN_VALUE;
    try {
      for (Key key : keys) {
        deletes.add(
            c.prepareStatement(
                "DELETE FROM " + key.table + " WHERE g = ? AND k = ? AND t = ? AND rid = ?"));
      }
      try (PreparedStatement ps =
          c.prepareStatement(
              "SELECT (SELECT min(g) FROM audit_key_gen WHERE g >= r.id), r.time_us, r.id"
                  + Arrays.stream(keys).map(k -> ", r." + k.column).collect(joining())
                  + " FROM audit_record r WHERE r.instance = ? AND r.seq > ? AND r.seq <= ?")) {
        ps.setString(1, instance);
        ps.setLong(2, fromSeq);
        ps.setLong(3, toSeq);
        try (ResultSet rs = ps.executeQuery()) {
          while (rs.next()) {
            long id = rs.getLong(3);
            minId = Math.min(minId, id);
            maxId = Math.max(maxId, id);
            long g = rs.getLong(1);
            if (rs.wasNull()) {
              continue;
            }
            for (int i = 0; i < keys.length; i++) {
              PreparedStatement delete = deletes.get(i);
              delete.setLong(1, g);
              delete.setString(2, rs.getString(4 + i));
              delete.setLong(3, rs.getLong(2));
              delete.setLong(4, rs.getLong(3));
              delete.addBatch();
            }
          }
        }
      }
      for (PreparedStatement delete : deletes) {
        delete.executeBatch();
      }
    } finally {
      for (PreparedStatement delete : deletes) {
        delete.close();
      }
    }
    // Only the generations holding the deleted ids can become empty: checking every generation on
    // every batch would take one probe per 50,000 records of the whole log under the write lock.
    try (PreparedStatement ps =
        c.prepareStatement(
            "DELETE FROM audit_key_gen WHERE g >= ? AND lo < ? AND NOT EXISTS (SELECT 1 FROM"
                + " audit_record WHERE id > audit_key_gen.lo AND id <= audit_key_gen.g"
                + " AND NOT (instance = ? AND seq > ? AND seq <= ?))")) {
      ps.setLong(1, minId);
      ps.setLong(2, maxId);
      ps.setString(3, instance);
      ps.setLong(4, fromSeq);
      ps.setLong(5, toSeq);
      ps.executeUpdate();
    }
  }

  // ---- queries by key: the tail and the key tables' generations -------------------------------

  /** The key table that serves {@code q}'s page, or {@code null} if an index of the table does. */
  static @Nullable Key keyOf(AuditQuery q, boolean prefixByIndex) {
    if (q.principal() != null) {
      return Key.PRINCIPAL;
    }
    if (q.sourceIp() != null) {
      return Key.SOURCE_IP;
    }
    if (q.client() != null) {
      return Key.CLIENT;
    }
    return prefixByIndex ? Key.PATH : null;
  }

  /** A generation of the key tables: its number and the time range of its records. */
  record Generation(long g, long minT, long maxT) {}

  /**
   * A page filtered by principal, source address or a rare path prefix: the newest {@code limit} of
   * the tail's matches and of each generation's (one statement each, every one reading in page
   * order), merged. Generations are read newest first by their newest record and the reading stops
   * at the first generation whose newest record is older than the page's last row, so a key with
   * recent records reads one or two generations; a rare key reads every generation in the time
   * range (one b-tree seek each). All the statements run in one read transaction: they see one
   * snapshot, so a fill that commits meanwhile neither hides records nor shows them twice.
   */
  @Override
  AuditPage page(Connection c, AuditQuery q, boolean prefixByIndex) throws SQLException {
    Key key = keyOf(q, prefixByIndex);
    if (key == null) {
      return super.page(c, q, false);
    }
    int want = q.limit() + 1;
    List<PageRow> rows = new ArrayList<>();
    boolean done = false;
    try {
      execute(c, "BEGIN DEFERRED");
      read(c, tailSql(q), want, rows);
      afterTailRead.run();
      rows.sort(PageRow.ORDER);
      for (Generation gen : generations(c, q)) {
        if (rows.size() >= want && gen.maxT() < rows.get(want - 1).timeUs()) {
          break; // this generation and every later one hold only older records
        }
        read(c, generationSql(q, key, gen.g()), want, rows);
        rows.sort(PageRow.ORDER);
        if (rows.size() > want) {
          rows.subList(want, rows.size()).clear();
        }
      }
      done = true;
    } finally {
      endRead(c, done);
    }
    return page(rows, q.limit());
  }

  private static void read(Connection c, Sql sql, int max, List<PageRow> to) throws SQLException {
    try (PreparedStatement ps = prepare(c, sql);
        ResultSet rs = ps.executeQuery()) {
      PageRow.read(rs, max, to);
    }
  }

  private static void execute(Connection c, String sql) throws SQLException {
    try (Statement s = c.createStatement()) {
      s.execute(sql);
    }
  }

  /**
   * Ends the read transaction. After a failure the connection is evicted, not returned to the pool:
   * its transaction state is unknown, and a connection left inside a read transaction would show
   * every later reader an old snapshot and keep checkpoints from finishing.
   */
  private void endRead(Connection c, boolean done) throws SQLException {
    if (done) {
      try {
        execute(c, "COMMIT");
        return;
      } catch (SQLException e) {
        database().evict(c);
        throw e;
      }
    }
    database().evict(c);
  }

  /**
   * The generations that may hold records of {@code q}'s time range older than its cursor, newest
   * first by their newest record.
   */
  private static List<Generation> generations(Connection c, AuditQuery q) throws SQLException {
    List<String> where = new ArrayList<>();
    List<Object> params = new ArrayList<>();
    generationBounds(q, where, params);
    AuditCursor cursor = q.cursor();
    if (cursor != null) {
      where.add("min_t <= ?");
      params.add(cursor.timeMicros());
    }
    List<Generation> gens = new ArrayList<>();
    try (PreparedStatement ps =
            prepare(
                c,
                new Sql(
                    "SELECT g, min_t, max_t FROM audit_key_gen"
                        + (where.isEmpty() ? "" : " WHERE " + String.join(" AND ", where))
                        + " ORDER BY max_t DESC, g DESC",
                    params));
        ResultSet rs = ps.executeQuery()) {
      while (rs.next()) {
        gens.add(new Generation(rs.getLong(1), rs.getLong(2), rs.getLong(3)));
      }
    }
    return gens;
  }

  /** Conditions on {@code audit_key_gen} for the generations that overlap {@code q}'s range. */
  private static void generationBounds(AuditQuery q, List<String> where, List<Object> params) {
    Instant since = q.since();
    if (since != null) {
      where.add("max_t >= ?");
      params.add(DecisionRecords.micros(since));
    }
    Instant until = q.until();
    if (until != null) {
      where.add("min_t < ?");
      params.add(DecisionRecords.micros(until));
    }
  }

  /**
   * A summary or timeline filtered by principal, source address or client reads only the rows of
   * the key's entries in the generations of its range, and the tail's rows, by row id ({@code NOT
   * INDEXED} keeps the planner from walking the time index instead and checking every row of the
   * range). The other filters are checked on those rows.
   */
  @Override
  String countedRows(AuditQuery q, List<String> where, List<Object> params) {
    Key key = keyOf(q, false);
    if (key == null) {
      return "audit_record";
    }
    List<String> generations = new ArrayList<>();
    generationBounds(q, generations, params);
    List<String> keyed = new ArrayList<>();
    keyed.add(
        "g IN (SELECT g FROM audit_key_gen"
            + (generations.isEmpty() ? "" : " WHERE " + String.join(" AND ", generations))
            + ")");
    keyed.add("k = ?");
    params.add(keyValue(q, key));
    timeBounds(q, "", keyed, params);
    where.add(
        "id IN (SELECT rid FROM "
            + key.table
            + " WHERE "
            + String.join(" AND ", keyed)
            + " UNION ALL SELECT id FROM audit_record WHERE id > "
            + MARK
            + ")");
    return "audit_record NOT INDEXED";
  }

  /** The value {@code q} filters {@code key} by. */
  private static @Nullable String keyValue(AuditQuery q, Key key) {
    return switch (key) {
      case PRINCIPAL -> q.principal();
      case SOURCE_IP -> q.sourceIp();
      case CLIENT -> q.client();
      case PATH -> throw new AssertionError("a path prefix is a range");
    };
  }

  /**
   * The newest matches of {@code q} in the tail, one more than its limit: a row id range ({@code
   * NOT INDEXED}: the time index would walk the whole log), sorted (at most about {@link
   * #INDEX_TAIL} rows).
   */
  Sql tailSql(AuditQuery q) {
    List<Object> params = new ArrayList<>();
    List<String> where = new ArrayList<>();
    where.add("id > " + MARK);
    filters(q, where, params);
    AuditCursor cursor = q.cursor();
    if (cursor != null) {
      where.add(olderThan(cursor, params));
    }
    params.add(q.limit() + 1);
    return new Sql(
        "SELECT "
            + PAGE_COLUMNS
            + " FROM audit_record NOT INDEXED WHERE "
            + String.join(" AND ", where)
            + PAGE_ORDER
            + " LIMIT ?",
        params);
  }

  /**
   * The newest matches of {@code q} among generation {@code g}'s entries in {@code key}'s table,
   * one more than its limit. By principal or source address: the entries of the key in page order
   * (no sort), joined to their rows, on which the other filters are checked. By a rare path prefix:
   * the prefix's entries sorted (not rows), then only the page's rows read.
   */
  Sql generationSql(AuditQuery q, Key key, long g) {
    List<Object> params = new ArrayList<>();
    List<String> keyed = new ArrayList<>();
    if (key == Key.PATH) {
      String prefix = Objects.requireNonNull(q.pathPrefix());
      keyed.add("g = ? AND k >= ? AND k < ?");
      params.add(g);
      params.add(prefix);
      params.add(upperBound(prefix));
      keyBounds(q, "", keyed, params);
      params.add(q.limit() + 1);
      return new Sql(
          "SELECT "
              + PAGE_COLUMNS
              + " FROM audit_record WHERE id IN (SELECT rid FROM audit_key_path WHERE "
              + String.join(" AND ", keyed)
              + " ORDER BY t DESC, rid DESC LIMIT ?)",
          params);
    }
    keyed.add("x.g = ? AND x.k = ?");
    params.add(g);
    params.add(keyValue(q, key));
    keyBounds(q, "x.", keyed, params);
    filters(q, keyed, params); // the other filters, on the joined row
    params.add(q.limit() + 1);
    return new Sql(
        "SELECT "
            + PAGE_COLUMNS
            + " FROM "
            + key.table
            + " x CROSS JOIN audit_record r ON r.id = x.rid WHERE "
            + String.join(" AND ", keyed)
            + " ORDER BY x.t DESC, x.rid DESC LIMIT ?",
        params);
  }

  /** The time range and cursor of {@code q} on a key table's {@code t} and {@code rid}. */
  private static void keyBounds(
      AuditQuery q, String alias, List<String> where, List<Object> params) {
    timeBounds(q, alias, where, params);
    AuditCursor cursor = q.cursor();
    if (cursor != null) {
      where.add(olderThan(alias + "t", alias + "rid", cursor, params));
    }
  }

  /** The time range of {@code q} on a key table's {@code t}. */
  private static void timeBounds(
      AuditQuery q, String alias, List<String> where, List<Object> params) {
    Instant since = q.since();
    if (since != null) {
      where.add(alias + "t >= ?");
      params.add(DecisionRecords.micros(since));
    }
    Instant until = q.until();
    if (until != null) {
      where.add(alias + "t < ?");
      params.add(DecisionRecords.micros(until));
    }
  }

  @Override
  Sql prefixCountSql(AuditQuery q, int max) {
    // The key table only (each generation's range of the prefix): the tail adds at most
    // INDEX_TAIL records, whichever plan runs.
    List<String> where = new ArrayList<>();
    List<Object> params = new ArrayList<>();
    String prefix = Objects.requireNonNull(q.pathPrefix());
    where.add("g IN (SELECT g FROM audit_key_gen) AND k >= ? AND k < ?");
    params.add(prefix);
    params.add(upperBound(prefix));
    timeBounds(q, "", where, params);
    params.add(max);
    return new Sql(
        "SELECT count(*) FROM (SELECT 1 FROM audit_key_path WHERE "
            + String.join(" AND ", where)
            + " LIMIT ?) AS matches",
        params);
  }
}
