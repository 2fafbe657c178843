package io.portcullis.store;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import org.flywaydb.core.Flyway;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class DatabaseTest {
  @TempDir Path dir;

  private static String pragma(Database db, String name) throws SQLException {
    try (Connection c = db.connection();
        Statement s = c.createStatement();
        ResultSet rs = s.executeQuery("PRAGMA " + name)) {
      rs.next();
      return rs.getString(1);
    }
  }

  @Test
  void open_sqlite_createsParentDirectoryAndConfiguresConnections() throws SQLException {
    Path file = dir.resolve("nested/data/portcullis.db");

    try (Database db = Database.open(StoreSettings.of("jdbc:sqlite:" + file))) {
      assertThat(Files.isRegularFile(file)).isTrue();
      assertThat(db.kind()).isEqualTo(DatabaseKind.SQLITE);
      assertThat(pragma(db, "journal_mode")).isEqualToIgnoringCase("wal");
      assertThat(pragma(db, "busy_timeout")).isEqualTo("5000");
      assertThat(pragma(db, "foreign_keys")).isEqualTo("1");
      assertThat(pragma(db, "cache_size")).isEqualTo("-65536");
      assertThat(pragma(db, "wal_autocheckpoint"))
          .isEqualTo(Long.toString(Database.WAL_RESTART_BYTES / Database.SQLITE_PAGE_SIZE));
      assertThat(pragma(db, "page_size")).isEqualTo(Integer.toString(Database.SQLITE_PAGE_SIZE));
      assertThat(pragma(db, "mmap_size")).isEqualTo(Long.toString(256L << 20));
    }
  }

  private static String permissions(Path path) throws IOException {
    return PosixFilePermissions.toString(Files.getPosixFilePermissions(path));
  }

  @Test
  void open_sqlite_newStore_isOwnerOnly_directoriesDatabaseWalAndShm() throws Exception {
    Path data = dir.resolve("data");
    Path file = data.resolve("nested/portcullis.db");

    try (Database db = Database.open(StoreSettings.of("jdbc:sqlite:" + file))) {
      assertThat(db.url()).endsWith("portcullis.db");
      assertThat(permissions(data)).isEqualTo("rwx------");
      assertThat(permissions(file.getParent())).isEqualTo("rwx------");
      assertThat(permissions(file)).isEqualTo("rw-------");
      // the pool keeps a connection open: the WAL and shared-memory files are there
      assertThat(permissions(dir.resolve("data/nested/portcullis.db-wal"))).isEqualTo("rw-------");
      assertThat(permissions(dir.resolve("data/nested/portcullis.db-shm"))).isEqualTo("rw-------");
    }
  }

  @Test
  void open_sqlite_existingDirectoryAndFile_keepTheirPermissions() throws Exception {
    Path shared = Files.createDirectory(dir.resolve("shared"));
    Files.setPosixFilePermissions(shared, PosixFilePermissions.fromString("rwxr-x---"));
    Path existing = Files.createFile(shared.resolve("existing.db"));
    Files.setPosixFilePermissions(existing, PosixFilePermissions.fromString("rw-r-----"));

    Database.open(StoreSettings.of("jdbc:sqlite:" + shared.resolve("new.db"))).close();
    Database.open(StoreSettings.of("jdbc:sqlite:" + existing)).close();

    assertThat(permissions(shared)).isEqualTo("rwxr-x---");
    assertThat(permissions(shared.resolve("new.db"))).isEqualTo("rw-------");
    assertThat(permissions(existing)).isEqualTo("rw-r-----");
  }

  @Test
  void open_sqlite_existingFile_keepsItsPageSize_andCheckpointsByTheSameBytes()
      throws SQLException {
    Path file = dir.resolve("old.db");
    try (Connection c = java.sql.DriverManager.getConnection("jdbc:sqlite:" + file);
        Statement s = c.createStatement()) {
      s.execute("PRAGMA page_size = 4096");
      s.execute("PRAGMA journal_mode = WAL"); // writes the file's first page: the size is fixed
    }

    try (Database db = Database.open(StoreSettings.of("jdbc:sqlite:" + file))) {
      assertThat(pragma(db, "page_size")).isEqualTo("4096");
      assertThat(pragma(db, "journal_mode")).isEqualToIgnoringCase("wal");
      assertThat(pragma(db, "wal_autocheckpoint"))
          .isEqualTo(Long.toString(Database.WAL_RESTART_BYTES / 4096));
    }
  }

  @Test
  void open_sqlite_appliesMigrationsOnce() throws SQLException {
    String url = "jdbc:sqlite:" + dir.resolve("p.db");
    try (Database first = Database.open(StoreSettings.of(url))) {
      assertThat(first.appliedMigrations()).isGreaterThanOrEqualTo(1);
      try (Connection c = first.connection();
          Statement s = c.createStatement();
          ResultSet rs =
              s.executeQuery(
                  "SELECT version, success FROM flyway_schema_history WHERE version = '1'")) {
        assertThat(rs.next()).isTrue();
        assertThat(rs.getBoolean(2)).isTrue();
      }
    }
    try (Database again = Database.open(StoreSettings.of(url))) {
      assertThat(again.appliedMigrations()).isZero();
    }
  }

  @Test
  void openExisting_missingSqliteFile_failsNamingIt_andCreatesNothing() throws Exception {
    Path file = dir.resolve("typo/portcullis.db");

    assertThatThrownBy(() -> Database.openExisting(StoreSettings.of("jdbc:sqlite:" + file)))
        .isInstanceOf(StoreException.class)
        .hasMessageStartingWith("no store at " + file.toAbsolutePath())
        .hasMessageContaining("the service creates it on its first start");
    assertThat(dir).isEmptyDirectory();
  }

  @Test
  void openExisting_currentStore_opensWithoutMigrating() throws SQLException {
    String url = "jdbc:sqlite:" + dir.resolve("p.db");
    Database.open(StoreSettings.of(url)).close();

    try (Database db = Database.openExisting(StoreSettings.of(url))) {
      assertThat(db.appliedMigrations()).isZero();
      assertThat(pragma(db, "journal_mode")).isEqualToIgnoringCase("wal");
      assertThat(pragma(db, "page_size")).isEqualTo(Integer.toString(Database.SQLITE_PAGE_SIZE));
    }
  }

  @Test
  void openExisting_olderSchema_isRefusedAndLeftAsItWas() throws SQLException {
    String url = "jdbc:sqlite:" + dir.resolve("old.db");
    Flyway.configure()
        .dataSource(url, null, null)
        .locations(DatabaseKind.SQLITE.migrationLocation())
        .target("2")
        .load()
        .migrate();

    assertThatThrownBy(() -> Database.openExisting(StoreSettings.of(url)))
        .isInstanceOf(StoreException.class)
        .hasMessageContaining("is at version 2, older than")
        .hasMessageContaining("does not migrate");
    try (Connection c = java.sql.DriverManager.getConnection(url);
        Statement s = c.createStatement();
        ResultSet rs = s.executeQuery("SELECT max(installed_rank) FROM flyway_schema_history")) {
      rs.next();
      assertThat(rs.getInt(1)).as("V1, V1_1, V2 only").isEqualTo(3);
    }
  }

  @Test
  void openExisting_sqliteFileWithoutSchema_isRefusedAndNotWritten() throws Exception {
    Path file = Files.createFile(dir.resolve("empty.db"));

    assertThatThrownBy(() -> Database.openExisting(StoreSettings.of("jdbc:sqlite:" + file)))
        .isInstanceOf(StoreException.class)
        .hasMessageContaining("holds no Portcullis store");
    assertThat(file).isEmptyFile();
    assertThat(dir.resolve("empty.db-wal")).doesNotExist();
  }

  @Test
  void open_sqliteInMemory_keepsOneDatabaseAcrossCalls() throws SQLException {
    try (Database db = Database.open(StoreSettings.of("jdbc:sqlite::memory:"))) {
      try (Connection c = db.connection();
          Statement s = c.createStatement()) {
        s.executeUpdate(
            "INSERT INTO audit_chain VALUES ('i', 1, 'h', 0, '')"); // migrated schema is there
      }
      try (Connection c = db.connection();
          Statement s = c.createStatement();
          ResultSet rs = s.executeQuery("SELECT count(*) FROM audit_chain")) {
        rs.next();
        assertThat(rs.getInt(1)).isEqualTo(1);
      }
    }
  }

  @Test
  void settings_unknownScheme_isRejectedNamingTheExpectedOnes() {
    assertThatThrownBy(() -> StoreSettings.of("jdbc:mysql://db/x?password=hunter2"))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("jdbc:sqlite: or jdbc:postgresql:")
        .hasMessageNotContaining("hunter2");
  }

  @Test
  void settings_redactPasswordsInUrlAndToString() {
    StoreSettings s =
        StoreSettings.of("jdbc:postgresql://db.internal/portcullis?user=pc&password=hunter2");
    assertThat(s.redactedUrl())
        .isEqualTo("jdbc:postgresql://db.internal/portcullis?user=pc&password=***");
    assertThat(s.toString()).doesNotContain("hunter2");
    assertThat(StoreSettings.of("jdbc:postgresql://pc:hunter2@db/x").redactedUrl())
        .isEqualTo("jdbc:postgresql://pc:***@db/x");
  }

  @Test
  void sqliteFile_understandsPlainAndFileUrls() {
    assertThat(Database.sqliteFile("jdbc:sqlite:data/portcullis.db"))
        .contains(Path.of("data/portcullis.db"));
    assertThat(Database.sqliteFile("jdbc:sqlite:file:/var/lib/p.db?cache=shared"))
        .contains(Path.of("/var/lib/p.db"));
    assertThat(Database.sqliteFile("jdbc:sqlite::memory:")).isEmpty();
    assertThat(Database.sqliteFile("jdbc:sqlite:file:mem1?mode=memory&cache=shared")).isEmpty();
  }
}
