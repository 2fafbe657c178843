package io.portcullis.keys;

import io.portcullis.store.Database;
import io.portcullis.store.DatabaseKind;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.SQLException;
import java.util.List;

/**
 * The key store in the embedded SQLite database. Write transactions start with {@code BEGIN
 * IMMEDIATE} ({@link Database}), which takes the database's single write lock, so changes are
 * numbered and committed one at a time. Last-use times are written as a JDBC batch of one prepared
 * statement: SQLite runs in-process, so a batch costs no round trips.
 */
public final class SqliteKeyStore extends JdbcKeyStore {

  public SqliteKeyStore(Database database) {
    super(requireKind(database));
  }

  private static Database requireKind(Database database) {
    if (database.kind() != DatabaseKind.SQLITE) {
      throw new IllegalArgumentException("SqliteKeyStore needs a SQLite database");
    }
    return database;
  }

  @Override
  void writeUses(Connection c, List<String> ids, long[] micros) throws SQLException {
    try (PreparedStatement ps =
        c.prepareStatement(
            "UPDATE api_key SET last_used_at_us = ?"
                + " WHERE id = ? AND (last_used_at_us IS NULL OR last_used_at_us < ?)")) {
      ps.setQueryTimeout(LAST_USE_TIMEOUT_SECONDS);
      for (int i = 0; i < ids.size(); i++) {
        ps.setLong(1, micros[i]);
        ps.setString(2, ids.get(i));
        ps.setLong(3, micros[i]);
        ps.addBatch();
      }
      ps.executeBatch();
    }
  }
}
