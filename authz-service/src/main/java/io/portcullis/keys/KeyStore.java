package io.portcullis.keys;

import io.portcullis.store.Database;
import io.portcullis.store.StoreException;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import org.jspecify.annotations.Nullable;

/**
 * Durable storage of API keys (metadata and secret hashes, never secrets) and of a change feed that
 * lets every instance sharing the store notice issued, rotated and revoked keys.
 *
 * <p>Every write that changes what a key verifies ({@link #insert}, {@link #rotate}, {@link
 * #revoke}) appends one {@link KeyChange} in the same transaction. Change sequence numbers are
 * handed out under a lock held until commit, so they become visible in increasing order: a reader
 * that has seen change {@code n} will never later see a change below {@code n}.
 *
 * <p>Implementations are thread-safe. Every method may throw {@link StoreException} when the
 * database is unreachable or fails; each write is then rolled back entirely. {@link #find}, {@link
 * #changesAfter} and {@link #latestChange} also throw it when the database does not answer within
 * about a second (a locked table): they serve requests and the change poller, which must not wait
 * for as long as a lock is held. Expected outcomes (an unknown id, an already revoked key) are
 * values.
 *
 * <p>Implementations: {@link SqliteKeyStore} (embedded) and {@link PostgresKeyStore} (shared), both
 * tested by one contract test.
 */
public interface KeyStore {

  /** The store for a migrated database of either kind. */
  static KeyStore of(Database database) {
    return switch (database.kind()) {
      case SQLITE -> new SqliteKeyStore(database);
      case POSTGRESQL -> new PostgresKeyStore(database);
    };
  }

  /**
   * Stores a new key.
   *
   * @return {@code false} (and nothing written) if a key with this id exists
   */
  boolean insert(StoredKey key);

  /** The key with this id, or {@code null}. */
  @Nullable StoredKey find(String id);

  /**
   * Keys, oldest first (then by id).
   *
   * @param client only this client's keys, or {@code null} for all
   */
  List<StoredKey> list(@Nullable String client);

  /**
   * Replaces the secret of a key that is not revoked: the current hash becomes the previous one,
   * valid until {@code previousValidUntil}, and the generation goes up by one. One statement, so
   * concurrent rotations and revocations serialize.
   *
   * @param now the time of the rotation (recorded with the change)
   * @return the key after rotation, or {@code null} (nothing written) if there is no such key or it
   *     is revoked
   */
  @Nullable StoredKey rotate(String id, KeyHash newSecret, Instant now, Instant previousValidUntil);

  /**
   * Revokes a key at {@code at}; a key already revoked keeps its first revocation time.
   *
   * @return the key afterwards, or {@code null} if there is no such key
   */
  @Nullable StoredKey revoke(String id, Instant at);

  /**
   * Records the latest verified use of keys in one transaction. A time never moves {@code
   * last_used_at} backwards; unknown ids are ignored. Not a change: caches are not invalidated.
   */
  void recordUses(Map<String, Instant> lastUses);

  /** Changes with {@code seq > after}, in increasing order, at most {@code limit}. */
  List<KeyChange> changesAfter(long after, int limit);

  /** The highest change sequence number so far (0 when there was none). */
  long latestChange();
}
