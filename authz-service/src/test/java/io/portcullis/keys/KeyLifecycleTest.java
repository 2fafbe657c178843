package io.portcullis.keys;

import static org.assertj.core.api.Assertions.assertThat;

import io.portcullis.keys.KeyResult.Refusal;
import io.portcullis.store.Database;
import io.portcullis.store.StoreSettings;
import io.portcullis.testing.FakeClock;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.time.Instant;
import java.util.Collections;
import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class KeyLifecycleTest {
  @TempDir static Path dir;
  static Database db;

  FakeClock clock;
  KeyStore store;
  KeyLifecycle keys;

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
    store = KeyStore.of(db);
    keys = new KeyLifecycle(store, clock);
  }

  static <T> T ok(KeyResult<T> r) {
    assertThat(r).isInstanceOf(KeyResult.Ok.class);
    return ((KeyResult.Ok<T>) r).value();
  }

  static Refusal refusal(KeyResult<?> r) {
    assertThat(r).isInstanceOf(KeyResult.Refused.class);
    return ((KeyResult.Refused<?>) r).refusal();
  }

  IssuedKey issue(String client) {
    return ok(
        keys.issue(
            KeyRequest.builder(client)
                .clientType("partner")
                .roles(List.of("orders.read", "orders.read", "orders.write"))
                .scopes(List.of("orders:read"))
                .segmentHint("partners")
                .expiresIn("90d")
                .build()));
  }

  @Test
  void issue_returnsTheSecretOnce_andStoresOnlyItsHash() throws SQLException {
    IssuedKey issued = issue("acme");
    String secret = issued.key().reveal();

    assertThat(KeyFormat.idOf(secret)).isEqualTo(issued.id());
    KeyMetadata m = issued.metadata();
    assertThat(m.client()).isEqualTo("acme");
    assertThat(m.clientType()).isEqualTo("partner");
    assertThat(m.roles()).as("duplicates dropped").containsExactly("orders.read", "orders.write");
    assertThat(m.scopes()).containsExactly("orders:read");
    assertThat(m.segmentHint()).isEqualTo("partners");
    assertThat(m.createdAt()).isEqualTo(clock.instant());
    assertThat(m.expiresAt()).isEqualTo(clock.instant().plus(Duration.ofDays(90)));
    assertThat(issued.previousValidUntil()).isNull();
    assertThat(issued.toString()).doesNotContain(secret).doesNotContain(secret.substring(17));

    StoredKey stored = store.find(issued.id());
    assertThat(stored.metadata()).isEqualTo(m);
    assertThat(stored.secretHash().matches(KeyHash.of(secret))).isTrue();
    assertThat(everyStoredText()).doesNotContain(secret.substring(17, 60));
  }

  /** Every text and byte column of the key table, as one string. */
  private static String everyStoredText() throws SQLException {
    StringBuilder all = new StringBuilder();
    try (Connection c = db.connection();
        PreparedStatement ps = c.prepareStatement("SELECT * FROM api_key");
        ResultSet rs = ps.executeQuery()) {
      while (rs.next()) {
        for (int i = 1; i <= rs.getMetaData().getColumnCount(); i++) {
          Object v = rs.getObject(i);
          all.append(
                  v instanceof byte[] b
                      ? new String(b, java.nio.charset.StandardCharsets.ISO_8859_1)
                      : v)
              .append('|');
        }
      }
    }
    return all.toString();
  }

  @Test
  void issue_withoutExpiry_neverExpires() {
    IssuedKey k = ok(keys.issue(KeyRequest.builder("acme").build()));
    assertThat(k.metadata().expiresAt()).isNull();
    assertThat(k.metadata().clientType()).isNull();
  }

  @Test
  void issue_invalidRequests_areRefusedAndStoreNothing() {
    List<KeyRequest> bad =
        List.of(
            KeyRequest.builder("").build(),
            KeyRequest.builder("ac me").build(),
            KeyRequest.builder("acme\n").build(),
            KeyRequest.builder("x".repeat(129)).build(),
            KeyRequest.builder("acme").clientType("part ner").build(),
            KeyRequest.builder("acme").roles(List.of("ok", "")).build(),
            KeyRequest.builder("acme").scopes(Collections.nCopies(101, "s")).build(),
            KeyRequest.builder("acme").expiresIn("soon").build(),
            KeyRequest.builder("acme").expiresIn("-5d").build(),
            KeyRequest.builder("acme").expiresIn("36501d").build());
    for (KeyRequest r : bad) {
      KeyResult<IssuedKey> result = keys.issue(r);
      assertThat(refusal(result)).as(r.toString()).isEqualTo(Refusal.INVALID_REQUEST);
    }
    assertThat(keys.list(null)).isEmpty();
  }

  @Test
  void rotate_keepsTheId_newSecretAtOnce_oldOneUntilTheGraceEnds() {
    IssuedKey first = issue("acme");
    clock.advance(Duration.ofMinutes(5));

    IssuedKey rotated = ok(keys.rotate(first.id(), "24h"));

    assertThat(rotated.id()).isEqualTo(first.id());
    assertThat(rotated.key().reveal()).isNotEqualTo(first.key().reveal());
    assertThat(rotated.previousValidUntil()).isEqualTo(clock.instant().plus(Duration.ofHours(24)));
    assertThat(rotated.metadata().rotatedFrom()).isEqualTo("v1");
    StoredKey stored = store.find(first.id());
    assertThat(stored.secretHash().matches(KeyHash.of(rotated.key().reveal()))).isTrue();
    assertThat(stored.previousHash().matches(KeyHash.of(first.key().reveal()))).isTrue();
  }

  @Test
  void rotate_withoutGrace_endsTheOldSecretNow() {
    IssuedKey first = issue("acme");
    for (String none : new String[] {null, "", "0", "0s"}) {
      IssuedKey rotated = ok(keys.rotate(first.id(), none));
      assertThat(rotated.previousValidUntil()).as(String.valueOf(none)).isEqualTo(clock.instant());
    }
  }

  @Test
  void rotate_refusals() {
    IssuedKey k = issue("acme");
    assertThat(refusal(keys.rotate(k.id(), "31d"))).isEqualTo(Refusal.INVALID_REQUEST);
    assertThat(refusal(keys.rotate(k.id(), "-1h"))).isEqualTo(Refusal.INVALID_REQUEST);
    assertThat(refusal(keys.rotate("AAAAAAAAAAAA", "1h"))).isEqualTo(Refusal.NOT_FOUND);
    assertThat(refusal(keys.rotate("../etc", "1h"))).isEqualTo(Refusal.NOT_FOUND);

    IssuedKey expiring = issue("acme");
    clock.advance(Duration.ofDays(91));
    assertThat(refusal(keys.rotate(expiring.id(), "1h"))).isEqualTo(Refusal.EXPIRED);

    IssuedKey revoked = issue("acme");
    ok(keys.revoke(revoked.id()));
    assertThat(refusal(keys.rotate(revoked.id(), "1h"))).isEqualTo(Refusal.REVOKED);
    assertThat(store.find(revoked.id()).metadata().generation()).isEqualTo(1);
  }

  @Test
  void revoke_isImmediate_andKeepsTheFirstTime() {
    IssuedKey k = issue("acme");
    Instant first = clock.instant();

    assertThat(ok(keys.revoke(k.id())).revokedAt()).isEqualTo(first);
    clock.advance(Duration.ofHours(1));
    assertThat(ok(keys.revoke(k.id())).revokedAt()).isEqualTo(first);
    assertThat(refusal(keys.revoke("AAAAAAAAAAAA"))).isEqualTo(Refusal.NOT_FOUND);
    assertThat(refusal(keys.revoke("not an id"))).isEqualTo(Refusal.NOT_FOUND);
  }

  @Test
  void list_oneClientOrAll() {
    IssuedKey a = issue("acme");
    clock.advance(Duration.ofSeconds(1));
    IssuedKey g = issue("globex");

    assertThat(keys.list("acme")).extracting(KeyMetadata::id).containsExactly(a.id());
    assertThat(keys.list(null)).extracting(KeyMetadata::id).containsExactly(a.id(), g.id());
    assertThat(keys.list("")).hasSize(2);
  }
}
