package io.portcullis.audit;

import io.portcullis.store.Database;
import io.portcullis.store.StoreSettings;
import io.portcullis.testing.FreshPostgresDatabase;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;

/** The {@link AuditStore} contract against a fresh database on the test PostgreSQL server. */
class PostgresAuditStoreIT extends AuditStoreContract {
  static FreshPostgresDatabase pg;
  static Database db;

  @BeforeAll
  static void open() {
    pg = FreshPostgresDatabase.create();
    db = Database.open(StoreSettings.of(pg.url()));
  }

  @AfterAll
  static void close() throws SQLException {
    db.close();
    pg.close();
  }

  @Override
  Database database() {
    return db;
  }

  /**
   * The plan with sequential scans, bitmap scans and sorts priced out: if an index can deliver the
   * filtered rows in page order, the plan is a plain index scan without a Sort node; if none can,
   * PostgreSQL still sorts (disabling only penalizes) and the contract's assertion fails.
   */
  @Override
  List<String> explain(JdbcAuditStore.Sql sql) throws SQLException {
    List<String> plan = new ArrayList<>();
    try (Connection c = db.connection()) {
      c.setAutoCommit(false);
      try (Statement s = c.createStatement()) {
        s.execute("SET LOCAL enable_seqscan = off");
        s.execute("SET LOCAL enable_bitmapscan = off");
        s.execute("SET LOCAL enable_sort = off");
        s.execute("SET LOCAL enable_incremental_sort = off");
      }
      try (PreparedStatement ps = c.prepareStatement("EXPLAIN " + sql.text())) {
        for (int i = 0; i < sql.params().size(); i++) {
          ps.setObject(i + 1, sql.params().get(i));
        }
        try (ResultSet rs = ps.executeQuery()) {
          while (rs.next()) {
            plan.add(rs.getString(1));
          }
        }
      } finally {
        c.rollback();
        c.setAutoCommit(true);
      }
    }
    return plan;
  }
}
