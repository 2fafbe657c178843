package io.portcullis.store;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.catchThrowableOfType;

import io.portcullis.testing.FreshPostgresDatabase;
import java.net.ServerSocket;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

class DatabaseIT {
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
  void open_postgres_migratesOnceAndCreatesTheAuditTables() throws Exception {
    try (Database db = Database.open(StoreSettings.of(pg.url()))) {
      assertThat(db.kind()).isEqualTo(DatabaseKind.POSTGRESQL);
      assertThat(db.appliedMigrations()).isGreaterThanOrEqualTo(1);
      try (Connection c = db.connection();
          Statement s = c.createStatement();
          ResultSet rs =
              s.executeQuery(
                  "SELECT count(*) FROM information_schema.tables"
                      + " WHERE table_name IN ('audit_record', 'audit_chain')")) {
        rs.next();
        assertThat(rs.getInt(1)).isEqualTo(2);
      }
    }
    try (Database again = Database.open(StoreSettings.of(pg.url()))) {
      assertThat(again.appliedMigrations()).isZero();
    }
  }

  @Test
  void aFailedBatch_doesNotQuoteItsParametersOrTheViolatingKey() throws Exception {
    String marker = "principal-that-must-not-be-logged";
    try (Database db = Database.open(StoreSettings.of(pg.url()));
        Connection c = db.connection()) {
      try (Statement s = c.createStatement()) {
        s.execute("CREATE TEMPORARY TABLE t (k TEXT PRIMARY KEY)");
      }
      SQLException failure;
      try (PreparedStatement ps = c.prepareStatement("INSERT INTO t (k) VALUES (?)")) {
        for (int i = 0; i < 2; i++) {
          ps.setString(1, marker);
          ps.addBatch();
        }
        failure = catchThrowableOfType(SQLException.class, ps::executeBatch);
      }

      assertThat((Object) failure).as("the duplicate key fails the batch").isNotNull();
      StoreException reported = db.failure("inserting", failure);
      assertThat(reported.getMessage()).contains("duplicate key").doesNotContain(marker);
      for (SQLException e = failure; e != null; e = e.getNextException()) {
        assertThat(e.getMessage()).doesNotContain(marker);
      }
    }
  }

  @Test
  void open_unreachablePostgres_failsWithARedactedUrl() throws Exception {
    int closedPort;
    try (ServerSocket s = new ServerSocket(0)) {
      closedPort = s.getLocalPort();
    }
    StoreSettings settings =
        StoreSettings.of(
                "jdbc:postgresql://127.0.0.1:" + closedPort + "/x?user=pc&password=hunter2")
            .withConnectTimeout(Duration.ofMillis(500));

    assertThatThrownBy(() -> Database.open(settings))
        .isInstanceOf(StoreException.class)
        .hasMessageContaining("127.0.0.1:" + closedPort)
        .hasMessageNotContaining("hunter2");
  }
}
