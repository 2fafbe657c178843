package io.portcullis.audit;

import io.portcullis.store.Database;
import io.portcullis.store.DatabaseKind;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
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
 * <h2>Key tables and the unindexed tail</h2>
 *
 * Principal, source address and path are random keys: an index on them takes each insert on a leaf
 * page of its own, and a commit every 50 ms rewrites about one page per record and index (half the
 * writer's cost, loadtest/RESULTS.md "Writer throughput into SQLite"). So {@code audit_record} has
 * no such index (schema: {@code db/migration/sqlite/V3__audit_key_tables.sql}); their entries live
 * in {@code audit_key_principal}, {@code audit_key_source_ip} and {@code audit_key_path} ({@code
 * (k, t, rid)}: key, time, row id). Appends write only {@code audit_record}, in one transaction per
 * batch as before; after an append, once the records not yet in the key tables (the tail: {@code id
 * > audit_key_mark.indexed_to}) number {@link #INDEX_TAIL}, the writer's thread copies the tail's
 * keys into the key tables in key order, one sorted {@code INSERT ... SELECT} per table, and moves
 * the mark, in one transaction ({@link #indexTail}). Each key page is then rewritten once per
 * {@link #INDEX_TAIL} records instead of once per batch.
 *
 * <p>Every record is in {@code audit_record} from its append on, so the chain head, verify,
 * retention, duplicate checks of journal replays and every query without a key filter are those of
 * {@link JdbcAuditStore}. A page filtered by principal or source address (or a rare path prefix) is
 * the newest of two parts: the key table's entries joined to their rows (ordered by the key table,
 * no sort), and the tail scanned by row id range and sorted (at most about {@link #INDEX_TAIL}
 * rows). One statement reads both and the mark, so it sees one consistent snapshot. Retention
 * deletes the key entries of the records it deletes. New records take ids above the mark ({@link
 * #nextRowId}), so an id the key tables name is never given to another record.
 */
public final class SqliteAuditStore extends JdbcAuditStore {

  /** How many records the tail holds before the writer moves their keys to the key tables. */
  static final int INDEX_TAIL = 50_000;

  /** The key tables: the column each holds, its table. */
  private enum Key {
    PRINCIPAL("principal"),
    SOURCE_IP("source_ip"),
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
   * Copies the keys of every record above the mark into the key tables, in key order, and moves the
   * mark to the newest record, in one transaction. A crash before the commit leaves the tail as it
   * was (its records are in {@code audit_record} already), and the next append redoes it.
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
          for (Key key : Key.values()) {
            try (PreparedStatement ps =
                c.prepareStatement(
                    "INSERT INTO "
                        + key.table
                        + " (k, t, rid) SELECT "
                        + key.column
                        + ", time_us, id FROM audit_record WHERE id > ? AND id <= ?"
                        + " ORDER BY 1, 2, 3")) {
              ps.setLong(1, from);
              ps.setLong(2, to);
              ps.executeUpdate();
            }
          }
          try (PreparedStatement ps =
              c.prepareStatement("UPDATE audit_key_mark SET indexed_to = ?")) {
            ps.setLong(1, to);
            ps.executeUpdate();
          }
          return to - from;
        },
        n -> true);
  }

  @Override
  void beforeDelete(Connection c, String instance, long fromSeq, long toSeq) throws SQLException {
    for (Key key : Key.values()) {
      try (PreparedStatement ps =
          c.prepareStatement(
              "DELETE FROM "
                  + key.table
                  + " WHERE (k, t, rid) IN (SELECT "
                  + key.column
                  + ", time_us, id FROM audit_record"
                  + " WHERE instance = ? AND seq > ? AND seq <= ?)")) {
        ps.setString(1, instance);
        ps.setLong(2, fromSeq);
        ps.setLong(3, toSeq);
        ps.executeUpdate();
      }
    }
  }

  // ---- queries by key: the key table and the tail ---------------------------------------------

  /** The key table that serves {@code q}'s page, or {@code null} if an index of the table does. */
  private static @Nullable Key keyOf(AuditQuery q, boolean prefixByIndex) {
    if (q.principal() != null) {
      return Key.PRINCIPAL;
    }
    if (q.sourceIp() != null) {
      return Key.SOURCE_IP;
    }
    return prefixByIndex ? Key.PATH : null;
  }

  @Override
  Sql querySql(AuditQuery q, boolean prefixByIndex) {
    Key key = keyOf(q, prefixByIndex);
    if (key == null) {
      return super.querySql(q, false);
    }
    List<Object> params = new ArrayList<>();
    // The tail: a row id range (NOT INDEXED: the time index would walk the whole log), sorted.
    List<String> tail = new ArrayList<>();
    tail.add("id > " + MARK);
    filters(q, tail, params);
    AuditCursor cursor = q.cursor();
    if (cursor != null) {
      tail.add(olderThan(cursor, params));
    }
    params.add(q.limit() + 1);
    String tailSql =
        "SELECT "
            + PAGE_COLUMNS
            + " FROM audit_record NOT INDEXED WHERE "
            + String.join(" AND ", tail)
            + PAGE_ORDER
            + " LIMIT ?";
    // The indexed records: the key table's entries in (t, rid) order.
    String indexedSql;
    List<String> keyed = new ArrayList<>();
    if (key == Key.PATH) {
      // A rare prefix: sort its entries (not rows) and read only the page's rows.
      String prefix = Objects.requireNonNull(q.pathPrefix());
      keyed.add("k >= ? AND k < ?");
      params.add(prefix);
      params.add(upperBound(prefix));
      keyBounds(q, "", keyed, params);
      params.add(q.limit() + 1);
      indexedSql =
          "SELECT "
              + PAGE_COLUMNS
              + " FROM audit_record WHERE id IN (SELECT rid FROM audit_key_path WHERE "
              + String.join(" AND ", keyed)
              + " ORDER BY t DESC, rid DESC LIMIT ?)";
    } else {
      keyed.add("x.k = ?");
      params.add(key == Key.PRINCIPAL ? q.principal() : q.sourceIp());
      keyBounds(q, "x.", keyed, params);
      filters(q, keyed, params); // the other filters, on the joined row
      params.add(q.limit() + 1);
      indexedSql =
          "SELECT "
              + PAGE_COLUMNS
              + " FROM "
              + key.table
              + " x CROSS JOIN audit_record r ON r.id = x.rid WHERE "
              + String.join(" AND ", keyed)
              + " ORDER BY x.t DESC, x.rid DESC LIMIT ?";
    }
    params.add(q.limit() + 1);
    return new Sql(
        "SELECT * FROM ("
            + tailSql
            + ") UNION ALL SELECT * FROM ("
            + indexedSql
            + ")"
            + PAGE_ORDER
            + " LIMIT ?",
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
    // The key table only: the tail adds at most INDEX_TAIL records, whichever plan runs.
    List<String> where = new ArrayList<>();
    List<Object> params = new ArrayList<>();
    String prefix = Objects.requireNonNull(q.pathPrefix());
    where.add("k >= ? AND k < ?");
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
