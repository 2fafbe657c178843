package io.portcullis.audit;

import io.portcullis.store.Database;
import io.portcullis.store.DatabaseKind;
import java.util.List;

/**
 * The audit store in the embedded SQLite database. Write transactions start with {@code BEGIN
 * IMMEDIATE} ({@link Database}), which takes the database's single write lock, so a chain needs no
 * row lock. The keyset seek leads with a plain {@code time_us <=} bound, which SQLite turns into an
 * index range, followed by the exact tie-break on the row id (which every SQLite index holds last).
 */
public final class SqliteAuditStore extends JdbcAuditStore {

  public SqliteAuditStore(Database database) {
    super(requireKind(database));
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
    params.add(cursor.timeMicros());
    params.add(cursor.timeMicros());
    params.add(cursor.timeMicros());
    params.add(cursor.rowId());
    return "time_us <= ? AND (time_us < ? OR (time_us = ? AND id < ?))";
  }

  @Override
  String pathRange() {
    return "path >= ? AND path < ?";
  }

  @Override
  String pathIndexHint() {
    return " INDEXED BY audit_record_path";
  }
}
