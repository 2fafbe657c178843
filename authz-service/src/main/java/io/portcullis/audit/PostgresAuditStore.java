package io.portcullis.audit;

import io.portcullis.store.Database;
import io.portcullis.store.DatabaseKind;
import java.sql.Connection;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.util.List;

/**
 * The audit store in a shared PostgreSQL database. A chain's row in {@code audit_chain} is locked
 * ({@code SELECT ... FOR UPDATE}) for the length of an append or a retention batch, so instances
 * write their chains in parallel and two writers of one chain queue up instead of forking it. The
 * keyset seek is a row-value comparison, which PostgreSQL matches to the composite indexes.
 *
 * <p>An append's statements run under {@code statement_timeout} (the append timeout) and its
 * connection under a network timeout of twice that: a statement waiting for a lock another session
 * holds (a {@code LOCK TABLE}, a long migration) is cancelled by the server, and one whose server
 * stopped answering ends at the client, instead of after the driver's 120 s socket timeout. The
 * audit writer journals records meanwhile in either case (it waits for the store only that long).
 */
public final class PostgresAuditStore extends JdbcAuditStore {
  private final Duration appendTimeout;

  /** A store whose appends are bounded by {@link AuditSettings#DEFAULT_STORE_TIMEOUT}. */
  public PostgresAuditStore(Database database) {
    this(database, AuditSettings.DEFAULT_STORE_TIMEOUT);
  }

  /**
   * @param appendTimeout how long each statement of an append may run ({@code statement_timeout});
   *     the audit writer's {@code store_timeout}
   */
  public PostgresAuditStore(Database database, Duration appendTimeout) {
    super(requireKind(database));
    if (appendTimeout.isNegative() || appendTimeout.isZero()) {
      throw new IllegalArgumentException("appendTimeout must be positive");
    }
    this.appendTimeout = appendTimeout;
  }

  private static Database requireKind(Database database) {
    if (database.kind() != DatabaseKind.POSTGRESQL) {
      throw new IllegalArgumentException("PostgresAuditStore needs a PostgreSQL database");
    }
    return database;
  }

  @Override
  void beforeAppend(Connection c) throws SQLException {
    long ms = Math.max(1, Math.min(appendTimeout.toMillis(), Integer.MAX_VALUE / 2));
    // Reset when the pooled connection is returned (HikariCP tracks it); SET LOCAL ends with the
    // transaction.
    c.setNetworkTimeout(Runnable::run, (int) (2 * ms));
    try (Statement s = c.createStatement()) {
      s.execute("SET LOCAL statement_timeout = " + ms);
    }
  }

  @Override
  String lockSuffix() {
    return " FOR UPDATE";
  }

  @Override
  String olderThan(AuditCursor cursor, List<Object> params) {
    params.add(cursor.timeMicros());
    params.add(cursor.rowId());
    return "(time_us, id) < (?, ?)";
  }

  @Override
  String pathRange() {
    return "(path COLLATE \"C\") >= ? AND (path COLLATE \"C\") < ?";
  }

  @Override
  long nextRowId(Connection c) {
    return 0; // an identity column
  }

  @Override
  void beforeDelete(Connection c, String instance, long fromSeq, long toSeq) {
    // every index of audit_record is an index: nothing kept aside
  }
}
