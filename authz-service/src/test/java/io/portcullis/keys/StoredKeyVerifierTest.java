package io.portcullis.keys;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.read.ListAppender;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import io.portcullis.decision.Reason;
import io.portcullis.identity.CredentialType;
import io.portcullis.identity.Identity;
import io.portcullis.identity.Verification;
import io.portcullis.store.Database;
import io.portcullis.store.StoreException;
import io.portcullis.store.StoreSettings;
import io.portcullis.testing.FakeClock;
import java.nio.file.Path;
import java.security.SecureRandom;
import java.sql.Connection;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import org.jspecify.annotations.Nullable;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.slf4j.LoggerFactory;

/**
 * The API key hot path against a real SQLite store, with a fake clock for expiry and grace and a
 * counting store to prove what reaches the database. The change poller and the last-use flusher are
 * driven by hand ({@code pollChanges}, {@code flushUses}).
 */
class StoredKeyVerifierTest {
  static final SecureRandom RANDOM = new SecureRandom();
  @TempDir static Path dir;
  static Database db;

  FakeClock clock;
  CountingKeyStore store;
  KeyLifecycle keys;
  StoredKeyVerifier verifier;

  @BeforeAll
  static void open() {
    db = Database.open(StoreSettings.of("jdbc:sqlite:" + dir.resolve("keys.db")));
  }

  @AfterAll
  static void close() {
    db.close();
  }

  @BeforeEach
  void setUp() throws SQLException {
    try (Connection c = db.connection();
        Statement s = c.createStatement()) {
      s.executeUpdate("DELETE FROM api_key");
    }
    clock = FakeClock.at("2026-11-22T10:00:00Z");
    store = new CountingKeyStore(KeyStore.of(db));
    keys = new KeyLifecycle(store, clock);
    verifier = verifier(store, 100_000);
  }

  StoredKeyVerifier verifier(KeyStore s, long unknownCacheSize) {
    return StoredKeyVerifier.builder(s, new SimpleMeterRegistry())
        .clock(clock)
        .ticker(clock::nanoTime)
        .unknownCacheSize(unknownCacheSize)
        .unknownTtl(Duration.ofSeconds(60))
        .knownMaxAge(Duration.ofMinutes(5))
        .pollInterval(Duration.ofHours(1)) // driven by hand
        .flushInterval(Duration.ofHours(1))
        .build()
        .start();
  }

  @AfterEach
  void tearDown() {
    verifier.close();
  }

  IssuedKey issue(String expiresIn) {
    KeyResult<IssuedKey> r =
        keys.issue(
            KeyRequest.builder("acme")
                .clientType("partner")
                .roles(List.of("orders.read"))
                .scopes(List.of("orders:read", "orders:write"))
                .segmentHint("partners")
                .expiresIn(expiresIn)
                .build());
    return ((KeyResult.Ok<IssuedKey>) r).value();
  }

  static Reason reason(Verification v) {
    assertThat(v).isInstanceOf(Verification.Rejected.class);
    return ((Verification.Rejected) v).reason();
  }

  /** {@code key} with one secret character changed and the checksum made valid again. */
  static String oneCharacterOff(String key) {
    int i = 30;
    char c = key.charAt(i) == 'a' ? 'b' : 'a';
    String body = key.substring(0, i) + c + key.substring(i + 1, 60);
    return body + KeyFormat.checksum(body, body.length());
  }

  // ---- reasons --------------------------------------------------------------------------------

  @Test
  void issuedKey_verifies_withTheIdentityTheKeyCarries() {
    IssuedKey k = issue("90d");

    Verification v = verifier.verify(k.key().reveal());

    assertThat(v).isInstanceOf(Verification.Verified.class);
    Identity id = ((Verification.Verified) v).identity();
    assertThat(id.credential()).isEqualTo(CredentialType.API_KEY);
    assertThat(id.principal()).isEqualTo(k.id());
    assertThat(id.apiKeyId()).isEqualTo(k.id());
    assertThat(id.client()).isEqualTo("acme");
    assertThat(id.clientType()).isEqualTo("partner");
    assertThat(id.roles()).containsExactly("orders.read");
    assertThat(id.scopes()).containsExactlyInAnyOrder("orders:read", "orders:write");
    assertThat(id.segmentHint()).isEqualTo("partners");
    assertThat(id.expiresAt()).isEqualTo(k.metadata().expiresAt());
  }

  @Test
  void garbageAndTypos_areUnknownKey_withoutAnyStoreQuery() {
    IssuedKey k = issue("");
    String key = k.key().reveal();
    String typo = key.substring(0, 30) + (key.charAt(30) == 'a' ? 'b' : 'a') + key.substring(31);

    for (String presented :
        List.of(
            "", "hello", "Bearer x", key.substring(1), key + "x", typo, "pck_" + "A".repeat(62))) {
      assertThat(reason(verifier.verify(presented))).as(presented).isEqualTo(Reason.UNKNOWN_KEY);
    }
    assertThat(store.finds.get()).isZero();
  }

  @Test
  void unknownWellFormedKey_isUnknownKey() {
    assertThat(reason(verifier.verify(KeyFormat.generate(RANDOM)))).isEqualTo(Reason.UNKNOWN_KEY);
  }

  @Test
  void secretDifferingInOneCharacter_withAValidChecksum_isUnknownKey() {
    IssuedKey k = issue("");
    String off = oneCharacterOff(k.key().reveal());
    assertThat(KeyFormat.idOf(off)).isEqualTo(k.id());

    Verification v = verifier.verify(off);

    assertThat(reason(v)).isEqualTo(Reason.UNKNOWN_KEY);
    assertThat(((Verification.Rejected) v).detail()).doesNotContain(off.substring(17, 60));
  }

  @Test
  void revokedKey_isRevokedKey_butAWrongSecretForItStaysUnknownKey() {
    IssuedKey k = issue("");
    assertThat(verifier.verify(k.key().reveal())).isInstanceOf(Verification.Verified.class);

    keys.revoke(k.id());
    verifier.pollChanges();

    assertThat(reason(verifier.verify(k.key().reveal()))).isEqualTo(Reason.REVOKED_KEY);
    assertThat(reason(verifier.verify(oneCharacterOff(k.key().reveal()))))
        .as("no key state is revealed without the secret")
        .isEqualTo(Reason.UNKNOWN_KEY);
  }

  @Test
  void expiredKey_isExpiredKey() {
    IssuedKey k = issue("1d");
    assertThat(verifier.verify(k.key().reveal())).isInstanceOf(Verification.Verified.class);

    clock.advance(Duration.ofDays(1));

    assertThat(reason(verifier.verify(k.key().reveal()))).isEqualTo(Reason.EXPIRED_KEY);
  }

  @Test
  void rotation_newSecretAtOnce_oldUntilGraceEnds_thenRevokedKey_andOlderSecretsUnknown() {
    IssuedKey v1 = issue("");
    assertThat(verifier.verify(v1.key().reveal())).isInstanceOf(Verification.Verified.class);

    IssuedKey v2 = ((KeyResult.Ok<IssuedKey>) keys.rotate(v1.id(), "1h")).value();
    verifier.pollChanges();

    assertThat(verifier.verify(v2.key().reveal())).isInstanceOf(Verification.Verified.class);
    clock.advance(Duration.ofMinutes(59));
    assertThat(verifier.verify(v1.key().reveal()))
        .as("the old secret works during the grace")
        .isInstanceOf(Verification.Verified.class);
    clock.advance(Duration.ofMinutes(1));
    assertThat(reason(verifier.verify(v1.key().reveal()))).isEqualTo(Reason.REVOKED_KEY);
    assertThat(verifier.verify(v2.key().reveal())).isInstanceOf(Verification.Verified.class);

    IssuedKey v3 = ((KeyResult.Ok<IssuedKey>) keys.rotate(v1.id(), "1h")).value();
    verifier.pollChanges();
    assertThat(verifier.verify(v2.key().reveal())).isInstanceOf(Verification.Verified.class);
    assertThat(verifier.verify(v3.key().reveal())).isInstanceOf(Verification.Verified.class);
    assertThat(reason(verifier.verify(v1.key().reveal())))
        .as("only the secret just replaced is remembered")
        .isEqualTo(Reason.UNKNOWN_KEY);
  }

  @Test
  void storeUnreachableOnACacheMiss_isIdentityUnavailable() {
    Database closed = Database.open(StoreSettings.of("jdbc:sqlite:" + dir.resolve("gone.db")));
    StoredKeyVerifier v = verifier(KeyStore.of(closed), 10);
    closed.close();

    assertThat(reason(v.verify(KeyFormat.generate(RANDOM)))).isEqualTo(Reason.IDENTITY_UNAVAILABLE);
    v.close();
  }

  @Test
  void wrongSecretDuringAStoreOutage_isUnknownKey_andTheCachedKeyKeepsVerifying() {
    IssuedKey k = issue("");
    AtomicBoolean down = new AtomicBoolean();
    KeyStore flaky =
        new CountingKeyStore(KeyStore.of(db)) {
          @Override
          public @Nullable StoredKey find(String id) {
            if (down.get()) {
              throw new StoreException("store down");
            }
            return super.find(id);
          }
        };
    StoredKeyVerifier v = verifier(flaky, 10);
    assertThat(v.verify(k.key().reveal())).isInstanceOf(Verification.Verified.class);

    down.set(true);

    assertThat(reason(v.verify(oneCharacterOff(k.key().reveal()))))
        .as("the cached state answers the wrong secret")
        .isEqualTo(Reason.UNKNOWN_KEY);
    assertThat(v.verify(k.key().reveal()))
        .as("the real holder is not locked out by someone else's wrong secret")
        .isInstanceOf(Verification.Verified.class);
    clock.advance(Duration.ofSeconds(1));
    assertThat(reason(v.verify(oneCharacterOff(k.key().reveal())))).isEqualTo(Reason.UNKNOWN_KEY);
    assertThat(v.verify(k.key().reveal())).isInstanceOf(Verification.Verified.class);
    v.close();
  }

  // ---- caches ---------------------------------------------------------------------------------

  @Test
  void cachedKey_costsOneStoreQuery_andWrongSecretsAtMostOneMorePerSecond() {
    IssuedKey k = issue("");
    for (int i = 0; i < 1000; i++) {
      assertThat(verifier.verify(k.key().reveal())).isInstanceOf(Verification.Verified.class);
    }
    assertThat(store.finds.get()).isEqualTo(1);

    for (int i = 0; i < 100; i++) {
      assertThat(reason(verifier.verify(oneCharacterOff(k.key().reveal()))))
          .isEqualTo(Reason.UNKNOWN_KEY);
    }
    assertThat(store.finds.get()).as("the first wrong secret re-reads the key once").isEqualTo(2);

    clock.advance(Duration.ofSeconds(1));
    for (int i = 0; i < 100; i++) {
      verifier.verify(oneCharacterOff(k.key().reveal()));
    }
    assertThat(store.finds.get()).as("then once per second").isEqualTo(3);
  }

  @Test
  void secretRotatedThroughAnotherInstance_worksOnFirstUse_beforeTheFeedIsRead() {
    IssuedKey v1 = issue("");
    assertThat(verifier.verify(v1.key().reveal())).isInstanceOf(Verification.Verified.class);

    IssuedKey v2 = ((KeyResult.Ok<IssuedKey>) keys.rotate(v1.id(), "1h")).value();

    assertThat(verifier.verify(v2.key().reveal())).isInstanceOf(Verification.Verified.class);
    assertThat(verifier.verify(v1.key().reveal()))
        .as("the old secret is in its grace")
        .isInstanceOf(Verification.Verified.class);
  }

  @Test
  void changesMadeThroughThisInstance_applyAtOnce() {
    KeyLifecycle local = new KeyLifecycle(store, clock, verifier::invalidate);
    IssuedKey k = issue("");
    assertThat(verifier.verify(k.key().reveal())).isInstanceOf(Verification.Verified.class);

    local.revoke(k.id());

    assertThat(reason(verifier.verify(k.key().reveal()))).isEqualTo(Reason.REVOKED_KEY);
  }

  @Test
  void floodOfDistinctUnknownKeys_costsOneQueryEachPerNegativeTtl() {
    List<String> flood = new ArrayList<>();
    for (int i = 0; i < 20_000; i++) {
      flood.add(KeyFormat.generate(RANDOM));
    }
    for (int round = 0; round < 3; round++) {
      for (String key : flood) {
        assertThat(reason(verifier.verify(key))).isEqualTo(Reason.UNKNOWN_KEY);
      }
    }
    assertThat(store.finds.get()).as("one query per distinct id").isEqualTo(20_000);

    clock.advance(Duration.ofSeconds(61));
    verifier.verify(flood.getFirst());
    assertThat(store.finds.get()).as("again after the negative TTL").isEqualTo(20_001);
  }

  @Test
  void negativeCache_isBounded() {
    StoredKeyVerifier small = verifier(store, 100);
    for (int i = 0; i < 10_000; i++) {
      small.verify(KeyFormat.generate(RANDOM));
    }
    String last = KeyFormat.generate(RANDOM);
    small.verify(last);
    int before = store.finds.get();
    small.verify(last);
    assertThat(store.finds.get()).as("recent entries are kept").isEqualTo(before);
    small.close();
  }

  @Test
  void anIssueDropsANegativeEntryForItsId() {
    String key = KeyFormat.generate(RANDOM);
    assertThat(reason(verifier.verify(key))).isEqualTo(Reason.UNKNOWN_KEY);

    KeyMetadata m = KeyMetadata.builder(KeyFormat.idOf(key), "acme", clock.instant()).build();
    store.insert(StoredKey.issued(m, KeyHash.of(key)));
    assertThat(reason(verifier.verify(key)))
        .as("cached until the change is read")
        .isEqualTo(Reason.UNKNOWN_KEY);
    verifier.pollChanges();

    assertThat(verifier.verify(key)).isInstanceOf(Verification.Verified.class);
  }

  @Test
  void aChangeMadeThroughAnotherStoreInstance_reachesThisVerifier() {
    IssuedKey k = issue("");
    assertThat(verifier.verify(k.key().reveal())).isInstanceOf(Verification.Verified.class);

    // another instance (its own pool) revokes it
    try (Database other =
        Database.open(StoreSettings.of("jdbc:sqlite:" + dir.resolve("keys.db")))) {
      new KeyLifecycle(KeyStore.of(other), clock).revoke(k.id());
    }
    verifier.pollChanges();

    assertThat(reason(verifier.verify(k.key().reveal()))).isEqualTo(Reason.REVOKED_KEY);
  }

  /**
   * A lookup that read the key before a revocation and finishes after the poller applied it must
   * not leave its stale row in the cache.
   */
  @Test
  void lookupRacingARevocation_doesNotCacheTheStaleRow() throws Exception {
    IssuedKey k = issue("");
    CountDownLatch read = new CountDownLatch(1);
    CountDownLatch release = new CountDownLatch(1);
    KeyStore slow =
        new CountingKeyStore(KeyStore.of(db)) {
          @Override
          public @Nullable StoredKey find(String id) {
            StoredKey row = super.find(id);
            read.countDown();
            try {
              release.await(10, TimeUnit.SECONDS);
            } catch (InterruptedException e) {
              Thread.currentThread().interrupt();
            }
            return row;
          }
        };
    StoredKeyVerifier v = verifier(slow, 10);
    CompletableFuture<Verification> first =
        CompletableFuture.supplyAsync(() -> v.verify(k.key().reveal()));
    assertThat(read.await(10, TimeUnit.SECONDS)).isTrue();

    keys.revoke(k.id());
    v.pollChanges();
    release.countDown();

    assertThat(first.get(10, TimeUnit.SECONDS))
        .as("the racing request itself saw the key before the revocation")
        .isInstanceOf(Verification.Verified.class);
    assertThat(reason(v.verify(k.key().reveal()))).isEqualTo(Reason.REVOKED_KEY);
    v.close();
  }

  // ---- last use -------------------------------------------------------------------------------

  @Test
  void keyTimes_areWholeSeconds_inEveryForm_lastUseIncluded() {
    clock.advance(Duration.ofMillis(250)); // 10:00:00.250
    IssuedKey k = issue("");
    assertThat(k.metadata().createdAt()).isEqualTo(Instant.parse("2026-11-22T10:00:00Z"));

    clock.advance(Duration.ofNanos(1_123_456_000)); // 10:00:01.373456
    verifier.verify(k.key().reveal());
    verifier.flushUses();
    KeyMetadata stored = store.find(k.id()).metadata();
    assertThat(stored.lastUsedAt()).isEqualTo(Instant.parse("2026-11-22T10:00:01Z"));
    assertThat(KeyJson.key(stored)).contains("\"last_used_at\":\"2026-11-22T10:00:01Z\"");
    assertThat(stored.toProto().getLastUsedAt().getNanos()).isZero();

    IssuedKey rotated = ((KeyResult.Ok<IssuedKey>) keys.rotate(k.id(), "1500ms")).value();
    assertThat(rotated.previousValidUntil()).isEqualTo(Instant.parse("2026-11-22T10:00:02Z"));
    assertThat(issue("2500ms").metadata().expiresAt())
        .isEqualTo(Instant.parse("2026-11-22T10:00:03Z"));
  }

  @Test
  void lastUse_isWrittenBehind_coalescedToTheLatestUsePerKey() {
    IssuedKey a = issue("");
    IssuedKey b = issue("");
    for (int i = 0; i < 100; i++) {
      verifier.verify(a.key().reveal());
      verifier.verify(b.key().reveal());
      clock.advance(Duration.ofSeconds(1));
    }
    Instant lastA = clock.instant();
    verifier.verify(a.key().reveal());
    assertThat(store.find(a.id()).metadata().lastUsedAt()).as("never on the hot path").isNull();

    verifier.flushUses();

    assertThat(store.recordUses.get()).isEqualTo(1);
    assertThat(store.find(a.id()).metadata().lastUsedAt()).isEqualTo(lastA);
    assertThat(store.find(b.id()).metadata().lastUsedAt()).isEqualTo(lastA.minusSeconds(1));
    verifier.flushUses();
    assertThat(store.recordUses.get()).as("nothing new, nothing written").isEqualTo(1);
  }

  @Test
  void verificationsThatDoNotCountUse_explain_verifyButLeaveLastUsedAlone() {
    IssuedKey k = issue("");

    assertThat(verifier.verify(k.key().reveal(), false)).isInstanceOf(Verification.Verified.class);
    verifier.flushUses();

    assertThat(store.recordUses.get()).isZero();
    assertThat(store.find(k.id()).metadata().lastUsedAt()).isNull();
  }

  @Test
  void failedVerifications_doNotCountAsUse() {
    IssuedKey k = issue("");
    verifier.verify(oneCharacterOff(k.key().reveal()));
    verifier.flushUses();
    assertThat(store.recordUses.get()).isZero();
    assertThat(store.find(k.id()).metadata().lastUsedAt()).isNull();
  }

  @Test
  void aLastUseFlushWaitingOnTheStore_doesNotHoldUpTheChangePoller() throws Exception {
    IssuedKey k = issue("");
    CountDownLatch flushing = new CountDownLatch(1);
    CountDownLatch storeAnswers = new CountDownLatch(1);
    CountingKeyStore slowWrites =
        new CountingKeyStore(KeyStore.of(db)) {
          @Override
          public void recordUses(java.util.Map<String, Instant> lastUses) {
            flushing.countDown();
            try {
              storeAnswers.await(); // a locked api_key table: the write waits
            } catch (InterruptedException e) {
              Thread.currentThread().interrupt();
            }
            super.recordUses(lastUses);
          }
        };
    StoredKeyVerifier v =
        StoredKeyVerifier.builder(slowWrites, new SimpleMeterRegistry())
            .clock(clock)
            .pollInterval(Duration.ofMillis(20))
            .flushInterval(Duration.ofMillis(20))
            .build()
            .start();
    try {
      assertThat(v.verify(k.key().reveal())).isInstanceOf(Verification.Verified.class);
      assertThat(flushing.await(5, TimeUnit.SECONDS)).as("the flush started").isTrue();
      int before = slowWrites.changeReads.get();
      await("change polls while the flush waits")
          .atMost(Duration.ofSeconds(5))
          .until(() -> slowWrites.changeReads.get() >= before + 3);
    } finally {
      storeAnswers.countDown();
      v.close();
    }
  }

  // ---- secrets --------------------------------------------------------------------------------

  @Test
  void secrets_neverAppearInLogsOrDetails() {
    Logger root = (Logger) LoggerFactory.getLogger("io.portcullis");
    ListAppender<ILoggingEvent> logs = new ListAppender<>();
    logs.start();
    root.addAppender(logs);
    try {
      IssuedKey k = issue("1d");
      String key = k.key().reveal();
      List<Verification> outcomes = new ArrayList<>();
      outcomes.add(verifier.verify(key));
      outcomes.add(verifier.verify(oneCharacterOff(key)));
      keys.rotate(k.id(), "0s");
      verifier.pollChanges();
      outcomes.add(verifier.verify(key));
      keys.revoke(k.id());
      verifier.pollChanges();
      outcomes.add(verifier.verify(key));
      verifier.flushUses();
      // a failing store: the poller and flusher log their failures
      Database gone = Database.open(StoreSettings.of("jdbc:sqlite:" + dir.resolve("gone2.db")));
      StoredKeyVerifier failing = verifier(KeyStore.of(gone), 10);
      gone.close();
      outcomes.add(failing.verify(key));
      failing.pollChanges();
      failing.close();

      String secret = key.substring(17, 60);
      assertThat(outcomes).allSatisfy(o -> assertThat(o.toString()).doesNotContain(secret));
      assertThat(logs.list).isNotEmpty();
      for (ILoggingEvent e : logs.list) {
        assertThat(e.getFormattedMessage()).doesNotContain(secret);
        if (e.getThrowableProxy() != null) {
          assertThat(e.getThrowableProxy().getMessage()).doesNotContain(secret);
        }
      }
      assertThat(Set.of(k.toString(), k.key().toString(), store.find(k.id()).toString()))
          .allSatisfy(s -> assertThat(s).doesNotContain(secret));
    } finally {
      root.detachAppender(logs);
    }
  }
}
