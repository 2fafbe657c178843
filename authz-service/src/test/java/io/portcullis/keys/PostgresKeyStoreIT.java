package io.portcullis.keys;

import io.portcullis.store.Database;
import io.portcullis.store.StoreSettings;
import io.portcullis.testing.FreshPostgresDatabase;
import java.sql.SQLException;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;

/** The {@link KeyStore} contract against a fresh database on the test PostgreSQL server. */
class PostgresKeyStoreIT extends KeyStoreContract {
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
}
