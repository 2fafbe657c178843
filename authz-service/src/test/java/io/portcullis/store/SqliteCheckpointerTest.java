package io.portcullis.store;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.Statement;
import java.time.Duration;
import org.awaitility.Awaitility;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.sqlite.SQLiteConfig;
import org.sqlite.SQLiteDataSource;

/**
 * Commits go to the WAL; only a checkpoint copies pages into the database file. With the writers'
 * automatic checkpoint far away (10,000 pages here, 40,000 in Database), a database file that grows
 * by what was written can only have been filled by the checkpointer's thread.
 */
class SqliteCheckpointerTest {
  @TempDir Path dir;

  static void write(Connection c, int rows) throws Exception {
    byte[] blob = new byte[4096];
    c.setAutoCommit(false);
    try (PreparedStatement insert = c.prepareStatement("INSERT INTO t (b) VALUES (?)")) {
      for (int i = 0; i < rows; i++) {
        blob[i % blob.length] ^= 1;
        insert.setBytes(1, blob);
        insert.executeUpdate();
        if (i % 50 == 49) {
          c.commit();
        }
      }
    }
    c.commit();
    c.setAutoCommit(true);
  }

  @Test
  void passiveCheckpoints_fillTheDatabaseFileWhileTheWriterGoesOn() throws Exception {
    Path file = dir.resolve("db.sqlite");
    SQLiteConfig config = new SQLiteConfig();
    config.setJournalMode(SQLiteConfig.JournalMode.WAL);
    config.setSynchronous(SQLiteConfig.SynchronousMode.NORMAL);
    config.setPragma(SQLiteConfig.Pragma.WAL_AUTOCHECKPOINT, "10000");
    SQLiteDataSource ds = new SQLiteDataSource(config);
    ds.setUrl("jdbc:sqlite:" + file);
    try (Connection writer = ds.getConnection()) {
      try (Statement s = writer.createStatement()) {
        s.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, b BLOB NOT NULL)");
      }
      long before = Files.size(file);
      SqliteCheckpointer checkpointer = new SqliteCheckpointer(ds, Duration.ofMillis(10));
      try {
        write(writer, 500); // 2 MiB, 500 WAL pages: far below the writer's own checkpoint
        Awaitility.await()
            .atMost(Duration.ofSeconds(30))
            .until(() -> Files.size(file) >= before + 500L * 4096);
      } finally {
        checkpointer.close();
      }
    }
  }

  @Test
  void close_neverWaitsForAnotherConnectionsWriter() throws Exception {
    Path file = dir.resolve("shared.sqlite");
    SQLiteConfig config = new SQLiteConfig();
    config.setJournalMode(SQLiteConfig.JournalMode.WAL);
    config.setBusyTimeout(10_000);
    SQLiteDataSource ds = new SQLiteDataSource(config);
    ds.setUrl("jdbc:sqlite:" + file);
    try (Connection service = ds.getConnection()) {
      try (Statement s = service.createStatement()) {
        s.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, b BLOB NOT NULL)");
      }
      write(service, 100);
      // another process's store (a CLI command) opens and closes while the service is mid-write
      service.setAutoCommit(false);
      try (Statement s = service.createStatement()) {
        s.execute("INSERT INTO t (b) VALUES (x'00')");
      }
      SqliteCheckpointer other = new SqliteCheckpointer(ds, Duration.ofMillis(10));
      long start = System.nanoTime();
      other.close();
      Duration took = Duration.ofNanos(System.nanoTime() - start);
      service.commit();

      assertThat(took)
          .as("a blocking checkpoint would wait out the 10 s busy timeout")
          .isLessThan(Duration.ofSeconds(5));
    }
  }

  @Test
  void database_onAFile_runsACheckpointer() throws Exception {
    Path file = dir.resolve("store.db");
    try (Database db = Database.open(StoreSettings.of("jdbc:sqlite:" + file))) {
      long before = Files.size(file);
      try (Connection c = db.connection();
          Statement s = c.createStatement()) {
        s.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, b BLOB NOT NULL)");
        write(c, 500);
      }
      Awaitility.await()
          .atMost(Duration.ofSeconds(30))
          .until(() -> Files.size(file) >= before + 500L * 4096);
    }
  }
}
