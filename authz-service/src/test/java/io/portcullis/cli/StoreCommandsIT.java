package io.portcullis.cli;

import static org.assertj.core.api.Assertions.assertThat;

import io.portcullis.testing.FreshPostgresDatabase;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.Statement;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * {@code keys} and {@code audit} against a PostgreSQL store that is not there: exit 3 with a
 * message saying why, and nothing created in the database.
 */
class StoreCommandsIT {
  static FreshPostgresDatabase pg;

  @BeforeAll
  static void create() {
    pg = FreshPostgresDatabase.create();
  }

  @AfterAll
  static void drop() throws Exception {
    pg.close();
  }

  @Test
  void missingDatabase_exits3SayingItDoesNotExist() {
    String url = pg.url().replace(pg.name(), pg.name() + "_typo");

    CommandRun verify = CommandRun.of(new PortcullisCommand(), "audit", "verify", "--store", url);
    CommandRun issue =
        CommandRun.of(new PortcullisCommand(), "keys", "issue", "--client", "acme", "--store", url);

    assertThat(verify.exit()).isEqualTo(StoreOptions.STORE_FAILED);
    assertThat(verify.err())
        .startsWith("cannot open the store: ")
        .contains("database \"" + pg.name() + "_typo\" does not exist");
    assertThat(verify.out()).isEmpty();
    assertThat(issue.exit()).isEqualTo(StoreOptions.STORE_FAILED);
    assertThat(issue.err()).contains("does not exist");
    assertThat(issue.out()).isEmpty();
  }

  @Test
  void emptyDatabase_exits3_andGetsNoTables() throws Exception {
    CommandRun verify =
        CommandRun.of(new PortcullisCommand(), "audit", "verify", "--store", pg.url());
    CommandRun issue =
        CommandRun.of(
            new PortcullisCommand(), "keys", "issue", "--client", "acme", "--store", pg.url());

    assertThat(verify.exit()).isEqualTo(StoreOptions.STORE_FAILED);
    assertThat(verify.err()).contains("holds no Portcullis store");
    assertThat(issue.exit()).isEqualTo(StoreOptions.STORE_FAILED);
    assertThat(issue.err()).contains("holds no Portcullis store");
    try (Connection c = pg.connect();
        Statement s = c.createStatement();
        ResultSet rs =
            s.executeQuery(
                "SELECT count(*) FROM information_schema.tables WHERE table_schema = 'public'")) {
      rs.next();
      assertThat(rs.getInt(1)).isZero();
    }
  }
}
