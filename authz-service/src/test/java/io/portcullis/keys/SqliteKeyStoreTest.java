package io.portcullis.keys;

import io.portcullis.store.Database;
import io.portcullis.store.StoreSettings;
import java.nio.file.Path;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.io.TempDir;

/** The {@link KeyStore} contract against SQLite in a temporary file. */
class SqliteKeyStoreTest extends KeyStoreContract {
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
}
