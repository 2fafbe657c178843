package io.portcullis.audit;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.portcullis.decision.Decision;
import io.portcullis.decision.Reason;
import io.portcullis.identity.CredentialType;
import io.portcullis.identity.Identity;
import io.portcullis.request.Body;
import io.portcullis.request.RequestAttributes;
import io.portcullis.store.Database;
import io.portcullis.store.StoreSettings;
import io.portcullis.testing.DecisionFixtures;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.ResultSet;
import java.sql.ResultSetMetaData;
import java.sql.Statement;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * No token, key secret, cookie, body or query string reaches the audit log, for any credential
 * type, whether the record goes through the journal (store down) or straight to the store: the
 * journal bytes, every stored column and the database files themselves are searched.
 */
class AuditSecretsTest {
  static final String JWT =
      "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJhbGljZSIsImF6cCI6ImFjbWUifQ.c2lnLXNlY3JldC1qd3Q";
  static final String OPAQUE_TOKEN = "opaque-tok-SECRET-3f9c2b7d1e";
  static final String API_KEY_SECRET = "pk_live_SECRET_abcdef123456";
  static final String CLIENT_CERT = "MIIBsecretCERTbytes0123456789";
  static final String COOKIE = "sess-SECRET-98765";
  static final String QUERY_TOKEN = "qs-SECRET-token-4242";
  static final String QUERY_KEY = "qs-SECRET-key-4343";
  static final String BODY_PASSWORD = "body-SECRET-pw-777";
  static final String USER_PASSWORD = "userinfo-SECRET-pw";

  static final List<String> SECRETS =
      List.of(
          JWT,
          "c2lnLXNlY3JldC1qd3Q", // the JWT's signature alone
          OPAQUE_TOKEN,
          API_KEY_SECRET,
          CLIENT_CERT,
          COOKIE,
          QUERY_TOKEN,
          QUERY_KEY,
          BODY_PASSWORD,
          USER_PASSWORD);

  @TempDir Path dir;

  /** A request carrying every kind of secret: headers, cookie, query string, body. */
  static RequestAttributes.Builder request(String authorization) {
    return RequestAttributes.builder()
        .method("POST")
        .host("api.example.com")
        .path("/v1/orders?access_token=" + QUERY_TOKEN + "&api_key=" + QUERY_KEY)
        .header("authorization", authorization)
        .header("cookie", "session=" + COOKIE)
        .header("x-api-key", API_KEY_SECRET)
        .header(
            "x-forwarded-client-cert",
            "Hash=ab12;Cert=\"-----BEGIN CERTIFICATE-----" + CLIENT_CERT + "\"")
        .body(Body.of("{\"password\":\"" + BODY_PASSWORD + "\"}", false))
        .sourceIp("198.51.100.7");
  }

  static List<Decision> decisionsForEveryCredentialType() {
    Instant t = Instant.parse("2026-11-22T10:00:00Z");
    List<Decision> out = new ArrayList<>();
    Identity jwt = Identity.builder(CredentialType.JWT, "alice").client("acme").build();
    Identity introspected =
        Identity.builder(CredentialType.INTROSPECTION, "svc-reports").client("reports").build();
    Identity apiKey =
        Identity.builder(CredentialType.API_KEY, "key_7f3a")
            .client("globex")
            .apiKeyId("key_7f3a")
            .build();
    Identity mtls = Identity.builder(CredentialType.MTLS, "spiffe://corp/ns/pay/sa/api").build();
    record Case(String authorization, Identity identity) {}
    List<Case> cases =
        List.of(
            new Case("Bearer " + JWT, jwt),
            new Case("Bearer " + OPAQUE_TOKEN, introspected),
            new Case("ApiKey " + API_KEY_SECRET, apiKey),
            new Case("Bearer " + JWT, mtls),
            new Case("Basic dXNlcjo" + USER_PASSWORD, Identity.anonymous()));
    int i = 0;
    for (Case c : cases) {
      RequestAttributes req = request(c.authorization()).build();
      out.add(
          DecisionFixtures.from(req)
              .time(t.plusMillis(i++))
              .identity(c.identity())
              .segment("partners")
              .rule("create-order")
              .limit(DecisionFixtures.limit("per-client", 3))
              .allow());
      out.add(
          DecisionFixtures.from(req)
              .time(t.plusMillis(i++))
              .identity(c.identity())
              .segment("partners")
              .dryRunAllow(Reason.INSUFFICIENT_PERMISSIONS, "admin-only"));
      out.add(
          DecisionFixtures.from(req)
              .time(t.plusMillis(i++))
              .deny(Reason.INVALID_TOKEN, "signature verification failed"));
    }
    // A host with user information, as a careless adapter might pass it on.
    out.add(
        DecisionFixtures.from(
                request("Bearer " + JWT).host("bob:" + USER_PASSWORD + "@api.example.com").build())
            .time(t.plusMillis(i))
            .identity(jwt)
            .segment("partners")
            .allow());
    return out;
  }

  static void assertNoSecret(String where, byte[] bytes) {
    String text = new String(bytes, StandardCharsets.ISO_8859_1); // byte-for-byte
    for (String secret : SECRETS) {
      assertThat(text).as(where + " must not contain " + secret).doesNotContain(secret);
    }
  }

  @Test
  void recordsOfEveryCredentialType_carryNoSecret_inTheJournalTheRowsOrTheDatabaseFiles()
      throws Exception {
    Path dbFile = dir.resolve("portcullis.db");
    List<Decision> decisions = decisionsForEveryCredentialType();
    int n = decisions.size();
    try (Database db =
        Database.open(
            StoreSettings.of("jdbc:sqlite:" + dbFile).withBusyTimeout(Duration.ofMillis(100)))) {
      AuditWriter w =
          AuditWriter.builder(AuditStore.of(db))
              .instance("pc-secrets")
              .settings(
                  AuditSettings.builder()
                      .journalDirectory(dir.resolve("journal"))
                      .retryInterval(Duration.ofMillis(50))
                      .build())
              .build()
              .start();

      // Store down (its write lock held elsewhere): every record goes through the journal.
      Connection lock = DriverManager.getConnection("jdbc:sqlite:" + dbFile);
      try (Statement s = lock.createStatement()) {
        s.execute("BEGIN EXCLUSIVE");
      }
      decisions.forEach(w::append);
      await().atMost(Duration.ofSeconds(30)).until(() -> w.journaled() == n);
      byte[] journal = Files.readAllBytes(w.journalFile());
      assertThat(new String(journal, StandardCharsets.ISO_8859_1))
          .contains("key_7f3a") // the public key id is recorded: the search works
          .contains("/v1/orders");
      assertNoSecret("journal", journal);

      try (Statement s = lock.createStatement()) {
        s.execute("COMMIT");
      }
      lock.close();
      await().atMost(Duration.ofSeconds(30)).until(() -> w.written() == n);
      w.close();

      int rows = 0;
      try (Connection c = db.connection();
          Statement s = c.createStatement();
          ResultSet rs = s.executeQuery("SELECT * FROM audit_record")) {
        ResultSetMetaData md = rs.getMetaData();
        while (rs.next()) {
          rows++;
          for (int col = 1; col <= md.getColumnCount(); col++) {
            byte[] value = rs.getBytes(col);
            if (value != null) {
              assertNoSecret("column " + md.getColumnName(col), value);
            }
          }
        }
      }
      assertThat(rows).isEqualTo(n);

      StringBuilder json = new StringBuilder();
      AuditJson.lines(store(db).query(AuditQuery.builder().limit(1000).build()).records(), json);
      assertThat(json).contains("\"api_key_id\":\"key_7f3a\"");
      assertNoSecret("JSON lines", json.toString().getBytes(StandardCharsets.UTF_8));
    }
    for (String file : List.of("portcullis.db", "portcullis.db-wal")) {
      Path p = dir.resolve(file);
      if (Files.exists(p)) {
        assertNoSecret(file, Files.readAllBytes(p));
      }
    }
  }

  private static AuditStore store(Database db) {
    return AuditStore.of(db);
  }
}
