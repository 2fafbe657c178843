package io.portcullis.keys;

import io.portcullis.store.Database;
import io.portcullis.store.DatabaseKind;
import java.sql.Array;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.SQLException;
import java.util.List;

/**
 * The key store in a shared PostgreSQL database. A change takes the {@code api_key_sequence} row
 * lock until commit, so instances write keys in parallel but number their changes in commit order.
 * Last-use times of a whole flush go in one statement over two arrays ({@code unnest}): one round
 * trip however many keys were used.
 */
public final class PostgresKeyStore extends JdbcKeyStore {

  public PostgresKeyStore(Database database) {
    super(requireKind(database));
  }

  private static Database requireKind(Database database) {
    if (database.kind() != DatabaseKind.POSTGRESQL) {
      throw new IllegalArgumentException("PostgresKeyStore needs a PostgreSQL database");
    }
    return database;
  }

  @Override
  void writeUses(Connection c, List<String> ids, long[] micros) throws SQLException {
    Long[] boxed = new Long[micros.length];
    for (int i = 0; i < micros.length; i++) {
      boxed[i] = micros[i];
    }
    Array idArray = c.createArrayOf("text", ids.toArray());
    Array timeArray = c.createArrayOf("bigint", boxed);
    try (PreparedStatement ps =
        c.prepareStatement(
            "UPDATE api_key AS k SET last_used_at_us = u.t"
                + " FROM unnest(?::text[], ?::bigint[]) AS u(id, t)"
                + " WHERE k.id = u.id AND (k.last_used_at_us IS NULL OR k.last_used_at_us < u.t)")) {
      ps.setQueryTimeout(LAST_USE_TIMEOUT_SECONDS);
      ps.setArray(1, idArray);
      ps.setArray(2, timeArray);
      ps.executeUpdate();
    } finally {
      idArray.free();
      timeArray.free();
    }
  }
}
