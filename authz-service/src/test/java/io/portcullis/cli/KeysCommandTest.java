package io.portcullis.cli;

import static org.assertj.core.api.Assertions.assertThat;

import io.portcullis.keys.KeyFormat;
import io.portcullis.store.Database;
import io.portcullis.store.DatabaseKind;
import io.portcullis.store.StoreSettings;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.ResultSet;
import java.sql.Statement;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.flywaydb.core.Flyway;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import tools.jackson.databind.JsonNode;
import tools.jackson.databind.json.JsonMapper;

/** {@code portcullis keys ...} in-process against a SQLite store in a temporary directory. */
class KeysCommandTest {
  static final Pattern KEY = Pattern.compile(KeyFormat.SCANNER_PATTERN);

  @TempDir Path dir;
  String store;

  @BeforeEach
  void setUp() {
    store = "jdbc:sqlite:" + dir.resolve("portcullis.db");
    Database.open(StoreSettings.of(store)).close(); // as serve creates it: the CLI creates none
  }

  CommandRun keys(String... args) {
    String[] all = new String[args.length + 3];
    all[0] = "keys";
    System.arraycopy(args, 0, all, 1, args.length);
    all[args.length + 1] = "--store";
    all[args.length + 2] = store;
    return CommandRun.of(new PortcullisCommand(), all);
  }

  static int occurrences(String text, String part) {
    int n = 0;
    for (int i = text.indexOf(part); i >= 0; i = text.indexOf(part, i + 1)) {
      n++;
    }
    return n;
  }

  /** The one key printed in {@code run}'s output. */
  static String onlyKey(CommandRun run) {
    Matcher m = KEY.matcher(run.out());
    assertThat(m.find()).as(run.out()).isTrue();
    String key = m.group();
    assertThat(m.find()).as("one key only").isFalse();
    return key;
  }

  @Test
  void issue_printsTheSecretExactlyOnce_andListNeverPrintsIt() {
    CommandRun issued =
        keys(
            "issue",
            "--client",
            "acme",
            "--client-type",
            "partner",
            "--roles",
            "orders.read,orders.write",
            "--expires",
            "90d");

    assertThat(issued.exit()).as(issued.err()).isZero();
    String key = onlyKey(issued);
    String id = KeyFormat.idOf(key);
    assertThat(occurrences(issued.out() + issued.err(), key)).isEqualTo(1);
    assertThat(issued.outLines()).anySatisfy(l -> assertThat(l).matches("id +" + id));
    assertThat(issued.outLines())
        .anySatisfy(l -> assertThat(l).matches("roles +orders.read,orders.write"));
    assertThat(issued.err()).contains("shown only this once");

    CommandRun list = keys("list");
    assertThat(list.exit()).isZero();
    assertThat(list.out()).contains(id).contains("acme").contains("partner");
    assertThat(list.out()).doesNotContain(key.substring(17)).doesNotContain("pck_");
    assertThat(list.outLines().getFirst()).startsWith("ID").contains("LAST_USED_AT");
  }

  @Test
  void rotate_printsTheNewSecretOnce_keepsTheId() {
    String key = onlyKey(keys("issue", "--client", "acme"));
    String id = KeyFormat.idOf(key);

    CommandRun rotated = keys("rotate", id, "--grace", "24h");

    assertThat(rotated.exit()).as(rotated.err()).isZero();
    String next = onlyKey(rotated);
    assertThat(KeyFormat.idOf(next)).isEqualTo(id);
    assertThat(next).isNotEqualTo(key);
    assertThat(occurrences(rotated.out(), next)).isEqualTo(1);
    assertThat(rotated.out()).contains("previous_valid_until");
    assertThat(keys("list").out()).doesNotContain(next.substring(17));
  }

  @Test
  void revoke_thenListShowsIt_andRotateIsRefused() {
    String id = KeyFormat.idOf(onlyKey(keys("issue", "--client", "acme")));

    CommandRun revoked = keys("revoke", id);

    assertThat(revoked.exit()).isZero();
    assertThat(revoked.out()).startsWith("revoked " + id + " at ");
    CommandRun rotate = keys("rotate", id);
    assertThat(rotate.exit()).isEqualTo(1);
    assertThat(rotate.err()).contains("revoked");
  }

  @Test
  void jsonFormat_printsTheAdminApiShapes() {
    CommandRun issued = keys("issue", "--client", "acme", "--scopes", "a:b", "--format", "json");
    JsonNode k = JsonMapper.builder().build().readTree(issued.out());
    assertThat(k.get("client").asString()).isEqualTo("acme");
    assertThat(k.get("scopes").get(0).asString()).isEqualTo("a:b");
    String secret = k.get("secret").asString();

    CommandRun listed = keys("list", "--client", "acme", "--format", "json");
    JsonNode keys = JsonMapper.builder().build().readTree(listed.out()).get("keys");
    assertThat(keys.size()).isEqualTo(1);
    assertThat(keys.get(0).get("id").asString()).isEqualTo(k.get("id").asString());
    assertThat(keys.get(0).has("secret")).isFalse();
    assertThat(listed.out()).doesNotContain(secret.substring(17));
    assertThat(keys("list", "--client", "other", "--format", "json").out().trim())
        .isEqualTo("{\"keys\":[]}");
  }

  @Test
  void invalidArgumentsAndUnknownKeys_haveTheirExitStatus() {
    assertThat(keys("issue").exit()).as("--client is required").isEqualTo(2);
    CommandRun badExpiry = keys("issue", "--client", "acme", "--expires", "soon");
    assertThat(badExpiry.exit()).isEqualTo(2);
    assertThat(badExpiry.err()).contains("--expires");
    assertThat(keys("revoke", "AAAAAAAAAAAA").exit()).isEqualTo(1);
    assertThat(keys("rotate", "AAAAAAAAAAAA", "--grace", "1h").exit()).isEqualTo(1);
    assertThat(keys("list").out().lines().count()).as("nothing was issued").isEqualTo(1);
  }

  @Test
  void invalidValues_areNamedByTheirOption_notByTheAdminApiField() {
    CommandRun expiry = keys("issue", "--client", "acme", "--expires", "90x");
    assertThat(expiry.exit()).isEqualTo(2);
    assertThat(expiry.err())
        .startsWith("--expires must be a duration such as 30d, 24h or 90d, at most 36500d")
        .doesNotContain("expires_in");

    CommandRun type = keys("issue", "--client", "acme", "--client-type", "two words");
    assertThat(type.exit()).isEqualTo(2);
    assertThat(type.err())
        .startsWith("--client-type must be visible ASCII characters without spaces")
        .doesNotContain("client_type");

    CommandRun role = keys("issue", "--client", "acme", "--roles", "orders.read,orders write");
    assertThat(role.exit()).isEqualTo(2);
    assertThat(role.err()).startsWith("--roles value 2 must be visible ASCII");

    CommandRun hint = keys("issue", "--client", "acme", "--segment-hint", "x".repeat(129));
    assertThat(hint.err()).startsWith("--segment-hint must be 1 to 128 characters");

    CommandRun grace = keys("rotate", "AAAAAAAAAAAA", "--grace", "forever");
    assertThat(grace.exit()).isEqualTo(2);
    assertThat(grace.err()).startsWith("--grace must be 0 or a duration");

    assertThat(keys("list").out().lines().count()).as("nothing was issued").isEqualTo(1);
  }

  @Test
  void missingSqliteStore_exits3_issuesNoKey_andCreatesNothing() {
    Path typo = dir.resolve("typo/portcullis.db");
    store = "jdbc:sqlite:" + typo;
    for (String[] command :
        List.of(
            new String[] {"issue", "--client", "acme"},
            new String[] {"list"},
            new String[] {"revoke", "AAAAAAAAAAAA"},
            new String[] {"rotate", "AAAAAAAAAAAA"})) {
      CommandRun r = keys(command);

      assertThat(r.exit()).as(command[0]).isEqualTo(StoreOptions.STORE_FAILED);
      assertThat(r.err())
          .as(command[0])
          .startsWith("cannot use the key store: no store at " + typo.toAbsolutePath())
          .contains("the service creates it on its first start");
      assertThat(KEY.matcher(r.out() + r.err()).find()).as(command[0]).isFalse();
      assertThat(typo.getParent()).as(command[0]).doesNotExist();
    }
  }

  @Test
  void olderSchema_exits3_andIsNotMigrated() throws Exception {
    Path old = dir.resolve("old.db");
    store = "jdbc:sqlite:" + old;
    Flyway.configure()
        .dataSource(store, null, null)
        .locations(DatabaseKind.SQLITE.migrationLocation())
        .target("2")
        .load()
        .migrate();

    CommandRun r = keys("list");

    assertThat(r.exit()).isEqualTo(StoreOptions.STORE_FAILED);
    assertThat(r.err()).contains("is at version 2, older than").contains("start the service");
    try (Connection c = DriverManager.getConnection(store);
        Statement s = c.createStatement();
        ResultSet rs = s.executeQuery("SELECT count(*) FROM flyway_schema_history")) {
      rs.next();
      assertThat(rs.getInt(1)).as("V1, V1_1, V2: nothing migrated").isEqualTo(3);
    }
  }
}
