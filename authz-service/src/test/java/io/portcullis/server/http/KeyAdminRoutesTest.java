package io.portcullis.server.http;

import static org.assertj.core.api.Assertions.assertThat;

import io.portcullis.keys.KeyFormat;
import io.portcullis.keys.KeyHash;
import io.portcullis.keys.KeyLifecycle;
import io.portcullis.keys.KeyStore;
import io.portcullis.store.Database;
import io.portcullis.store.StoreSettings;
import io.portcullis.testing.AdminRequests;
import io.portcullis.testing.FakeClock;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import tools.jackson.databind.JsonNode;
import tools.jackson.databind.json.JsonMapper;

/** The key routes called through the admin router, against a real SQLite store. */
class KeyAdminRoutesTest {
  static final JsonMapper JSON = JsonMapper.builder().build();
  @TempDir static Path dir;
  static Database db;

  FakeClock clock;
  KeyStore store;
  AdminRouter router;

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
    router = new KeyAdminRoutes(new KeyLifecycle(store, clock)).register(new AdminRouter());
  }

  static JsonNode json(AdminResponse r) {
    return JSON.readTree(r.bodyText());
  }

  static List<String> fieldNames(JsonNode n) {
    List<String> out = new ArrayList<>();
    n.propertyNames().forEach(out::add);
    return out;
  }

  JsonNode issued(String body) {
    AdminResponse r = router.dispatch(AdminRequests.post("/admin/keys", body));
    assertThat(r.status()).as(r.bodyText()).isEqualTo(201);
    return json(r);
  }

  static void assertProblem(AdminResponse r, int status, String type) {
    assertThat(r.status()).as(r.bodyText()).isEqualTo(status);
    assertThat(r.contentType()).isEqualTo(AdminResponse.PROBLEM_JSON);
    assertThat(json(r).get("type").asString()).isEqualTo("urn:portcullis:error:" + type);
    assertThat(json(r).get("status").asInt()).isEqualTo(status);
  }

  @Test
  void issue_is201_withTheSecretOnce_andTheDocumentedShape() {
    AdminResponse r =
        router.dispatch(
            AdminRequests.post(
                "/admin/keys",
                """
                {"client":"acme","client_type":"partner","roles":["orders.read"],"scopes":[],
                 "expires_in":"90d"}"""));

    assertThat(r.status()).isEqualTo(201);
    assertThat(r.contentType()).isEqualTo(AdminResponse.JSON);
    assertThat(r.headers()).containsEntry("Cache-Control", "no-store");
    JsonNode k = json(r);
    assertThat(fieldNames(k))
        .containsExactly(
            "id",
            "secret",
            "client",
            "client_type",
            "roles",
            "scopes",
            "created_at",
            "expires_at",
            "revoked_at",
            "last_used_at",
            "segment_hint",
            "rotated_from");
    String secret = k.get("secret").asString();
    assertThat(KeyFormat.idOf(secret)).isEqualTo(k.get("id").asString());
    assertThat(k.get("client").asString()).isEqualTo("acme");
    assertThat(k.get("client_type").asString()).isEqualTo("partner");
    assertThat(k.get("roles").get(0).asString()).isEqualTo("orders.read");
    assertThat(k.get("scopes").size()).isZero();
    assertThat(k.get("created_at").asString()).isEqualTo("2026-11-22T10:00:00Z");
    assertThat(k.get("expires_at").asString()).isEqualTo("2027-02-20T10:00:00Z");
    assertThat(k.get("revoked_at").isNull()).isTrue();
    assertThat(k.get("last_used_at").isNull()).isTrue();
    assertThat(store.find(k.get("id").asString()).secretHash().matches(KeyHash.of(secret)))
        .isTrue();
  }

  @Test
  void issue_invalidBodies_are400ProblemsWithoutEchoingValues() {
    for (String body :
        List.of(
            "",
            "not json",
            "[1]",
            "{}",
            "{\"client\":7}",
            "{\"client\":\"acme\",\"colour\":\"crimson-7\"}",
            "{\"client\":\"acme\",\"roles\":\"orders.read\"}",
            "{\"client\":\"acme\",\"roles\":[1]}",
            "{\"client\":\"acme\",\"expires_in\":90}",
            "{\"client\":\"acme\",\"expires_in\":\"ninety days\"}",
            "{\"client\":\"ac me\"}")) {
      AdminResponse r = router.dispatch(AdminRequests.post("/admin/keys", body));
      assertProblem(r, 400, "invalid_key_request");
      assertThat(r.bodyText()).doesNotContain("ninety days").doesNotContain("crimson-7");
    }
    AdminResponse badExpiry =
        router.dispatch(
            AdminRequests.post("/admin/keys", "{\"client\":\"acme\",\"expires_in\":\"90x\"}"));
    assertThat(badExpiry.bodyText())
        .as("the API names its own field")
        .contains("expires_in must be");
    assertThat(store.list(null)).isEmpty();
  }

  @Test
  void rotate_is200_withIdSecretAndPreviousValidUntil() {
    JsonNode k = issued("{\"client\":\"acme\"}");
    String id = k.get("id").asString();

    AdminResponse r =
        router.dispatch(AdminRequests.post("/admin/keys/" + id + "/rotate", "{\"grace\":\"24h\"}"));

    assertThat(r.status()).as(r.bodyText()).isEqualTo(200);
    assertThat(r.headers()).containsEntry("Cache-Control", "no-store");
    JsonNode body = json(r);
    assertThat(fieldNames(body)).containsExactly("id", "secret", "previous_valid_until");
    assertThat(body.get("id").asString()).isEqualTo(id);
    assertThat(KeyFormat.idOf(body.get("secret").asString())).isEqualTo(id);
    assertThat(body.get("secret").asString()).isNotEqualTo(k.get("secret").asString());
    assertThat(body.get("previous_valid_until").asString()).isEqualTo("2026-11-23T10:00:00Z");

    AdminResponse noBody = router.dispatch(AdminRequests.post("/admin/keys/" + id + "/rotate", ""));
    assertThat(json(noBody).get("previous_valid_until").asString())
        .as("no grace by default")
        .isEqualTo("2026-11-22T10:00:00Z");
  }

  @Test
  void rotate_errors() {
    String id = issued("{\"client\":\"acme\"}").get("id").asString();
    assertProblem(
        router.dispatch(AdminRequests.post("/admin/keys/AAAAAAAAAAAA/rotate", "{}")),
        404,
        "not_found");
    assertProblem(
        router.dispatch(AdminRequests.post("/admin/keys/" + id + "/rotate", "{\"grace\":24}")),
        400,
        "invalid_key_request");
    assertProblem(
        router.dispatch(AdminRequests.post("/admin/keys/" + id + "/rotate", "{\"ttl\":\"1h\"}")),
        400,
        "invalid_key_request");
    assertThat(router.dispatch(AdminRequests.delete("/admin/keys/" + id)).status()).isEqualTo(204);
    assertProblem(
        router.dispatch(AdminRequests.post("/admin/keys/" + id + "/rotate", "{}")),
        409,
        "key_revoked");
  }

  @Test
  void revoke_is204_thenListedAsRevoked_unknownIs404() {
    String id = issued("{\"client\":\"acme\"}").get("id").asString();

    assertThat(router.dispatch(AdminRequests.delete("/admin/keys/" + id)).status()).isEqualTo(204);

    JsonNode listed = json(router.dispatch(AdminRequests.get("/admin/keys"))).get("keys").get(0);
    assertThat(listed.get("revoked_at").asString()).isEqualTo("2026-11-22T10:00:00Z");
    assertProblem(
        router.dispatch(AdminRequests.delete("/admin/keys/AAAAAAAAAAAA")), 404, "not_found");
  }

  @Test
  void list_filtersByClient_andNeverShowsASecretOrHash() {
    JsonNode a = issued("{\"client\":\"acme\",\"roles\":[\"r1\"]}");
    JsonNode g = issued("{\"client\":\"globex\"}");

    AdminResponse all = router.dispatch(AdminRequests.get("/admin/keys"));
    AdminResponse acme =
        router.dispatch(AdminRequests.get("/admin/keys", Map.of("client", "acme")));

    assertThat(all.status()).isEqualTo(200);
    assertThat(json(all).get("keys").size()).isEqualTo(2);
    JsonNode only = json(acme).get("keys");
    assertThat(only.size()).isEqualTo(1);
    assertThat(fieldNames(only.get(0)))
        .containsExactly(
            "id",
            "client",
            "client_type",
            "roles",
            "scopes",
            "created_at",
            "expires_at",
            "revoked_at",
            "last_used_at",
            "segment_hint",
            "rotated_from");
    for (JsonNode issued : List.of(a, g)) {
      String secret = issued.get("secret").asString();
      assertThat(all.bodyText()).doesNotContain(secret.substring(17)).doesNotContain("secret");
    }
  }

  @Test
  void unreachableStore_is503() {
    Database gone = Database.open(StoreSettings.of("jdbc:sqlite:" + dir.resolve("gone.db")));
    AdminRouter r =
        new KeyAdminRoutes(new KeyLifecycle(KeyStore.of(gone), clock)).register(new AdminRouter());
    gone.close();

    assertProblem(r.dispatch(AdminRequests.get("/admin/keys")), 503, "store_unavailable");
    assertProblem(
        r.dispatch(AdminRequests.post("/admin/keys", "{\"client\":\"acme\"}")),
        503,
        "store_unavailable");
  }
}
