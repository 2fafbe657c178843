package io.portcullis.audit;

import static org.assertj.core.api.Assertions.assertThat;

import io.portcullis.store.Database;
import io.portcullis.store.StoreSettings;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The {@link AuditStore} contract against SQLite in a temporary file. */
class SqliteAuditStoreTest extends AuditStoreContract {
  @TempDir static Path dir;
  static Database db;

  @BeforeAll
  static void open() {
    db = Database.open(StoreSettings.of("jdbc:sqlite:" + dir.resolve("data/portcullis.db")));
  }

  @AfterAll
  static void close() {
    db.close();
  }

  @Override
  Database database() {
    return db;
  }

  @Override
  List<String> explain(JdbcAuditStore.Sql sql) throws SQLException {
    List<String> plan = new ArrayList<>();
    try (Connection c = db.connection();
        PreparedStatement ps = c.prepareStatement("EXPLAIN QUERY PLAN " + sql.text())) {
      for (int i = 0; i < sql.params().size(); i++) {
        ps.setObject(i + 1, sql.params().get(i));
      }
      try (ResultSet rs = ps.executeQuery()) {
        while (rs.next()) {
          plan.add(rs.getString("detail"));
        }
      }
    }
    return plan;
  }

  @Test
  void query_pathPrefixByIndex_readsThePathIndexRange() throws SQLException {
    JdbcAuditStore jdbc = (JdbcAuditStore) AuditStore.of(db);
    String byIndex =
        String.join(
            "\n", explain(jdbc.querySql(AuditQuery.builder().pathPrefix("/v1/").build(), true)));
    assertThat(byIndex).contains("audit_record_path").contains("path>? AND path<?");
    String byTime =
        String.join(
            "\n", explain(jdbc.querySql(AuditQuery.builder().pathPrefix("/v1/").build(), false)));
    assertThat(byTime).contains("audit_record_time").doesNotContain("audit_record_path");
  }
}
