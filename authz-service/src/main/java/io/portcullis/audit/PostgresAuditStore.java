package io.portcullis.audit;

import io.portcullis.store.Database;
import io.portcullis.store.DatabaseKind;
import java.sql.Connection;
import java.util.List;

/**
 * The audit store in a shared PostgreSQL database. A chain's row in {@code audit_chain} is locked
 * ({@code SELECT ... FOR UPDATE}) for the length of an append or a retention batch, so instances
 * write their chains in parallel and two writers of one chain queue up instead of forking it. The
 * keyset seek is a row-value comparison, which PostgreSQL matches to the composite indexes.
 */
public final class PostgresAuditStore extends JdbcAuditStore {

  public PostgresAuditStore(Database database) {
    super(requireKind(database));
  }

  private static Database requireKind(Database database) {
    if (database.kind() != DatabaseKind.POSTGRESQL) {
      throw new IllegalArgumentException("PostgresAuditStore needs a PostgreSQL database");
    }
    return database;
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
