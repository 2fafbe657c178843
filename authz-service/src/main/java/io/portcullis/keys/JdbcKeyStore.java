package io.portcullis.keys;

import io.portcullis.store.Database;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Types;
import java.time.Duration;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import org.jspecify.annotations.Nullable;

/**
 * The key store over JDBC; the two databases differ only in how a batch of last-use times is
 * written, which {@link SqliteKeyStore} and {@link PostgresKeyStore} supply. Schema: {@code
 * db/migration/<kind>/V2__keys.sql}.
 *
 * <p>Every change (issue, rotation, revocation) takes the next number from the one-row {@code
 * api_key_sequence} table by updating it, which holds its row lock (PostgreSQL) or the database
 * write lock (SQLite) until commit; so changes commit in number order and a poller reading {@code
 * seq > watermark} never skips one. Thread-safe: every call takes its own pooled connection.
 *
 * <p>Key lookups and reads of the change feed give up after {@link #LOOKUP_TIMEOUT_SECONDS}, writes
 * of last-use times after {@link #LAST_USE_TIMEOUT_SECONDS} (JDBC query timeouts: the driver
 * cancels the statement): a table locked for longer (a migration, {@code VACUUM FULL}, a {@code
 * LOCK TABLE} by hand) or a database that stops answering fails the call with {@link
 * io.portcullis.store.StoreException} instead of holding the caller, and its pooled connection, for
 * as long as the lock lasts.
 */
abstract sealed class JdbcKeyStore implements KeyStore permits SqliteKeyStore, PostgresKeyStore {

  /** Change-feed rows older than this are pruned (a poller runs every few hundred ms). */
  static final Duration CHANGE_RETENTION = Duration.ofDays(7);

  /**
   * How long {@link #find}, {@link #changesAfter} and {@link #latestChange} wait for the database,
   * in the whole seconds JDBC counts: a key lookup on a cache miss is on a request's path (past it
   * the request is {@code identity_unavailable}, fail closed), and the change poller must not stall
   * behind a lock. A primary-key read takes well under a millisecond.
   */
  static final int LOOKUP_TIMEOUT_SECONDS = 1;

  /**
   * How long a flush of last-use times ({@link #recordUses}) waits for the database: a batch of
   * many keys may take longer than a lookup; past it the flush fails and is retried with the next
   * one.
   */
  static final int LAST_USE_TIMEOUT_SECONDS = 10;

  private static final String COLUMNS =
      "id, secret_hash, previous_hash, previous_valid_until_us, generation, client, client_type,"
          + " roles, scopes, segment_hint, created_at_us, expires_at_us, revoked_at_us,"
          + " last_used_at_us";

  final Database db;

  JdbcKeyStore(Database db) {
    this.db = db;
  }

  /**
   * Writes last-use times in the caller's transaction: {@code last_used_at_us = t} where the key
   * exists and its stored time is absent or older than {@code t}.
   */
  abstract void writeUses(Connection c, List<String> ids, long[] micros) throws SQLException;

  @Override
  public boolean insert(StoredKey key) {
    KeyMetadata m = key.metadata();
    return db.transaction(
        "issuing an API key",
        c -> {
          try (PreparedStatement ps =
              c.prepareStatement(
                  "INSERT INTO api_key ("
                      + COLUMNS
                      + ") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
                      + " ON CONFLICT (id) DO NOTHING")) {
            ps.setString(1, m.id());
            ps.setBytes(2, key.secretHash().bytes());
            setBytes(ps, 3, key.previousHash());
            setMicros(ps, 4, key.previousValidUntil());
            ps.setInt(5, m.generation());
            ps.setString(6, m.client());
            ps.setString(7, orEmpty(m.clientType()));
            ps.setString(8, String.join(" ", m.roles()));
            ps.setString(9, String.join(" ", m.scopes()));
            ps.setString(10, orEmpty(m.segmentHint()));
            ps.setLong(11, micros(m.createdAt()));
            setMicros(ps, 12, m.expiresAt());
            setMicros(ps, 13, m.revokedAt());
            setMicros(ps, 14, m.lastUsedAt());
            if (ps.executeUpdate() == 0) {
              return false;
            }
          }
          appendChange(c, m.id(), m.createdAt());
          return true;
        },
        inserted -> inserted);
  }

  @Override
  public @Nullable StoredKey find(String id) {
    try (Connection c = db.connection()) {
      return find(c, id);
    } catch (SQLException e) {
      throw db.failure("reading an API key", e);
    }
  }

  private static @Nullable StoredKey find(Connection c, String id) throws SQLException {
    try (PreparedStatement ps =
        c.prepareStatement("SELECT " + COLUMNS + " FROM api_key WHERE id = ?")) {
      ps.setQueryTimeout(LOOKUP_TIMEOUT_SECONDS);
      ps.setString(1, id);
      try (ResultSet rs = ps.executeQuery()) {
        return rs.next() ? row(rs) : null;
      }
    }
  }

  @Override
  public List<StoredKey> list(@Nullable String client) {
    String sql =
        "SELECT "
            + COLUMNS
            + " FROM api_key"
            + (client == null ? "" : " WHERE client = ?")
            + " ORDER BY created_at_us, id";
    try (Connection c = db.connection();
        PreparedStatement ps = c.prepareStatement(sql)) {
      if (client != null) {
        ps.setString(1, client);
      }
      List<StoredKey> out = new ArrayList<>();
      try (ResultSet rs = ps.executeQuery()) {
        while (rs.next()) {
          out.add(row(rs));
        }
      }
      return out;
    } catch (SQLException e) {
      throw db.failure("listing API keys", e);
    }
  }

  @Override
  public @Nullable StoredKey rotate(
      String id, KeyHash newSecret, Instant now, Instant previousValidUntil) {
    return db.transaction(
        "rotating an API key",
        c -> {
          try (PreparedStatement ps =
              c.prepareStatement(
                  "UPDATE api_key SET previous_hash = secret_hash, previous_valid_until_us = ?,"
                      + " secret_hash = ?, generation = generation + 1"
                      + " WHERE id = ? AND revoked_at_us IS NULL")) {
            ps.setLong(1, micros(previousValidUntil));
            ps.setBytes(2, newSecret.bytes());
            ps.setString(3, id);
            if (ps.executeUpdate() == 0) {
              return null;
            }
          }
          appendChange(c, id, now);
          return find(c, id);
        },
        rotated -> rotated != null);
  }

  @Override
  public @Nullable StoredKey revoke(String id, Instant at) {
    return db.transaction(
        "revoking an API key",
        c -> {
          try (PreparedStatement ps =
              c.prepareStatement(
                  "UPDATE api_key SET revoked_at_us = ? WHERE id = ? AND revoked_at_us IS NULL")) {
            ps.setLong(1, micros(at));
            ps.setString(2, id);
            if (ps.executeUpdate() > 0) {
              appendChange(c, id, at);
            }
          }
          return find(c, id);
        },
        revoked -> true);
  }

  @Override
  public void recordUses(Map<String, Instant> lastUses) {
    if (lastUses.isEmpty()) {
      return;
    }
    List<String> ids = new ArrayList<>(lastUses.keySet());
    ids.sort(null); // a fixed lock order: two instances flushing at once never deadlock
    long[] times = new long[ids.size()];
    for (int i = 0; i < ids.size(); i++) {
      times[i] = micros(lastUses.get(ids.get(i)));
    }
    db.transaction(
        "recording API key use",
        c -> {
          writeUses(c, ids, times);
          return null;
        },
        x -> true);
  }

  @Override
  public List<KeyChange> changesAfter(long after, int limit) {
    try (Connection c = db.connection();
        PreparedStatement ps =
            c.prepareStatement(
                "SELECT seq, key_id FROM api_key_change WHERE seq > ? ORDER BY seq LIMIT ?")) {
      ps.setQueryTimeout(LOOKUP_TIMEOUT_SECONDS);
      ps.setLong(1, after);
      ps.setInt(2, limit);
      List<KeyChange> out = new ArrayList<>();
      try (ResultSet rs = ps.executeQuery()) {
        while (rs.next()) {
          out.add(new KeyChange(rs.getLong(1), rs.getString(2)));
        }
      }
      return out;
    } catch (SQLException e) {
      throw db.failure("reading API key changes", e);
    }
  }

  @Override
  public long latestChange() {
    try (Connection c = db.connection();
        PreparedStatement ps =
            c.prepareStatement("SELECT seq FROM api_key_sequence WHERE one = 1")) {
      ps.setQueryTimeout(LOOKUP_TIMEOUT_SECONDS);
      try (ResultSet rs = ps.executeQuery()) {
        return rs.next() ? rs.getLong(1) : 0;
      }
    } catch (SQLException e) {
      throw db.failure("reading the API key change sequence", e);
    }
  }

  /**
   * Appends a change in the caller's transaction and prunes changes older than {@link
   * #CHANGE_RETENTION}. Updating the sequence row first serializes concurrent writers until commit.
   */
  private static void appendChange(Connection c, String id, Instant at) throws SQLException {
    try (PreparedStatement ps =
        c.prepareStatement("UPDATE api_key_sequence SET seq = seq + 1 WHERE one = 1")) {
      if (ps.executeUpdate() != 1) {
        throw new SQLException("api_key_sequence has no row");
      }
    }
    long seq;
    try (PreparedStatement ps =
            c.prepareStatement("SELECT seq FROM api_key_sequence WHERE one = 1");
        ResultSet rs = ps.executeQuery()) {
      if (!rs.next()) {
        throw new SQLException("api_key_sequence has no row");
      }
      seq = rs.getLong(1);
    }
    try (PreparedStatement ps =
        c.prepareStatement(
            "INSERT INTO api_key_change (seq, key_id, changed_at_us) VALUES (?, ?, ?)")) {
      ps.setLong(1, seq);
      ps.setString(2, id);
      ps.setLong(3, micros(at));
      ps.executeUpdate();
    }
    try (PreparedStatement ps =
        c.prepareStatement("DELETE FROM api_key_change WHERE changed_at_us < ? AND seq < ?")) {
      ps.setLong(1, micros(at.minus(CHANGE_RETENTION)));
      ps.setLong(2, seq);
      ps.executeUpdate();
    }
  }

  private static StoredKey row(ResultSet rs) throws SQLException {
    KeyMetadata m =
        KeyMetadata.builder(
                rs.getString("id"), rs.getString("client"), instant(rs.getLong("created_at_us")))
            .clientType(emptyToNull(rs.getString("client_type")))
            .roles(words(rs.getString("roles")))
            .scopes(words(rs.getString("scopes")))
            .segmentHint(emptyToNull(rs.getString("segment_hint")))
            .expiresAt(nullableInstant(rs, "expires_at_us"))
            .revokedAt(nullableInstant(rs, "revoked_at_us"))
            .lastUsedAt(nullableInstant(rs, "last_used_at_us"))
            .generation(rs.getInt("generation"))
            .build();
    byte[] previous = rs.getBytes("previous_hash");
    return new StoredKey(
        m,
        KeyHash.fromBytes(rs.getBytes("secret_hash")),
        previous == null ? null : KeyHash.fromBytes(previous),
        nullableInstant(rs, "previous_valid_until_us"));
  }

  private static List<String> words(String s) {
    return s.isEmpty() ? List.of() : Arrays.asList(s.split(" "));
  }

  private static @Nullable String emptyToNull(String s) {
    return s.isEmpty() ? null : s;
  }

  private static String orEmpty(@Nullable String s) {
    return s == null ? "" : s;
  }

  private static void setBytes(PreparedStatement ps, int i, @Nullable KeyHash h)
      throws SQLException {
    if (h == null) {
      ps.setNull(i, Types.BINARY);
    } else {
      ps.setBytes(i, h.bytes());
    }
  }

  private static void setMicros(PreparedStatement ps, int i, @Nullable Instant t)
      throws SQLException {
    if (t == null) {
      ps.setNull(i, Types.BIGINT);
    } else {
      ps.setLong(i, micros(t));
    }
  }

  static long micros(Instant t) {
    return ChronoUnit.MICROS.between(Instant.EPOCH, t);
  }

  private static Instant instant(long micros) {
    return Instant.EPOCH.plus(micros, ChronoUnit.MICROS);
  }

  private static @Nullable Instant nullableInstant(ResultSet rs, String column)
      throws SQLException {
    long v = rs.getLong(column);
    return rs.wasNull() ? null : instant(v);
  }
}
