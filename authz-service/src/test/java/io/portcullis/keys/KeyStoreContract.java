package io.portcullis.keys;

import static org.assertj.core.api.Assertions.assertThat;

import io.portcullis.store.Database;
import io.portcullis.store.StoreException;
import java.security.SecureRandom;
import java.sql.Connection;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.Callable;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * The behaviour every {@link KeyStore} must have, run against each real database: {@link
 * SqliteKeyStoreTest} (a temporary file) and {@link PostgresKeyStoreIT} (a fresh database on the
 * test server).
 */
abstract class KeyStoreContract {
  static final Instant T0 = Instant.parse("2026-11-22T10:00:00.123456Z");

  static Instant seconds(Instant t) {
    return t.truncatedTo(java.time.temporal.ChronoUnit.SECONDS);
  }

  static final SecureRandom RANDOM = new SecureRandom();

  /** The database under test, migrated; shared by the test class. */
  abstract Database database();

  KeyStore store;

  @BeforeEach
  void emptyTables() throws SQLException {
    try (Connection c = database().connection();
        Statement s = c.createStatement()) {
      s.executeUpdate("DELETE FROM api_key");
      s.executeUpdate("DELETE FROM api_key_change");
      s.executeUpdate("UPDATE api_key_sequence SET seq = 0");
    }
    store = KeyStore.of(database());
  }

  /** A fresh key of {@code client} created at {@code at}, and its whole key string. */
  record Made(StoredKey stored, String key) {
    String id() {
      return stored.id();
    }
  }

  static Made key(String client, Instant at) {
    String key = KeyFormat.generate(RANDOM);
    KeyMetadata m =
        KeyMetadata.builder(KeyFormat.idOf(key), client, at)
            .clientType("partner")
            .roles(List.of("orders.read", "orders.write"))
            .scopes(List.of("orders:read"))
            .build();
    return new Made(StoredKey.issued(m, KeyHash.of(key)), key);
  }

  Made inserted(String client, Instant at) {
    Made k = key(client, at);
    assertThat(store.insert(k.stored())).isTrue();
    return k;
  }

  // ---- insert, find, list ---------------------------------------------------------------------

  @Test
  void insert_thenFind_returnsTheSameKeyWithItsHash() {
    String key = KeyFormat.generate(RANDOM);
    KeyMetadata m =
        KeyMetadata.builder(KeyFormat.idOf(key), "acme", T0)
            .clientType("partner")
            .roles(List.of("b.role", "a.role"))
            .scopes(List.of("orders:write"))
            .segmentHint("partners")
            .expiresAt(T0.plus(Duration.ofDays(90)))
            .build();
    assertThat(store.insert(StoredKey.issued(m, KeyHash.of(key)))).isTrue();

    StoredKey found = store.find(m.id());
    assertThat(found).isNotNull();
    assertThat(found.metadata()).isEqualTo(m);
    assertThat(found.metadata().roles()).as("order kept").containsExactly("b.role", "a.role");
    assertThat(found.secretHash().matches(KeyHash.of(key))).isTrue();
    assertThat(found.previousHash()).isNull();
    assertThat(found.previousValidUntil()).isNull();
  }

  @Test
  void insert_minimalKey_roundTripsNullsAndEmptyLists() {
    String key = KeyFormat.generate(RANDOM);
    KeyMetadata m = KeyMetadata.builder(KeyFormat.idOf(key), "solo", T0).build();
    store.insert(StoredKey.issued(m, KeyHash.of(key)));

    KeyMetadata found = store.find(m.id()).metadata();
    assertThat(found).isEqualTo(m);
    assertThat(found.clientType()).isNull();
    assertThat(found.segmentHint()).isNull();
    assertThat(found.roles()).isEmpty();
    assertThat(found.expiresAt()).isNull();
    assertThat(found.revokedAt()).isNull();
    assertThat(found.lastUsedAt()).isNull();
  }

  @Test
  void insert_existingId_isRefusedAndChangesNothing() {
    Made k = inserted("acme", T0);
    KeyMetadata other = KeyMetadata.builder(k.id(), "mallory", T0.plusSeconds(1)).build();
    long before = store.latestChange();

    assertThat(store.insert(StoredKey.issued(other, KeyHash.of("x")))).isFalse();

    assertThat(store.find(k.id()).metadata().client()).isEqualTo("acme");
    assertThat(store.find(k.id()).secretHash().matches(KeyHash.of(k.key()))).isTrue();
    assertThat(store.latestChange()).isEqualTo(before);
  }

  @Test
  void find_unknownId_isNull() {
    assertThat(store.find("AAAAAAAAAAAA")).isNull();
  }

  @Test
  void list_allOrOneClient_oldestFirst() {
    Made b = inserted("acme", T0.plusSeconds(2));
    Made a = inserted("acme", T0.plusSeconds(1));
    Made other = inserted("globex", T0);

    assertThat(store.list("acme")).extracting(StoredKey::id).containsExactly(a.id(), b.id());
    assertThat(store.list(null))
        .extracting(StoredKey::id)
        .containsExactly(other.id(), a.id(), b.id());
    assertThat(store.list("nobody")).isEmpty();
  }

  // ---- rotate and revoke ----------------------------------------------------------------------

  @Test
  void rotate_keepsTheId_andKeepsTheReplacedHashUntilGraceEnds() {
    Made k = inserted("acme", T0);
    String next = KeyFormat.withSecret(k.id(), RANDOM);
    Instant now = T0.plusSeconds(60);
    Instant until = now.plus(Duration.ofHours(24));

    StoredKey rotated = store.rotate(k.id(), KeyHash.of(next), now, until);

    assertThat(rotated).isNotNull();
    assertThat(rotated.id()).isEqualTo(k.id());
    assertThat(rotated.secretHash().matches(KeyHash.of(next))).isTrue();
    assertThat(rotated.previousHash().matches(KeyHash.of(k.key()))).isTrue();
    assertThat(rotated.previousValidUntil()).isEqualTo(until);
    assertThat(rotated.metadata().generation()).isEqualTo(2);
    assertThat(rotated.metadata().rotatedFrom()).isEqualTo("v1");
    assertThat(store.find(k.id())).isEqualTo(rotated);
  }

  @Test
  void rotate_twice_remembersOnlyTheSecretJustReplaced() {
    Made k = inserted("acme", T0);
    String second = KeyFormat.withSecret(k.id(), RANDOM);
    String third = KeyFormat.withSecret(k.id(), RANDOM);
    store.rotate(k.id(), KeyHash.of(second), T0, T0.plusSeconds(3600));

    StoredKey after = store.rotate(k.id(), KeyHash.of(third), T0.plusSeconds(1), T0.plusSeconds(1));

    assertThat(after.previousHash().matches(KeyHash.of(second))).isTrue();
    assertThat(after.previousHash().matches(KeyHash.of(k.key()))).isFalse();
    assertThat(after.metadata().generation()).isEqualTo(3);
  }

  @Test
  void rotate_revokedOrUnknownKey_isNullAndChangesNothing() {
    Made k = inserted("acme", T0);
    store.revoke(k.id(), T0.plusSeconds(1));
    long before = store.latestChange();

    assertThat(store.rotate(k.id(), KeyHash.of("new"), T0, T0)).isNull();
    assertThat(store.rotate("AAAAAAAAAAAA", KeyHash.of("new"), T0, T0)).isNull();

    assertThat(store.find(k.id()).secretHash().matches(KeyHash.of(k.key()))).isTrue();
    assertThat(store.latestChange()).isEqualTo(before);
  }

  @Test
  void revoke_setsTheTimeOnce() {
    Made k = inserted("acme", T0);

    StoredKey first = store.revoke(k.id(), T0.plusSeconds(10));
    StoredKey again = store.revoke(k.id(), T0.plusSeconds(20));

    // Shown in whole seconds (KeyMetadata), however precisely stored.
    assertThat(first.metadata().revokedAt()).isEqualTo(seconds(T0.plusSeconds(10)));
    assertThat(again.metadata().revokedAt()).isEqualTo(seconds(T0.plusSeconds(10)));
    assertThat(store.revoke("AAAAAAAAAAAA", T0)).isNull();
  }

  // ---- last use -------------------------------------------------------------------------------

  @Test
  void recordUses_neverMovesBackwards_andIgnoresUnknownIds() {
    Made a = inserted("acme", T0);
    Made b = inserted("acme", T0);
    long changes = store.latestChange();

    store.recordUses(
        Map.of(a.id(), T0.plusSeconds(30), b.id(), T0.plusSeconds(5), "AAAAAAAAAAAA", T0));
    store.recordUses(Map.of(a.id(), T0.plusSeconds(10), b.id(), T0.plusSeconds(50)));

    assertThat(store.find(a.id()).metadata().lastUsedAt()).isEqualTo(seconds(T0.plusSeconds(30)));
    assertThat(store.find(b.id()).metadata().lastUsedAt()).isEqualTo(seconds(T0.plusSeconds(50)));
    assertThat(store.find("AAAAAAAAAAAA")).isNull();
    assertThat(store.latestChange()).as("last use is not a change").isEqualTo(changes);
  }

  // ---- change feed ----------------------------------------------------------------------------

  @Test
  void everyIssueRotationAndRevocation_appendsOneChangeInOrder() {
    assertThat(store.latestChange()).isZero();
    Made a = inserted("acme", T0);
    Made b = inserted("acme", T0);
    store.rotate(a.id(), KeyHash.of("x"), T0, T0);
    store.revoke(b.id(), T0);
    store.revoke(b.id(), T0); // already revoked: no change

    assertThat(store.changesAfter(0, 100))
        .containsExactly(
            new KeyChange(1, a.id()),
            new KeyChange(2, b.id()),
            new KeyChange(3, a.id()),
            new KeyChange(4, b.id()));
    assertThat(store.changesAfter(2, 1)).containsExactly(new KeyChange(3, a.id()));
    assertThat(store.changesAfter(4, 100)).isEmpty();
    assertThat(store.latestChange()).isEqualTo(4);
  }

  @Test
  void changesOlderThanTheRetention_arePrunedByLaterWrites() {
    Made old = inserted("acme", T0);
    Made recent = inserted("acme", T0.plus(JdbcKeyStore.CHANGE_RETENTION).plusSeconds(1));

    assertThat(store.changesAfter(0, 100)).containsExactly(new KeyChange(2, recent.id()));
    assertThat(store.find(old.id())).as("only the feed is pruned").isNotNull();
  }

  /**
   * Writers on several connections at once: a reader that follows the feed by watermark must see
   * every change, never a later number before an earlier one (which it would then skip for good).
   */
  @Test
  void concurrentWriters_changesBecomeVisibleInSequenceOrder() throws Exception {
    int writers = 4;
    int perWriter = 25;
    AtomicBoolean done = new AtomicBoolean();
    Set<String> seen = ConcurrentHashMap.newKeySet();
    List<String> gaps = new ArrayList<>();
    ExecutorService pool = Executors.newFixedThreadPool(writers + 1);
    try {
      Future<?> reader =
          pool.submit(
              () -> {
                long watermark = 0;
                while (true) {
                  boolean last = done.get();
                  for (KeyChange c : store.changesAfter(watermark, 1000)) {
                    if (c.seq() != watermark + 1) {
                      gaps.add("after " + watermark + " came " + c.seq());
                    }
                    watermark = c.seq();
                    seen.add(c.keyId());
                  }
                  if (last) {
                    return null;
                  }
                }
              });
      List<Future<List<String>>> issued = new ArrayList<>();
      for (int w = 0; w < writers; w++) {
        issued.add(
            pool.submit(
                () -> {
                  List<String> ids = new ArrayList<>();
                  for (int i = 0; i < perWriter; i++) {
                    ids.add(inserted("acme", T0).id());
                  }
                  return ids;
                }));
      }
      Set<String> all = new HashSet<>();
      for (Future<List<String>> f : issued) {
        all.addAll(f.get());
      }
      done.set(true);
      reader.get();

      assertThat(gaps).isEmpty();
      assertThat(seen).isEqualTo(all).hasSize(writers * perWriter);
      assertThat(store.latestChange()).isEqualTo(writers * perWriter);
    } finally {
      pool.shutdownNow();
    }
  }

  // ---- a locked key table ---------------------------------------------------------------------

  /** How long {@link #keyTablesLocked} holds its lock at most: far longer than a read may wait. */
  static final Duration LOCK_HELD = Duration.ofSeconds(10);

  /**
   * A second connection holding the strongest lock a long transaction takes on the key tables (a
   * migration, {@code VACUUM FULL}, a {@code LOCK TABLE} by hand), released when closed or after
   * {@link #LOCK_HELD}, so that a read that waits for it ends too: PostgreSQL's {@code ACCESS
   * EXCLUSIVE} lock, which readers wait for; SQLite's write lock ({@code BEGIN IMMEDIATE} and a
   * write), which readers in WAL mode do not wait for.
   */
  AutoCloseable keyTablesLocked() throws SQLException {
    Connection c = database().connection();
    c.setAutoCommit(false);
    try (Statement s = c.createStatement()) {
      switch (database().kind()) {
        case POSTGRESQL ->
            s.execute(
                "LOCK TABLE api_key, api_key_change, api_key_sequence IN ACCESS EXCLUSIVE MODE");
        case SQLITE -> s.executeUpdate("UPDATE api_key_sequence SET seq = seq WHERE one = 1");
      }
    }
    Runnable release =
        () -> {
          try {
            c.rollback();
            c.close();
          } catch (SQLException e) {
            // released already
          }
        };
    CompletableFuture.delayedExecutor(LOCK_HELD.toMillis(), TimeUnit.MILLISECONDS).execute(release);
    return release::run;
  }

  @Test
  void keyReads_whileAnotherConnectionLocksTheKeyTables_answerOrFailWithinAboutASecond()
      throws Exception {
    Made k = inserted("acme", T0);
    Map<String, Callable<?>> reads =
        Map.of(
            "find", () -> store.find(k.id()),
            "changesAfter", () -> store.changesAfter(0, 10),
            "latestChange", () -> store.latestChange());
    try (AutoCloseable lock = keyTablesLocked()) {
      for (Map.Entry<String, Callable<?>> read : reads.entrySet()) {
        long start = System.nanoTime();
        Object answer;
        try {
          answer = read.getValue().call();
        } catch (StoreException e) {
          answer = e;
        }
        assertThat(Duration.ofNanos(System.nanoTime() - start))
            .as("%s while the key tables are locked for %s", read.getKey(), LOCK_HELD)
            .isLessThan(Duration.ofSeconds(5));
        switch (database().kind()) {
          // WAL: readers do not wait for the writer, and see what was committed
          case SQLITE -> assertThat(answer).as(read.getKey()).isNotInstanceOf(StoreException.class);
          case POSTGRESQL ->
              assertThat(answer).as(read.getKey()).isInstanceOf(StoreException.class);
        }
      }
    }
    assertThat(store.find(k.id())).as("once the lock is gone").isNotNull();
  }
}
