package io.portcullis.audit;

import com.google.protobuf.InvalidProtocolBufferException;
import com.google.protobuf.Timestamp;
import com.google.protobuf.util.Timestamps;
import io.portcullis.proto.v1.DecisionRecord;
import io.portcullis.store.Database;
import io.portcullis.store.StoreException;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.time.Duration;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.LongAdder;
import java.util.function.Predicate;
import org.jspecify.annotations.Nullable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The audit store over JDBC; the two databases differ in how a transaction locks a chain, how a
 * keyset seek is written, and where the principal, source address and path keys are indexed
 * (PostgreSQL: indexes of the table; SQLite: key tables filled behind the writer, see {@link
 * SqliteAuditStore}), which {@link SqliteAuditStore} and {@link PostgresAuditStore} supply. Schema:
 * {@code db/migration/<kind>/V1__audit.sql} and the later versions there.
 *
 * <p>Rows hold the record's canonical bytes ({@link RecordChain#canonical}, the exact bytes the
 * hash covers), its chain fields, and copies of the filterable fields. Thread-safe: every call
 * takes its own pooled connection.
 */
abstract sealed class JdbcAuditStore implements AuditStore
    permits SqliteAuditStore, PostgresAuditStore {
  private static final Logger log = LoggerFactory.getLogger(JdbcAuditStore.class);

  /** Rows per read when walking a chain (verify) or deleting (retention). */
  static final int CHUNK = 10_000;

  /** The most records a path prefix may match for its page to be sorted from the path index. */
  static final int RARE_PREFIX = 50_000;

  private static final String INSERT =
      "INSERT INTO audit_record (instance, seq, decision_id, time_us, decision, reason,"
          + " dry_run_reason, dry_run_rule, segment, rule, principal, client, source_ip, path,"
          + " prev_hash, hash, record, id) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?,"
          + " ?, ?)";

  /** As {@link #INSERT}, the database assigning the id. */
  private static final String INSERT_WITHOUT_ID =
      "INSERT INTO audit_record (instance, seq, decision_id, time_us, decision, reason,"
          + " dry_run_reason, dry_run_rule, segment, rule, principal, client, source_ip, path,"
          + " prev_hash, hash, record) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)";

  /** The filterable columns a verify compares with the record, in that order. */
  private static final String CHECKED_COLUMNS =
      "seq, decision_id, time_us, decision, reason, dry_run_reason, dry_run_rule, segment, rule,"
          + " principal, client, source_ip, path, prev_hash, hash, record";

  /** The most unreadable rows {@link #warnUnreadable} remembers having logged. */
  static final int MAX_WARNED = 10_000;

  private final Database db;

  /** Rows a query returned as unreadable and logged: instance, seq and hash. */
  private final Set<List<Object>> warned = ConcurrentHashMap.newKeySet();

  /** Rows added to {@link #warned}: {@link #unreadableRowsFound()}. */
  private final LongAdder unreadableRowsFound = new LongAdder();

  JdbcAuditStore(Database db) {
    this.db = db;
  }

  /** Appended to the {@code SELECT} of a chain row to lock it for the transaction. */
  abstract String lockSuffix();

  /**
   * A predicate selecting rows strictly after {@code cursor} in the order {@code time_us DESC, id
   * DESC}, binding its parameters to {@code params}.
   */
  abstract String olderThan(AuditCursor cursor, List<Object> params);

  /**
   * The id the next appended record takes, read in the append's transaction, or 0 if the database
   * assigns ids itself.
   */
  abstract long nextRowId(Connection c) throws SQLException;

  /** Runs after an append committed records; the store's own upkeep (none by default). */
  void afterAppend() {}

  /**
   * Runs first in an append's transaction: bounds how long its statements may wait, where the
   * database can (none by default).
   */
  void beforeAppend(Connection c) throws SQLException {}

  /**
   * Deletes, in the caller's transaction, what the store keeps about the records {@code fromSeq <
   * seq <= toSeq} of {@code instance} apart from their rows, before retention deletes the rows.
   */
  abstract void beforeDelete(Connection c, String instance, long fromSeq, long toSeq)
      throws SQLException;

  /** The database, for the implementations' own statements. */
  final Database database() {
    return db;
  }

  @Override
  public java.util.Optional<String> fileProblem() {
    return db.fileProblem().map(what -> "the SQLite file " + db.file().orElseThrow() + " " + what);
  }

  // ---- head and append ------------------------------------------------------------------------

  @Override
  public ChainHead head(String instance) {
    try (Connection c = db.connection();
        PreparedStatement ps =
            c.prepareStatement("SELECT head_seq, head_hash FROM audit_chain WHERE instance = ?")) {
      ps.setString(1, instance);
      try (ResultSet rs = ps.executeQuery()) {
        return rs.next() ? new ChainHead(rs.getLong(1), rs.getString(2)) : ChainHead.GENESIS;
      }
    } catch (SQLException e) {
      throw failure("reading the audit chain head", e);
    }
  }

  @Override
  public AppendResult append(List<DecisionRecord> records) {
    // Records from outside (a journal file, a caller): hashed here, outside the transaction.
    List<Candidate> candidates = new ArrayList<>(records.size());
    for (DecisionRecord r : records) {
      byte[] canonical = RecordChain.canonical(r);
      candidates.add(
          new Candidate(
              r, r.getPrevHash(), r.getHash(), canonical, RecordChain.hashMatches(r, canonical)));
    }
    return appendCandidates(candidates);
  }

  @Override
  public AppendResult appendLinked(List<LinkedRecord> records) {
    List<Candidate> candidates = new ArrayList<>(records.size());
    for (LinkedRecord r : records) {
      // RecordChain made it by hashing these bytes: no need to do it again.
      candidates.add(new Candidate(r.content(), r.prevHash(), r.hash(), r.canonical(), true));
    }
    return appendCandidates(candidates);
  }

  /**
   * A record to append.
   *
   * @param record its content ({@code seq} set; its hash fields are not read)
   * @param hashMatches whether {@code hash} is the hash of {@code canonical} after {@code prevHash}
   */
  private record Candidate(
      DecisionRecord record, String prevHash, String hash, byte[] canonical, boolean hashMatches) {}

  private AppendResult appendCandidates(List<Candidate> records) {
    if (records.isEmpty()) {
      throw new IllegalArgumentException("append needs at least one record");
    }
    String instance = records.get(0).record().getInstance();
    for (Candidate r : records) {
      if (!r.record().getInstance().equals(instance)) {
        throw new IllegalArgumentException("one append takes records of one instance");
      }
    }
    AppendResult result =
        transaction(
            "appending audit records",
            c -> appendInTransaction(c, instance, records),
            r -> r instanceof AppendResult.Appended);
    if (result instanceof AppendResult.Appended a && a.inserted() > 0) {
      afterAppend();
    }
    return result;
  }

  /** Work done inside one transaction. */
  @FunctionalInterface
  interface Work<T> {
    T run(Connection c) throws SQLException;
  }

  /**
   * Runs {@code work} in one transaction on its own connection and commits if {@code commit}
   * accepts the result, else rolls back. After any failure the connection is evicted from the pool
   * rather than reused: its transaction state is unknown (a {@code BEGIN} that hit a lock, a {@code
   * COMMIT} cut off by the network).
   */
  final <T> T transaction(String what, Work<T> work, Predicate<T> commit) {
    Connection c = db.connection();
    boolean reusable = false;
    try {
      c.setAutoCommit(false);
      T result = work.run(c);
      if (commit.test(result)) {
        c.commit();
      } else {
        c.rollback();
      }
      c.setAutoCommit(true);
      reusable = true;
      return result;
    } catch (SQLException e) {
      rollbackQuietly(c, e);
      throw failure(what, e);
    } catch (RuntimeException e) {
      rollbackQuietly(c, e);
      throw e;
    } finally {
      if (reusable) {
        closeQuietly(c);
      } else {
        db.evict(c);
      }
    }
  }

  private AppendResult appendInTransaction(Connection c, String instance, List<Candidate> records)
      throws SQLException {
    beforeAppend(c);
    try (PreparedStatement ps =
        c.prepareStatement(
            "INSERT INTO audit_chain (instance, head_seq, head_hash, anchor_seq, anchor_hash)"
                + " VALUES (?, 0, '', 0, '') ON CONFLICT (instance) DO NOTHING")) {
      ps.setString(1, instance);
      ps.executeUpdate();
    }
    ChainHead head = lockChain(c, instance).head();
    int inserted = 0;
    int duplicates = 0;
    int pending = 0;
    long nextId = nextRowId(c);
    try (PreparedStatement insert = c.prepareStatement(nextId > 0 ? INSERT : INSERT_WITHOUT_ID)) {
      for (int i = 0; i < records.size(); i++) {
        Candidate r = records.get(i);
        if (r.hashMatches()
            && r.record().getSeq() == head.seq() + 1
            && r.prevHash().equals(head.hash())) {
          if (inserted + pending == 0) {
            Long foreign = firstRowAfter(c, instance, head.seq());
            if (foreign != null) {
              return new AppendResult.Blocked(foreign, head);
            }
          }
          bindInsert(insert, r);
          if (nextId > 0) {
            insert.setLong(18, nextId++);
          }
          insert.addBatch();
          pending++;
          head = new ChainHead(r.record().getSeq(), r.hash());
          continue;
        }
        if (pending > 0) {
          insert.executeBatch();
          inserted += pending;
          pending = 0;
        }
        if (isStored(c, r.record())) {
          duplicates++;
        } else {
          return new AppendResult.Diverged(i, head);
        }
      }
      if (pending > 0) {
        insert.executeBatch();
        inserted += pending;
      }
    }
    if (inserted > 0) {
      try (PreparedStatement ps =
          c.prepareStatement(
              "UPDATE audit_chain SET head_seq = ?, head_hash = ? WHERE instance = ?")) {
        ps.setLong(1, head.seq());
        ps.setString(2, head.hash());
        ps.setString(3, instance);
        ps.executeUpdate();
      }
    }
    return new AppendResult.Appended(inserted, duplicates, head);
  }

  /**
   * The {@code seq} of the first row of {@code instance} after {@code seq}, or {@code null}. Asked
   * under the chain's lock before a transaction's first insert (one seek of the chain's unique
   * index): with the head at {@code seq}, no append wrote such a row, and the insert at {@code seq
   * + 1} or a later one would fail on it however often the batch were re-linked.
   */
  private static @Nullable Long firstRowAfter(Connection c, String instance, long seq)
      throws SQLException {
    try (PreparedStatement ps =
        c.prepareStatement(
            "SELECT seq FROM audit_record WHERE instance = ? AND seq > ? ORDER BY seq LIMIT 1")) {
      ps.setString(1, instance);
      ps.setLong(2, seq);
      try (ResultSet rs = ps.executeQuery()) {
        return rs.next() ? rs.getLong(1) : null;
      }
    }
  }

  private static void bindInsert(PreparedStatement ps, Candidate candidate) throws SQLException {
    DecisionRecord r = candidate.record();
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
    ps.setString(15, candidate.prevHash());
    ps.setString(16, candidate.hash());
    ps.setBytes(17, candidate.canonical());
  }

  /**
   * The rows that may hold a record already: same decision id, instance and time ({@link #isStored}
   * compares their content). PostgreSQL finds them through the decision id index.
   */
  String storedCandidatesSql() {
    return "SELECT record FROM audit_record WHERE decision_id = ? AND instance = ? AND time_us = ?";
  }

  /** Whether a record with the same content (chain fields aside) is already stored. */
  private boolean isStored(Connection c, DecisionRecord r) throws SQLException {
    DecisionRecord wanted = RecordChain.unchained(r);
    try (PreparedStatement ps = c.prepareStatement(storedCandidatesSql())) {
      ps.setString(1, r.getDecisionId());
      ps.setString(2, r.getInstance());
      ps.setLong(3, DecisionRecords.timeMicros(r));
      try (ResultSet rs = ps.executeQuery()) {
        while (rs.next()) {
          try {
            if (RecordChain.unchained(DecisionRecord.parseFrom(rs.getBytes(1))).equals(wanted)) {
              return true;
            }
          } catch (InvalidProtocolBufferException e) {
            // An unreadable row is not this record; verify reports it.
          }
        }
      }
    }
    return false;
  }

  private record ChainRow(long headSeq, String headHash, long anchorSeq, String anchorHash) {
    ChainHead head() {
      return new ChainHead(headSeq, headHash);
    }
  }

  private ChainRow lockChain(Connection c, String instance) throws SQLException {
    ChainRow row = readChain(c, instance, lockSuffix());
    if (row == null) {
      throw new SQLException("audit_chain row for instance '" + instance + "' vanished");
    }
    return row;
  }

  private static @Nullable ChainRow readChain(Connection c, String instance, String suffix)
      throws SQLException {
    try (PreparedStatement ps =
        c.prepareStatement(
            "SELECT head_seq, head_hash, anchor_seq, anchor_hash FROM audit_chain"
                + " WHERE instance = ?"
                + suffix)) {
      ps.setString(1, instance);
      try (ResultSet rs = ps.executeQuery()) {
        return rs.next()
            ? new ChainRow(rs.getLong(1), rs.getString(2), rs.getLong(3), rs.getString(4))
            : null;
      }
    }
  }

  // ---- query and summary ----------------------------------------------------------------------

  /** What a page query returns, in this order ({@link #query} reads them by position). */
  static final String PAGE_COLUMNS =
      "id, time_us, decision_id, prev_hash, hash, record, instance, seq";

  /** The order of a page: newest first, ties broken by the row id. */
  static final String PAGE_ORDER = " ORDER BY time_us DESC, id DESC";

  /** The SQL and parameters of {@code query}'s page (one row more than the limit). */
  record Sql(String text, List<Object> params) {}

  /** Adds the conditions of every filter of {@code q} (not its cursor) to {@code where}. */
  void filters(AuditQuery q, List<String> where, List<Object> params) {
    filters(q, false, where, params);
  }

  /**
   * As {@link #filters(AuditQuery, List, List)}; with {@code prefixByIndex} the path prefix is
   * written as a range of the path index ({@link #pathRange}), else as a condition no index serves.
   */
  private void filters(
      AuditQuery q, boolean prefixByIndex, List<String> where, List<Object> params) {
    timeRange(q.since(), q.until(), where, params);
    equal("decision", q.decision(), false, where, params);
    equal("reason", q.reason(), true, where, params);
    equal("segment", q.segment(), false, where, params);
    equal("principal", q.principal(), false, where, params);
    equal("client", q.client(), true, where, params);
    equal("source_ip", q.sourceIp(), false, where, params);
    String prefix = q.pathPrefix();
    if (prefix != null) {
      String upper = prefixByIndex ? upperBound(prefix) : null;
      if (upper != null) {
        where.add(pathRange());
        params.add(prefix);
        params.add(upper);
      } else {
        where.add("substr(path, 1, ?) = ?");
        params.add(prefix.length());
        params.add(prefix);
      }
    }
    if (q.dryRunOnly()) {
      where.add("dry_run_reason <> ''");
    }
  }

  /**
   * {@code path >= ? AND path < ?} in the form the path index serves (byte order), for a prefix and
   * its {@link #upperBound}.
   */
  abstract String pathRange();

  /**
   * The smallest string greater than every string starting with {@code prefix}, for an ASCII prefix
   * (normalized paths are ASCII: other bytes are percent-encoded); {@code null} otherwise.
   */
  static @Nullable String upperBound(String prefix) {
    for (int i = 0; i < prefix.length(); i++) {
      if (prefix.charAt(i) >= 0x7f) {
        return null;
      }
    }
    char last = prefix.charAt(prefix.length() - 1);
    return prefix.substring(0, prefix.length() - 1) + (char) (last + 1);
  }

  /** The page query, with the path prefix as a condition that no index serves. */
  Sql querySql(AuditQuery q) {
    return querySql(q, false);
  }

  /**
   * The page query; with {@code prefixByIndex} the rows come from the path index's range of the
   * prefix and are sorted (for a rare prefix), else from the index that yields them in time order.
   */
  Sql querySql(AuditQuery q, boolean prefixByIndex) {
    List<String> where = new ArrayList<>();
    List<Object> params = new ArrayList<>();
    filters(q, prefixByIndex, where, params);
    AuditCursor cursor = q.cursor();
    if (cursor != null) {
      where.add(olderThan(cursor, params));
    }
    String columns = PAGE_COLUMNS;
    String order = PAGE_ORDER;
    String filtered = where.isEmpty() ? "" : " WHERE " + String.join(" AND ", where);
    params.add(q.limit() + 1);
    if (prefixByIndex) {
      // Sort the matching index entries (path, time_us, id), not whole rows: only
      // the page's rows are then read from the table.
      String page = "SELECT id FROM audit_record" + filtered + order + " LIMIT ?";
      return new Sql(
          "SELECT " + columns + " FROM audit_record WHERE id IN (" + page + ")" + order, params);
    }
    return new Sql(
        "SELECT " + columns + " FROM audit_record" + filtered + order + " LIMIT ?", params);
  }

  /**
   * Whether {@code q}'s page should come from the path index. Only for a path prefix without an
   * equality filter (those have indexes in time order, and the prefix is checked on their rows),
   * and only when the prefix is rare: at most {@value #RARE_PREFIX} records in the range, counted
   * through the index. Then sorting them is cheap, while walking the time index to find a page of a
   * rare prefix could read the whole log. A common prefix is found quickly walking newest first
   * (about {@code limit * total / matches} rows). The one slow case left is a prefix that is common
   * in the range but absent from its newest part; a {@code since}/{@code until} bounds it.
   */
  final boolean prefixByIndex(Connection c, AuditQuery q) throws SQLException {
    if (q.pathPrefix() == null
        || upperBound(q.pathPrefix()) == null
        || q.decision() != null
        || q.reason() != null
        || q.segment() != null
        || q.principal() != null
        || q.client() != null
        || q.sourceIp() != null
        || q.dryRunOnly()) {
      return false;
    }
    try (PreparedStatement ps = prepare(c, prefixCountSql(q, RARE_PREFIX + 1));
        ResultSet rs = ps.executeQuery()) {
      return rs.next() && rs.getLong(1) <= RARE_PREFIX;
    }
  }

  /**
   * Counts, up to {@code max}, the records in the path prefix range of {@code q} (and its time
   * range), reading the path index.
   */
  Sql prefixCountSql(AuditQuery q, int max) {
    List<String> where = new ArrayList<>();
    List<Object> params = new ArrayList<>();
    filters(q, true, where, params);
    params.add(max);
    return new Sql(
        "SELECT count(*) FROM (SELECT 1 FROM audit_record WHERE "
            + String.join(" AND ", where)
            + " LIMIT ?) AS matches",
        params);
  }

  @Override
  public AuditPage query(AuditQuery q) {
    try (Connection c = db.connection()) {
      return page(c, q, prefixByIndex(c, q));
    } catch (SQLException e) {
      throw failure("querying audit records", e);
    }
  }

  /**
   * {@code q}'s page with the path prefix read from the path index or not, whatever the prefix's
   * size ({@link #query} decides by it; tests compare both).
   */
  final AuditPage query(AuditQuery q, boolean prefixByIndex) {
    try (Connection c = db.connection()) {
      return page(c, q, prefixByIndex);
    } catch (SQLException e) {
      throw failure("querying audit records", e);
    }
  }

  /** Reads {@code q}'s page on {@code c}: one statement, {@link #querySql}. */
  AuditPage page(Connection c, AuditQuery q, boolean prefixByIndex) throws SQLException {
    List<PageRow> rows = new ArrayList<>(Math.min(q.limit() + 1, 257));
    try (PreparedStatement ps = prepare(c, querySql(q, prefixByIndex));
        ResultSet rs = ps.executeQuery()) {
      PageRow.read(rs, q.limit() + 1, rows);
    }
    return page(rows, q.limit());
  }

  /** One row of a page, as {@link #PAGE_COLUMNS} gives it. */
  record PageRow(
      long id,
      long timeUs,
      String decisionId,
      String prevHash,
      String hash,
      byte[] canonical,
      String instance,
      long seq) {

    /** Newest first, ties broken by the row id: the order of {@link #PAGE_ORDER}. */
    static final Comparator<PageRow> ORDER =
        Comparator.comparingLong(PageRow::timeUs).thenComparingLong(PageRow::id).reversed();

    /** Adds up to {@code max} rows of {@code rs} (columns {@link #PAGE_COLUMNS}) to {@code to}. */
    static void read(ResultSet rs, int max, List<PageRow> to) throws SQLException {
      for (int n = 0; n < max && rs.next(); n++) {
        to.add(
            new PageRow(
                rs.getLong(1),
                rs.getLong(2),
                rs.getString(3),
                rs.getString(4),
                rs.getString(5),
                rs.getBytes(6),
                rs.getString(7),
                rs.getLong(8)));
      }
    }
  }

  /**
   * The page of the first {@code limit} of {@code rows} (in page order); a row beyond them means
   * there is more, after the cursor of the page's last record. A row whose record cannot be read
   * ({@link #readable}) is an {@link #unreadable} entry in its place, so the page and the cursor go
   * on past it.
   */
  final AuditPage page(List<PageRow> rows, int limit) {
    int n = Math.min(rows.size(), limit);
    List<DecisionRecord> records = new ArrayList<>(n);
    for (int i = 0; i < n; i++) {
      PageRow r = rows.get(i);
      DecisionRecord record =
          readable(r.canonical(), r.instance(), r.seq(), r.prevHash(), r.hash());
      records.add(record != null ? record : unreadable(r));
    }
    PageRow last = n == 0 ? null : rows.get(n - 1);
    return new AuditPage(
        records,
        rows.size() > limit && last != null ? new AuditCursor(last.timeUs(), last.id()) : null);
  }

  /**
   * The entry a page holds in place of a row whose record cannot be read: what the row's own
   * columns say (instance, seq, decision id, time, prev_hash, hash) and {@code unreadable}. The
   * other columns (decision, path, principal, ...) are left out: they are copies that only the
   * record could vouch for. A time outside what a record can hold is left out too, so the entry can
   * be printed. Logs a WARN the first time this store returns the row (not its bytes).
   */
  private DecisionRecord unreadable(PageRow r) {
    warnUnreadable(r);
    return unreadableEntry(
        r.instance(), r.seq(), r.decisionId(), r.timeUs(), r.prevHash(), r.hash());
  }

  /**
   * The entry that stands for a row whose record cannot be read, in a page ({@link #query}) and in
   * a chain read ({@link #readChain}) alike: the row's own columns and {@code unreadable}; {@code
   * time} only when {@code timeUs} is a valid timestamp.
   */
  private static DecisionRecord unreadableEntry(
      String instance, long seq, String decisionId, long timeUs, String prevHash, String hash) {
    DecisionRecord.Builder b =
        DecisionRecord.newBuilder()
            .setDecisionId(decisionId)
            .setInstance(instance)
            .setSeq(seq)
            .setPrevHash(prevHash)
            .setHash(hash)
            .setUnreadable(true);
    Timestamp time =
        Timestamp.newBuilder()
            .setSeconds(Math.floorDiv(timeUs, 1_000_000L))
            .setNanos((int) Math.floorMod(timeUs, 1_000_000L) * 1_000)
            .build();
    if (Timestamps.isValid(time)) {
      b.setTime(time);
    }
    return b.build();
  }

  /**
   * Logs and counts ({@link #unreadableRowsFound()}) that a query met a row whose record cannot be
   * read, once per row (and again if its hash column changes): every page, web page refresh and
   * cursor walk through it would otherwise log it again. Bounded: past {@value #MAX_WARNED} rows
   * the memory is cleared.
   */
  private void warnUnreadable(PageRow r) {
    if (warned.size() >= MAX_WARNED) {
      warned.clear();
    }
    if (warned.add(List.of(r.instance(), r.seq(), r.hash()))) {
      unreadableRowsFound.increment();
      log.warn(
          "audit record seq {} of instance {} (decision_id {}) cannot be read: its stored bytes"
              + " are not a decision record of that row (damaged or edited); queries return it as"
              + " an \"unreadable\" entry. Run portcullis audit verify",
          r.seq(),
          forLog(r.instance()),
          forLog(r.decisionId()));
    }
  }

  @Override
  public long unreadableRowsFound() {
    return unreadableRowsFound.sum();
  }

  /** A column value for a log line: control characters as {@code ?}, at most 64 characters. */
  private static String forLog(String s) {
    StringBuilder b = new StringBuilder(s.length());
    s.codePoints().forEach(c -> b.appendCodePoint(Character.isISOControl(c) ? '?' : c));
    return clip(b.toString());
  }

  /**
   * The stored record with its chain columns, or {@code null} if its bytes do not parse, or parse
   * as a record of another instance or seq than the row's (the row was damaged or edited, e.g. the
   * bytes of another record copied into it: shipped as this row, it would duplicate that record
   * under a new key and hide this one; verify reports it), or as a record that no writer makes and
   * no reader could print: one marked {@code unreadable}, or whose time is not a valid timestamp.
   */
  private static @Nullable DecisionRecord readable(
      byte @Nullable [] canonical, String instance, long seq, String prevHash, String hash) {
    if (canonical == null) {
      return null;
    }
    DecisionRecord record;
    try {
      record = DecisionRecord.parseFrom(canonical);
    } catch (InvalidProtocolBufferException e) {
      return null;
    }
    if (record.getSeq() != seq
        || !record.getInstance().equals(instance)
        || record.getUnreadable()
        || !Timestamps.isValid(record.getTime())) {
      return null;
    }
    return record.toBuilder().setPrevHash(prevHash).setHash(hash).build();
  }

  @Override
  public List<SummaryRow> summary(
      @Nullable Instant since, @Nullable Instant until, List<SummaryDimension> groupBy) {
    List<String> where = new ArrayList<>();
    List<Object> params = new ArrayList<>();
    timeRange(since, until, where, params);
    return summarize("audit_record", where, params, groupBy, null);
  }

  @Override
  public List<SummaryRow> summary(AuditQuery filter, List<SummaryDimension> groupBy) {
    List<String> where = new ArrayList<>();
    List<Object> params = new ArrayList<>();
    String from = countedRows(filter, where, params);
    filters(filter, where, params);
    return summarize(from, where, params, groupBy, filter.limit());
  }

  /**
   * What a summary or timeline of {@code q} reads, as the text after {@code FROM}, adding to {@code
   * where} what restricts it: by default the table, whose indexes serve every filter.
   */
  String countedRows(AuditQuery q, List<String> where, List<Object> params) {
    return "audit_record";
  }

  private List<SummaryRow> summarize(
      String from,
      List<String> where,
      List<Object> params,
      List<SummaryDimension> groupBy,
      @Nullable Integer maxRows) {
    List<String> columns = groupBy.stream().distinct().map(SummaryDimension::fieldName).toList();
    String cols = String.join(", ", columns);
    if (maxRows != null) {
      params.add(maxRows);
    }
    String sql =
        "SELECT "
            + (columns.isEmpty() ? "" : cols + ", ")
            + "count(*) AS n FROM "
            + from
            + (where.isEmpty() ? "" : " WHERE " + String.join(" AND ", where))
            + (columns.isEmpty() ? "" : " GROUP BY " + cols)
            + " ORDER BY n DESC"
            + (columns.isEmpty() ? "" : ", " + cols)
            + (maxRows == null ? "" : " LIMIT ?");
    List<SummaryRow> rows = new ArrayList<>();
    try (Connection c = db.connection();
        PreparedStatement ps = prepare(c, new Sql(sql, params));
        ResultSet rs = ps.executeQuery()) {
      while (rs.next()) {
        Map<String, String> group = new LinkedHashMap<>();
        for (int i = 0; i < columns.size(); i++) {
          group.put(columns.get(i), rs.getString(i + 1));
        }
        long n = rs.getLong(columns.size() + 1);
        if (columns.isEmpty() && n == 0) {
          continue;
        }
        rows.add(new SummaryRow(group, n));
      }
    } catch (SQLException e) {
      throw failure("summarizing audit records", e);
    }
    return rows;
  }

  @Override
  public List<TimelineBucket> timeline(AuditQuery filter, Duration width) {
    Instant since = filter.since();
    Instant until = filter.until();
    if (since == null || until == null) {
      throw new IllegalArgumentException("a timeline needs since and until");
    }
    long widthUs = width.toNanos() / 1_000;
    if (widthUs < 1) {
      throw new IllegalArgumentException("the bucket width must be at least 1 microsecond");
    }
    long sinceUs = DecisionRecords.micros(since);
    long rangeUs = DecisionRecords.micros(until) - sinceUs;
    long buckets = Math.max(1, (rangeUs + widthUs - 1) / widthUs);
    if (buckets > MAX_TIMELINE_BUCKETS) {
      throw new IllegalArgumentException(
          "the range needs " + buckets + " buckets, more than " + MAX_TIMELINE_BUCKETS);
    }
    long[][] counts = new long[(int) buckets][3];
    // One count per kind, each served by an index that holds time_us (decision, dry-run): with
    // only a time range these are index-only scans, not reads of every record in the range.
    String[] kinds = {"decision = 'allow'", "decision = 'deny'", "dry_run_reason <> ''"};
    List<Object> params = new ArrayList<>();
    List<String> branches = new ArrayList<>();
    for (int k = 0; k < kinds.length; k++) {
      params.add(sinceUs);
      params.add(widthUs);
      List<String> where = new ArrayList<>();
      where.add(kinds[k]);
      String from = countedRows(filter, where, params);
      filters(filter, where, params);
      branches.add(
          "SELECT (time_us - ?) / ? AS b, "
              + k
              + " AS k, count(*) AS n FROM "
              + from
              + " WHERE "
              + String.join(" AND ", where)
              + " GROUP BY b");
    }
    String sql = String.join(" UNION ALL ", branches);
    try (Connection c = db.connection();
        PreparedStatement ps = prepare(c, new Sql(sql, params));
        ResultSet rs = ps.executeQuery()) {
      while (rs.next()) {
        long b = rs.getLong(1);
        if (b >= 0 && b < buckets) {
          counts[(int) b][rs.getInt(2)] += rs.getLong(3);
        }
      }
    } catch (SQLException e) {
      throw failure("counting audit records over time", e);
    }
    List<TimelineBucket> out = new ArrayList<>((int) buckets);
    for (int i = 0; i < buckets; i++) {
      Instant start = since.plusNanos(Math.multiplyExact(i * widthUs, 1_000L));
      out.add(new TimelineBucket(start, counts[i][0], counts[i][1], counts[i][2]));
    }
    return out;
  }

  private static void timeRange(
      @Nullable Instant since, @Nullable Instant until, List<String> where, List<Object> params) {
    if (since != null) {
      where.add("time_us >= ?");
      params.add(DecisionRecords.micros(since));
    }
    if (until != null) {
      where.add("time_us < ?");
      params.add(DecisionRecords.micros(until));
    }
  }

  /**
   * {@code column = ?}; for columns with a partial index ({@code WHERE column <> ''}) the implied
   * condition is spelled out, since a planner cannot prove it from a bound parameter.
   */
  private static void equal(
      String column,
      @Nullable String value,
      boolean partialIndex,
      List<String> where,
      List<Object> params) {
    if (value == null) {
      return;
    }
    where.add(column + " = ?" + (partialIndex ? " AND " + column + " <> ''" : ""));
    params.add(value);
  }

  static PreparedStatement prepare(Connection c, Sql sql) throws SQLException {
    PreparedStatement ps = c.prepareStatement(sql.text());
    try {
      for (int i = 0; i < sql.params().size(); i++) {
        ps.setObject(i + 1, sql.params().get(i));
      }
      return ps;
    } catch (SQLException e) {
      ps.close();
      throw e;
    }
  }

  // ---- reading chains in order (export) --------------------------------------------------------

  @Override
  public List<ChainPosition> chains() {
    List<ChainPosition> out = new ArrayList<>();
    try (Connection c = db.connection();
        PreparedStatement ps =
            c.prepareStatement(
                "SELECT instance, anchor_seq, anchor_hash, head_seq, head_hash FROM audit_chain"
                    + " ORDER BY instance");
        ResultSet rs = ps.executeQuery()) {
      while (rs.next()) {
        out.add(
            new ChainPosition(
                rs.getString(1),
                new ChainHead(rs.getLong(2), rs.getString(3)),
                new ChainHead(rs.getLong(4), rs.getString(5))));
      }
    } catch (SQLException e) {
      throw failure("listing audit chains", e);
    }
    return out;
  }

  /**
   * The statement of {@link #readChain}: one range read of the {@code (instance, seq)} index,
   * bounded by the chain row read in the same statement (so in the same snapshot as the records).
   *
   * <p>Why "{@code seq > last}" is a complete cursor, unlike the row id or the time: an append
   * writes records of one chain only as its continuation ({@code seq = head + 1}, checked under the
   * chain's lock: PostgreSQL's {@code SELECT ... FOR UPDATE} of the {@code audit_chain} row,
   * SQLite's single write lock of {@code BEGIN IMMEDIATE}) and moves the head in the same
   * transaction. So the transaction writing {@code seq = n + 1} can only start its inserts once the
   * one that wrote {@code n} has committed (PostgreSQL releases the row lock only after the commit
   * is visible to new snapshots), and a snapshot that sees any record of a chain sees every earlier
   * one that is still stored: records commit in {@code seq} order, per chain. Retention deletes
   * only a prefix and moves the anchor in one transaction. Row ids do not have this order in
   * PostgreSQL (an identity value is taken at insert, and two instances' transactions commit in
   * either order), and times do not in either (writers' clocks, journal replays).
   */
  Sql readChainSql(String instance, long afterSeq, int limit) {
    return new Sql(
        "SELECT seq, prev_hash, hash, record, decision_id, time_us FROM audit_record"
            + " WHERE instance = ? AND seq > ?"
            + " AND seq > (SELECT anchor_seq FROM audit_chain WHERE instance = ?)"
            + " AND seq <= (SELECT head_seq FROM audit_chain WHERE instance = ?)"
            + " ORDER BY seq LIMIT ?",
        List.of(instance, afterSeq, instance, instance, limit));
  }

  @Override
  public List<ChainEntry> readChain(String instance, long afterSeq, int limit) {
    if (limit < 1) {
      throw new IllegalArgumentException("limit must be positive");
    }
    List<ChainEntry> out = new ArrayList<>(Math.min(limit, 1_024));
    try (Connection c = db.connection();
        PreparedStatement ps = prepare(c, readChainSql(instance, afterSeq, limit));
        ResultSet rs = ps.executeQuery()) {
      while (rs.next()) {
        long seq = rs.getLong(1);
        String prevHash = rs.getString(2);
        String hash = rs.getString(3);
        DecisionRecord record = readable(rs.getBytes(4), instance, seq, prevHash, hash);
        out.add(
            new ChainEntry(
                seq,
                prevHash,
                hash,
                record != null
                    ? record
                    : unreadableEntry(
                        instance, seq, rs.getString(5), rs.getLong(6), prevHash, hash)));
      }
    } catch (SQLException e) {
      throw failure("reading the audit chain of instance '" + instance + "'", e);
    }
    return out;
  }

  @Override
  public @Nullable Long firstSeqAtOrAfter(String instance, Instant time) {
    try (Connection c = db.connection();
        PreparedStatement ps =
            c.prepareStatement(
                "SELECT min(seq) FROM audit_record WHERE instance = ? AND time_us >= ?"
                    + " AND seq > (SELECT anchor_seq FROM audit_chain WHERE instance = ?)"
                    + " AND seq <= (SELECT head_seq FROM audit_chain WHERE instance = ?)")) {
      ps.setString(1, instance);
      ps.setLong(2, DecisionRecords.micros(time));
      ps.setString(3, instance);
      ps.setString(4, instance);
      try (ResultSet rs = ps.executeQuery()) {
        if (rs.next()) {
          long seq = rs.getLong(1);
          return rs.wasNull() ? null : seq;
        }
        return null;
      }
    } catch (SQLException e) {
      throw failure("finding where the audit chain of instance '" + instance + "' starts", e);
    }
  }

  // ---- verify ---------------------------------------------------------------------------------

  @Override
  public ChainVerification verify() {
    long checked = 0;
    try (Connection c = db.connection()) {
      for (String instance : instances(c)) {
        ChainVerification v = verifyChain(c, instance, checked);
        if (v instanceof ChainVerification.Broken) {
          return v;
        }
        checked = v.checked();
      }
    } catch (SQLException e) {
      throw failure("verifying the audit chain", e);
    }
    return new ChainVerification.Intact(checked);
  }

  /** Every instance that has a chain row or a record, in name order. */
  private static TreeSet<String> instances(Connection c) throws SQLException {
    TreeSet<String> out = new TreeSet<>();
    try (PreparedStatement ps = c.prepareStatement("SELECT instance FROM audit_chain");
        ResultSet rs = ps.executeQuery()) {
      while (rs.next()) {
        out.add(rs.getString(1));
      }
    }
    // Distinct instances by index seeks (a skip scan), not by reading every row.
    try (PreparedStatement first = c.prepareStatement("SELECT min(instance) FROM audit_record");
        PreparedStatement next =
            c.prepareStatement("SELECT min(instance) FROM audit_record WHERE instance > ?")) {
      String current;
      try (ResultSet rs = first.executeQuery()) {
        current = rs.next() ? rs.getString(1) : null;
      }
      while (current != null) {
        out.add(current);
        next.setString(1, current);
        try (ResultSet rs = next.executeQuery()) {
          current = rs.next() ? rs.getString(1) : null;
        }
      }
    }
    return out;
  }

  private ChainVerification verifyChain(Connection c, String instance, long checkedBefore)
      throws SQLException {
    long checked = checkedBefore;
    ChainRow chain = readChain(c, instance, "");
    if (chain == null) {
      return firstRecordWithoutChain(c, instance, checked);
    }
    long expectedSeq = chain.anchorSeq() + 1;
    String prevHash = chain.anchorHash();
    String lastDecisionId = "";
    long lastSeq = chain.anchorSeq();
    try (PreparedStatement ps =
        c.prepareStatement(
            "SELECT "
                + CHECKED_COLUMNS
                + " FROM audit_record WHERE instance = ? AND seq > ? AND seq <= ?"
                + " ORDER BY seq LIMIT "
                + CHUNK)) {
      boolean more = true;
      while (more) {
        ps.setString(1, instance);
        ps.setLong(2, lastSeq);
        ps.setLong(3, chain.headSeq());
        int n = 0;
        try (ResultSet rs = ps.executeQuery()) {
          while (rs.next()) {
            n++;
            long seq = rs.getLong("seq");
            String decisionId = rs.getString("decision_id");
            if (seq != expectedSeq) {
              // Retention may have moved the anchor since the walk started.
              ChainRow now = readChain(c, instance, "");
              if (now != null
                  && now.anchorSeq() == seq - 1
                  && now.anchorHash().equals(rs.getString("prev_hash"))
                  && expectedSeq <= now.anchorSeq()) {
                prevHash = now.anchorHash();
              } else {
                return broken(checked, instance, seq, decisionId, missing(expectedSeq, seq - 1));
              }
            }
            String problem = check(rs, instance, prevHash);
            if (problem != null) {
              return broken(checked, instance, seq, decisionId, problem);
            }
            prevHash = rs.getString("hash");
            expectedSeq = seq + 1;
            lastSeq = seq;
            lastDecisionId = decisionId;
            checked++;
          }
        }
        more = n == CHUNK;
      }
    }
    if (lastSeq != chain.headSeq()) {
      ChainRow now = readChain(c, instance, "");
      if (now == null || now.anchorSeq() < chain.headSeq()) {
        return broken(
            checked,
            instance,
            lastSeq,
            lastDecisionId,
            missing(lastSeq + 1, chain.headSeq()) + " at the end of the chain");
      }
    } else if (!prevHash.equals(chain.headHash())) {
      return broken(
          checked, instance, lastSeq, lastDecisionId, "hash differs from the recorded chain head");
    }
    ChainVerification.Broken outside = recordOutsideChain(c, instance, checked);
    return outside != null ? outside : new ChainVerification.Intact(checked);
  }

  /**
   * The first record of {@code instance} outside its chain, {@code anchor_seq < seq <= head_seq},
   * or {@code null} if there is none. The walk reads only the chain, so without this a row inserted
   * by hand before the anchor or after the head would never be checked, yet queries, summaries and
   * the web page show it. Neither can be there legitimately: retention deletes records and moves
   * the anchor in one transaction, an append inserts records and moves the head in one. Each query
   * reads the chain row in the same statement (one snapshot, so a concurrent append or retention
   * cannot make a genuine record look outside) and seeks the {@code (instance, seq)} index: two
   * empty range reads on an intact log.
   */
  private static ChainVerification.@Nullable Broken recordOutsideChain(
      Connection c, String instance, long checked) throws SQLException {
    String[][] sides = {
      {"r.seq <= h.anchor_seq", "h.anchor_seq", "at or before the chain anchor"},
      {"r.seq > h.head_seq", "h.head_seq", "after the chain head"},
    };
    for (String[] side : sides) {
      try (PreparedStatement ps =
          c.prepareStatement(
              "SELECT r.seq, r.decision_id, "
                  + side[1]
                  + " FROM audit_chain h JOIN audit_record r ON r.instance = h.instance"
                  + " WHERE h.instance = ? AND "
                  + side[0]
                  + " ORDER BY r.seq LIMIT 1")) {
        ps.setString(1, instance);
        try (ResultSet rs = ps.executeQuery()) {
          if (rs.next()) {
            long seq = rs.getLong(1);
            return broken(
                checked,
                instance,
                seq,
                rs.getString(2),
                "record seq "
                    + seq
                    + " lies "
                    + side[2]
                    + " (seq "
                    + rs.getLong(3)
                    + "), outside the chain (inserted, or the chain row was moved)");
          }
        }
      }
    }
    return null;
  }

  private static ChainVerification.Broken firstRecordWithoutChain(
      Connection c, String instance, long checked) throws SQLException {
    try (PreparedStatement ps =
        c.prepareStatement(
            "SELECT seq, decision_id FROM audit_record WHERE instance = ? ORDER BY seq LIMIT 1")) {
      ps.setString(1, instance);
      try (ResultSet rs = ps.executeQuery()) {
        long seq = rs.next() ? rs.getLong(1) : 0;
        String id = seq == 0 ? "" : rs.getString(2);
        return broken(checked, instance, seq, id, "records exist but the chain head row is gone");
      }
    }
  }

  /** What is wrong with the current row, or {@code null} if it verifies. */
  private static @Nullable String check(ResultSet rs, String instance, String prevHash)
      throws SQLException {
    byte[] canonical = rs.getBytes("record");
    DecisionRecord r;
    try {
      r = DecisionRecord.parseFrom(canonical);
    } catch (InvalidProtocolBufferException e) {
      return "record bytes are not a readable DecisionRecord (record edited)";
    }
    // what no writer makes, and what queries and export show as unreadable (readable()): verify
    // must name it too, even when its hashes were recomputed to match
    if (r.getUnreadable()) {
      return "the record claims to be an unreadable entry, which no writer stores (record edited)";
    }
    if (!Timestamps.isValid(r.getTime())) {
      return "the record's time is not a valid timestamp (record edited)";
    }
    String altered = alteredColumn(rs, r, instance);
    if (altered != null) {
      return altered;
    }
    String storedPrev = rs.getString("prev_hash");
    if (!storedPrev.equals(prevHash)) {
      return "prev_hash does not match the previous record's hash (record edited or reordered)";
    }
    String expected;
    try {
      expected = RecordChain.hash(storedPrev, canonical);
    } catch (IllegalArgumentException e) {
      return "prev_hash is not a SHA-256 hex digest (record edited)";
    }
    if (!expected.equals(rs.getString("hash"))) {
      return "hash does not match the record's content (record edited)";
    }
    return null;
  }

  private static @Nullable String alteredColumn(ResultSet rs, DecisionRecord r, String instance)
      throws SQLException {
    if (!r.getInstance().equals(instance)) {
      return altered("instance", r.getInstance(), instance);
    }
    if (r.getSeq() != rs.getLong("seq")) {
      return altered("seq", Long.toString(r.getSeq()), Long.toString(rs.getLong("seq")));
    }
    long timeUs = DecisionRecords.timeMicros(r);
    if (timeUs != rs.getLong("time_us")) {
      return altered("time_us", Long.toString(timeUs), Long.toString(rs.getLong("time_us")));
    }
    String[][] pairs = {
      {"decision_id", r.getDecisionId()},
      {"decision", r.getDecision()},
      {"reason", r.getReason()},
      {"dry_run_reason", r.getDryRunReason()},
      {"dry_run_rule", r.getDryRunRule()},
      {"segment", r.getSegment()},
      {"rule", r.getRule()},
      {"principal", r.getPrincipal()},
      {"client", r.getClient()},
      {"source_ip", r.getSourceIp()},
      {"path", r.getPath()},
    };
    for (String[] p : pairs) {
      String column = rs.getString(p[0]);
      if (!p[1].equals(column)) {
        return altered(p[0], p[1], column);
      }
    }
    return null;
  }

  private static String altered(String column, String recorded, @Nullable String stored) {
    return "column "
        + column
        + " was altered (record says '"
        + clip(recorded)
        + "', column says '"
        + clip(stored == null ? "NULL" : stored)
        + "')";
  }

  private static String clip(String s) {
    return s.length() <= 64 ? s : s.substring(0, 64) + "...";
  }

  private static String missing(long from, long to) {
    return from == to
        ? "record seq " + from + " is missing (deleted)"
        : "records seq " + from + ".." + to + " are missing (deleted)";
  }

  private static ChainVerification.Broken broken(
      long checked, String instance, long seq, String decisionId, String detail) {
    return new ChainVerification.Broken(
        checked, instance, seq, decisionId, "instance " + instance + ": " + detail);
  }

  // ---- retention ------------------------------------------------------------------------------

  @Override
  public long deleteBefore(Instant cutoff, int batchSize) {
    if (batchSize < 1) {
      throw new IllegalArgumentException("batchSize must be positive");
    }
    long cutoffUs = DecisionRecords.micros(cutoff);
    TreeSet<String> instances;
    try (Connection c = db.connection()) {
      instances = instances(c);
    } catch (SQLException e) {
      throw failure("listing audit chains", e);
    }
    long deleted = 0;
    for (String instance : instances) {
      int n;
      do {
        n =
            transaction(
                "deleting expired audit records",
                c -> deletePrefix(c, instance, cutoffUs, batchSize),
                x -> true);
        deleted += n;
      } while (n == batchSize);
    }
    return deleted;
  }

  @Override
  public @Nullable RetentionStall retentionStall(Instant cutoff) {
    long cutoffUs = DecisionRecords.micros(cutoff);
    try (Connection c = db.connection()) {
      String instance;
      long expiredSeq;
      // The oldest expired record, through the time index: nothing to read after a run that could
      // delete everything expired.
      try (PreparedStatement ps =
          c.prepareStatement(
              "SELECT instance, seq FROM audit_record WHERE time_us < ? ORDER BY time_us LIMIT 1")) {
        ps.setLong(1, cutoffUs);
        try (ResultSet rs = ps.executeQuery()) {
          if (!rs.next()) {
            return null;
          }
          instance = rs.getString(1);
          expiredSeq = rs.getLong(2);
        }
      }
      ChainRow chain = readChain(c, instance, "");
      if (chain == null) {
        return null; // records without a chain: verify reports them
      }
      try (PreparedStatement ps =
          c.prepareStatement(
              "SELECT seq, time_us FROM audit_record WHERE instance = ? AND seq > ?"
                  + " ORDER BY seq LIMIT 1")) {
        ps.setString(1, instance);
        ps.setLong(2, chain.anchorSeq());
        try (ResultSet rs = ps.executeQuery()) {
          if (!rs.next() || rs.getLong(2) < cutoffUs || rs.getLong(1) >= expiredSeq) {
            return null; // not blocked: the next run deletes it
          }
          return new RetentionStall(
              instance,
              rs.getLong(1),
              Instant.EPOCH.plus(rs.getLong(2), ChronoUnit.MICROS),
              expiredSeq);
        }
      }
    } catch (SQLException e) {
      throw failure("looking for stalled audit retention", e);
    }
  }

  /**
   * Deletes, in the caller's transaction, up to {@code batchSize} of the oldest records of one
   * chain that are all older than the cutoff, and moves the anchor to the last one.
   *
   * @return records deleted; less than {@code batchSize} when the chain's old prefix is gone
   */
  private int deletePrefix(Connection c, String instance, long cutoffUs, int batchSize)
      throws SQLException {
    ChainRow chain = readChain(c, instance, lockSuffix());
    if (chain == null) {
      return 0; // records without a chain row: left for verify to report
    }
    long lastSeq = -1;
    String lastHash = "";
    int count = 0;
    try (PreparedStatement ps =
        c.prepareStatement(
            "SELECT seq, time_us, hash FROM audit_record WHERE instance = ? AND seq > ?"
                + " ORDER BY seq LIMIT ?")) {
      ps.setString(1, instance);
      ps.setLong(2, chain.anchorSeq());
      ps.setInt(3, batchSize);
      try (ResultSet rs = ps.executeQuery()) {
        while (rs.next() && rs.getLong(2) < cutoffUs) {
          lastSeq = rs.getLong(1);
          lastHash = rs.getString(3);
          count++;
        }
      }
    }
    if (count == 0) {
      return 0;
    }
    beforeDelete(c, instance, chain.anchorSeq(), lastSeq);
    int deleted;
    try (PreparedStatement ps =
        c.prepareStatement(
            "DELETE FROM audit_record WHERE instance = ? AND seq > ? AND seq <= ?")) {
      ps.setString(1, instance);
      ps.setLong(2, chain.anchorSeq());
      ps.setLong(3, lastSeq);
      deleted = ps.executeUpdate();
    }
    try (PreparedStatement ps =
        c.prepareStatement(
            "UPDATE audit_chain SET anchor_seq = ?, anchor_hash = ? WHERE instance = ?")) {
      ps.setLong(1, lastSeq);
      ps.setString(2, lastHash);
      ps.setString(3, instance);
      ps.executeUpdate();
    }
    return deleted;
  }

  private static void closeQuietly(Connection c) {
    try {
      c.close();
    } catch (SQLException e) {
      // returning a connection to the pool does not fail in practice
    }
  }

  private static void rollbackQuietly(Connection c, Exception cause) {
    try {
      c.rollback();
    } catch (SQLException e) {
      cause.addSuppressed(e);
    }
  }

  final StoreException failure(String what, SQLException e) {
    return new StoreException(what + " in " + db.url() + " failed: " + e.getMessage(), e);
  }
}
