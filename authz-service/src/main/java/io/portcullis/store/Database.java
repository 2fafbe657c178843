package io.portcullis.store;

import com.zaxxer.hikari.HikariConfig;
import com.zaxxer.hikari.HikariDataSource;
import java.io.IOException;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.attribute.BasicFileAttributes;
import java.sql.Connection;
import java.sql.SQLException;
import java.util.Optional;
import java.util.function.Predicate;
import javax.sql.DataSource;
import org.flywaydb.core.Flyway;
import org.flywaydb.core.api.FlywayException;
import org.flywaydb.core.api.MigrationInfo;
import org.flywaydb.core.api.MigrationInfoService;
import org.flywaydb.core.api.output.MigrateResult;
import org.jspecify.annotations.Nullable;
import org.sqlite.SQLiteConfig;
import org.sqlite.SQLiteDataSource;
import org.sqlite.SQLiteOpenMode;

/**
 * An open, migrated database: a HikariCP pool over SQLite or PostgreSQL whose schema is at the
 * latest version. Shared by the audit store and the key store; whoever opened it closes it.
 *
 * <p>SQLite connections run in WAL journal mode (readers never block the writer), {@code
 * synchronous=NORMAL} (a commit is durable against a process crash; the last commits may be lost on
 * power failure), a busy timeout (a writer waits for another writer's lock instead of failing),
 * foreign keys on, a 64 MiB page cache per connection, WAL checkpoints on a thread of their own
 * ({@link SqliteCheckpointer}) with the writers' own every 40,000 pages as the backstop,
 * memory-mapped reads (256 MiB), and {@code BEGIN IMMEDIATE} transactions (a read-then-write
 * transaction takes the write lock up front, so two writers never deadlock upgrading their locks).
 * {@link #open} creates a missing database file owner-only, in an owner-only directory if that is
 * missing too ({@link #createdFile()} says so); {@link #openExisting} creates nothing.
 *
 * <p>A SQLite file deleted or replaced while the pool has it open goes unnoticed by SQLite: its
 * connections keep reading and writing the unlinked file, which is gone for good once they close.
 * {@link #fileProblem()} compares the file at the path with the one opened (device and inode), for
 * the audit writer to check now and then.
 *
 * <p>Migrations are Flyway versioned scripts, one folder per database kind ({@link
 * DatabaseKind#migrationLocation()}), sharing one version sequence: {@code V1__audit.sql}, then the
 * key store's, and so on. Both folders must carry the same versions. Only {@link #open} (the
 * service) migrates; {@link #openExisting} (the command line) refuses a schema older than its own
 * rather than changing a store that a running service of the older version may be using.
 *
 * <p>Thread-safe.
 */
public final class Database implements AutoCloseable {
  /** SQLite page cache per connection, KiB (the pool's connections each have one). */
  private static final int SQLITE_CACHE_KIB = 64 * 1024;

  /** The writers' own checkpoint, a backstop behind {@link SqliteCheckpointer}: every 160 MiB. */
  static final long WAL_RESTART_BYTES = 160L << 20;

  /** The page size of a new SQLite file. */
  static final int SQLITE_PAGE_SIZE = 16_384;

  private final DatabaseKind kind;
  private final HikariDataSource pool;
  private final String redactedUrl;
  private final int appliedMigrations;
  private final @Nullable SqliteCheckpointer checkpointer;

  /** The SQLite file, absolute; {@code null} for PostgreSQL and in-memory SQLite. */
  private final @Nullable Path file;

  /** The file key (device and inode) of {@link #file} when it was opened, if the file has one. */
  private final @Nullable Object fileKey;

  private final boolean createdFile;

  private Database(
      DatabaseKind kind,
      HikariDataSource pool,
      String redactedUrl,
      int appliedMigrations,
      @Nullable SqliteCheckpointer checkpointer,
      @Nullable Path file,
      boolean createdFile) {
    this.kind = kind;
    this.pool = pool;
    this.redactedUrl = redactedUrl;
    this.appliedMigrations = appliedMigrations;
    this.checkpointer = checkpointer;
    this.file = file;
    this.fileKey = file == null ? null : fileKeyOf(file);
    this.createdFile = createdFile;
  }

  /** What opening may do to the store. */
  private enum Access {
    /** Create a missing SQLite file (and its directory) and migrate the schema: the service. */
    CREATE_AND_MIGRATE,
    /** Use the store as it is, whose schema must be current: the command line. */
    EXISTING
  }

  /**
   * Opens the pool and migrates the schema to the latest version; a SQLite file that does not exist
   * is created, with its parent directory.
   *
   * @throws StoreException if the database cannot be reached or a migration fails; the message
   *     names the (password-redacted) URL
   */
  public static Database open(StoreSettings settings) {
    return open(settings, Access.CREATE_AND_MIGRATE);
  }

  /**
   * Opens a store that already exists, for the command line: nothing is created (no SQLite file, no
   * directory, no table) and the schema is not migrated. A mistyped {@code --store} or a command
   * run from the wrong directory so fails instead of reporting on a new, empty store; and a newer
   * CLI does not change the schema under a running service of an older version, whose statements
   * may then fail.
   *
   * @throws StoreException if the SQLite file does not exist ({@code no store at <path>}), the
   *     database cannot be reached, holds no Portcullis schema, or its schema is older than this
   *     build's (the message says which and names the password-redacted URL)
   */
  public static Database openExisting(StoreSettings settings) {
    return open(settings, Access.EXISTING);
  }

  private static Database open(StoreSettings settings, Access access) {
    DatabaseKind kind = settings.kind();
    HikariConfig config = new HikariConfig();
    config.setPoolName("portcullis-store");
    config.setMaximumPoolSize(settings.maxPoolSize());
    config.setMinimumIdle(1);
    config.setConnectionTimeout(Math.max(250, settings.connectTimeout().toMillis()));
    config.setValidationTimeout(
        Math.max(250, Math.min(settings.connectTimeout().toMillis(), 5000)));
    SQLiteDataSource sqliteSource = null;
    Path openedFile = null;
    boolean created = false;
    switch (kind) {
      case SQLITE -> {
        Optional<Path> file = sqliteFile(settings.url());
        openedFile = file.map(Path::toAbsolutePath).orElse(null);
        switch (access) {
          case CREATE_AND_MIGRATE -> created = file.isPresent() && createStoreFile(file.get());
          case EXISTING -> file.ifPresent(Database::requireExisting);
        }
        int pageSize = file.isPresent() ? pageSize(settings, access) : 4096;
        sqliteSource = sqliteDataSource(settings, pageSize, access);
        config.setDataSource(sqliteSource);
        if (isInMemory(settings.url())) {
          // Every connection to :memory: is a separate database: keep exactly one.
          config.setMaximumPoolSize(1);
          config.setMaxLifetime(0);
          config.setIdleTimeout(0);
        }
      }
      case POSTGRESQL -> {
        config.setJdbcUrl(settings.url());
        // URL parameters win over these defaults.
        config.addDataSourceProperty("ApplicationName", "portcullis");
        config.addDataSourceProperty("tcpKeepAlive", "true");
        config.addDataSourceProperty(
            "connectTimeout", Long.toString(Math.max(1, settings.connectTimeout().toSeconds())));
        config.addDataSourceProperty("socketTimeout", "120");
        // Without this, a failed batch's message quotes the statement with its parameters (an
        // audit record's principal, path and bytes; an API key's hash) and the server's DETAIL
        // quotes the violating key: every such failure is logged.
        config.addDataSourceProperty("logServerErrorDetail", "false");
      }
    }
    HikariDataSource pool;
    try {
      pool = new HikariDataSource(config);
    } catch (RuntimeException e) {
      throw new StoreException("cannot open store " + settings.redactedUrl() + ": " + e, e);
    }
    try {
      int applied =
          switch (access) {
            case CREATE_AND_MIGRATE -> migrate(pool, kind);
            case EXISTING -> {
              requireCurrentSchema(pool, kind, settings.redactedUrl());
              yield 0;
            }
          };
      SqliteCheckpointer checkpointer =
          sqliteSource != null && !isInMemory(settings.url())
              ? new SqliteCheckpointer(sqliteSource, SqliteCheckpointer.INTERVAL)
              : null;
      return new Database(
          kind, pool, settings.redactedUrl(), applied, checkpointer, openedFile, created);
    } catch (FlywayException e) {
      pool.close();
      String what = access == Access.EXISTING ? "reading the schema of " : "schema migration of ";
      throw new StoreException(what + settings.redactedUrl() + " failed: " + e.getMessage(), e);
    } catch (RuntimeException e) {
      pool.close();
      throw e;
    }
  }

  private static Flyway flyway(DataSource dataSource, DatabaseKind kind) {
    return Flyway.configure(Database.class.getClassLoader())
        .dataSource(dataSource)
        .locations(kind.migrationLocation())
        .failOnMissingLocations(true)
        .load();
  }

  private static int migrate(DataSource dataSource, DatabaseKind kind) {
    MigrateResult result = flyway(dataSource, kind).migrate();
    return result.migrationsExecuted;
  }

  /**
   * Checks, without changing anything, that the store holds the schema this build expects: a schema
   * newer than this build's is accepted (as the service accepts it: Flyway ignores future
   * migrations), an older one or none is refused.
   */
  private static void requireCurrentSchema(
      DataSource dataSource, DatabaseKind kind, String redactedUrl) {
    MigrationInfoService info = flyway(dataSource, kind).info();
    MigrationInfo current = info.current();
    if (current == null) {
      throw noSchema(redactedUrl);
    }
    MigrationInfo[] pending = info.pending();
    if (pending.length > 0) {
      throw new StoreException(
          "the schema of "
              + redactedUrl
              + " is at version "
              + current.getVersion()
              + ", older than this portcullis's "
              + pending[pending.length - 1].getVersion()
              + ": the command line does not migrate a store that a running service may be"
              + " using; start the service of this version once (it migrates the store), or use"
              + " the command line of the service's version");
    }
  }

  private static StoreException noSchema(String redactedUrl) {
    return new StoreException(
        redactedUrl
            + " holds no Portcullis store (no schema): the service creates it on its first start");
  }

  /** Refuses a SQLite file that does not exist, before anything could create it. */
  private static void requireExisting(Path file) {
    if (!Files.exists(file)) {
      throw new StoreException(
          "no store at "
              + file.toAbsolutePath()
              + " (the service creates it on its first start; check --store, --config or the"
              + " working directory)");
    }
  }

  /**
   * The page size of the SQLite file of {@code settings}. When creating, this first gives a new or
   * empty file {@link #SQLITE_PAGE_SIZE} and WAL mode (a WAL database keeps the page size it was
   * created with, and the driver applies its journal mode before its page size). An existing store
   * is only read: the driver may not create the file, and a file without Flyway's history table is
   * refused here, before the pool's first transaction (even an empty one) writes a header into an
   * empty file or the pool's WAL mode changes someone else's database.
   */
  private static int pageSize(StoreSettings settings, Access access) {
    SQLiteConfig config = new SQLiteConfig();
    config.setBusyTimeout((int) Math.min(Integer.MAX_VALUE, settings.busyTimeout().toMillis()));
    if (access == Access.EXISTING) {
      config.resetOpenMode(SQLiteOpenMode.CREATE);
    }
    try (Connection c =
            java.sql.DriverManager.getConnection(settings.url(), config.toProperties());
        java.sql.Statement s = c.createStatement()) {
      if (access == Access.EXISTING) {
        try (java.sql.ResultSet rs =
            s.executeQuery(
                "SELECT count(*) FROM sqlite_master WHERE name = 'flyway_schema_history'")) {
          if (!rs.next() || rs.getInt(1) == 0) {
            throw noSchema(settings.redactedUrl());
          }
        }
      }
      try (java.sql.ResultSet rs = s.executeQuery("PRAGMA page_count")) {
        if (access == Access.CREATE_AND_MIGRATE && rs.next() && rs.getLong(1) == 0) {
          s.execute("PRAGMA page_size = " + SQLITE_PAGE_SIZE);
          s.execute("PRAGMA journal_mode = WAL");
        }
      }
      try (java.sql.ResultSet rs = s.executeQuery("PRAGMA page_size")) {
        return rs.next() ? rs.getInt(1) : 4096;
      }
    } catch (java.sql.SQLException e) {
      throw new StoreException(
          "cannot open store " + settings.redactedUrl() + ": " + e.getMessage(), e);
    }
  }

  private static SQLiteDataSource sqliteDataSource(
      StoreSettings settings, int pageSize, Access access) {
    SQLiteConfig sqlite = new SQLiteConfig();
    switch (access) {
      case CREATE_AND_MIGRATE -> {
        if (!isInMemory(settings.url())) {
          sqlite.setJournalMode(SQLiteConfig.JournalMode.WAL);
        }
      }
      case EXISTING -> {
        // A store keeps the WAL mode it was created with; setting it would write to a file that
        // turns out to be no store, and the driver must not create a file deleted meanwhile.
        sqlite.resetOpenMode(SQLiteOpenMode.CREATE);
      }
    }
    sqlite.setSynchronous(SQLiteConfig.SynchronousMode.NORMAL);
    // A page cache that holds the audit indexes' hot pages. Checkpoints: SqliteCheckpointer's own
    // thread copies and syncs the WAL every 100 ms; the writers' automatic checkpoint, which makes
    // the committing connection wait for copying and fsync, only every 160 MiB (by when the thread
    // has done nearly all of it) to restart the WAL (loadtest/RESULTS.md, "Writer throughput into
    // SQLite"). Memory-mapped reads spare the readers a syscall per page. New files have 16 KiB
    // pages: a quarter of the WAL frames (each one write call) and of the b-tree page splits per
    // record, 18 % less writer CPU per audit record than with 4 KiB.
    sqlite.setCacheSize(-SQLITE_CACHE_KIB);
    sqlite.setPragma(
        SQLiteConfig.Pragma.WAL_AUTOCHECKPOINT,
        Long.toString(Math.max(1, WAL_RESTART_BYTES / pageSize)));
    sqlite.setPragma(SQLiteConfig.Pragma.JOURNAL_SIZE_LIMIT, Long.toString(64L << 20));
    sqlite.setPragma(SQLiteConfig.Pragma.MMAP_SIZE, Long.toString(256L << 20));
    sqlite.setBusyTimeout((int) Math.min(Integer.MAX_VALUE, settings.busyTimeout().toMillis()));
    sqlite.enforceForeignKeys(true);
    sqlite.setTransactionMode(SQLiteConfig.TransactionMode.IMMEDIATE);
    SQLiteDataSource ds = new SQLiteDataSource(sqlite);
    ds.setUrl(settings.url());
    return ds;
  }

  /** The database file a {@code jdbc:sqlite:} URL names, or empty for an in-memory database. */
  static Optional<Path> sqliteFile(String url) {
    String rest = url.substring(DatabaseKind.SQLITE.urlPrefix().length());
    if (rest.contains("mode=memory")) {
      return Optional.empty(); // file:name?mode=memory: a named in-memory database
    }
    int q = rest.indexOf('?');
    if (q >= 0) {
      rest = rest.substring(0, q);
    }
    if (rest.startsWith("file:")) {
      rest = rest.substring("file:".length());
      if (rest.startsWith("//")) {
        rest = rest.substring(2);
      }
    }
    if (rest.isEmpty() || rest.equals(":memory:")) {
      return Optional.empty();
    }
    return Optional.of(Path.of(rest));
  }

  private static boolean isInMemory(String url) {
    return DatabaseKind.of(url) == DatabaseKind.SQLITE && sqliteFile(url).isEmpty();
  }

  /**
   * Creates the directory of a new SQLite store owner-only ({@code rwx------}) and its database
   * file owner-only ({@code rw-------}) before SQLite opens it. SQLite gives the {@code -wal} and
   * {@code -shm} files the database file's permissions, so none of the three can be read by other
   * users: the audit log holds principals, client addresses and paths, the key table key ids, roles
   * and hashes (the admin token beside them is created {@code rw-------} too). A directory or file
   * that exists keeps its permissions: they are the operator's. On a file system without POSIX
   * permissions both are created with its defaults.
   *
   * @return whether the file was created (there was none at the path)
   */
  private static boolean createStoreFile(Path file) {
    Path absolute = file.toAbsolutePath();
    Path parent = absolute.getParent();
    if (parent != null) {
      try {
        OwnerOnly.createDirectories(parent);
      } catch (IOException e) {
        throw new StoreException("cannot create directory " + parent + " for the store: " + e, e);
      }
    }
    if (Files.exists(absolute)) {
      return false;
    }
    try {
      Files.createFile(absolute, OwnerOnly.fileAttributes(absolute));
      return true;
    } catch (FileAlreadyExistsException e) {
      // created meanwhile (another instance starting): its permissions are its creator's
      return false;
    } catch (IOException e) {
      throw new StoreException("cannot create the store " + absolute + ": " + e, e);
    }
  }

  public DatabaseKind kind() {
    return kind;
  }

  /**
   * Whether {@link #open} created the SQLite file: there was none at the path. False for an
   * existing file, PostgreSQL and in-memory SQLite.
   */
  public boolean createdFile() {
    return createdFile;
  }

  /** The SQLite file this database was opened on (absolute), if it is one. */
  public Optional<Path> file() {
    return Optional.ofNullable(file);
  }

  /**
   * Whether the SQLite file's path still names the file that was opened: empty if it does (or this
   * is no SQLite file, or the file system has no file keys to compare), else what happened to it
   * ({@code "was deleted"}, {@code "was replaced by another file"}). SQLite does not notice either:
   * its connections go on writing the file they opened, which no one can open again and which is
   * gone once they close. Reads the file's attributes, nothing else; a path that cannot be read for
   * another reason (permissions) is not reported.
   */
  public Optional<String> fileProblem() {
    if (file == null) {
      return Optional.empty();
    }
    try {
      Object now = Files.readAttributes(file, BasicFileAttributes.class).fileKey();
      if (fileKey == null || now == null || fileKey.equals(now)) {
        return Optional.empty();
      }
      return Optional.of("was replaced by another file");
    } catch (NoSuchFileException e) {
      return Optional.of("was deleted");
    } catch (IOException e) {
      return Optional.empty();
    }
  }

  private static @Nullable Object fileKeyOf(Path file) {
    try {
      return Files.readAttributes(file, BasicFileAttributes.class).fileKey();
    } catch (IOException e) {
      return null;
    }
  }

  /**
   * The pool. Connections are auto-commit by default; return them promptly (try-with-resources).
   */
  public DataSource dataSource() {
    return pool;
  }

  /**
   * A connection from the pool.
   *
   * @throws StoreException if none can be had within the connect timeout
   */
  public Connection connection() {
    try {
      return pool.getConnection();
    } catch (SQLException e) {
      throw new StoreException("store " + redactedUrl + " unavailable: " + e.getMessage(), e);
    }
  }

  /**
   * Closes {@code connection} and removes it from the pool instead of returning it: for a
   * connection whose state is unknown after a failure (e.g. a transaction that could not begin or
   * commit).
   */
  public void evict(Connection connection) {
    pool.evictConnection(connection);
  }

  /** Work done inside one transaction ({@link #transaction}). */
  @FunctionalInterface
  public interface Work<T> {
    T run(Connection c) throws SQLException;
  }

  /**
   * Runs {@code work} in one transaction on its own connection and commits if {@code commit}
   * accepts the result, else rolls back. After any failure the connection is evicted from the pool
   * rather than reused: its transaction state is unknown (a {@code BEGIN} that hit a lock, a {@code
   * COMMIT} cut off by the network).
   *
   * @param what what the work does, for the failure message ("revoking an API key")
   * @throws StoreException if the database fails; the transaction is rolled back
   */
  public <T> T transaction(String what, Work<T> work, Predicate<? super T> commit) {
    Connection c = connection();
    boolean reusable = false;
    try {
      c.setAutoCommit(false);
      T result = work.run(c);
      if (commit.test(result)) {
        c.commit();
      } else {
        c.rollback();
      }
      c.setAutoCommit(true);
      reusable = true;
      return result;
    } catch (SQLException e) {
      rollbackQuietly(c, e);
      throw failure(what, e);
    } catch (RuntimeException e) {
      rollbackQuietly(c, e);
      throw e;
    } finally {
      if (reusable) {
        try {
          c.close();
        } catch (SQLException e) {
          // returning a connection to the pool does not fail in practice
        }
      } else {
        evict(c);
      }
    }
  }

  /** A {@link StoreException} for a failed operation, naming the (redacted) URL. */
  public StoreException failure(String what, SQLException e) {
    return new StoreException(what + " in " + redactedUrl + " failed: " + e.getMessage(), e);
  }

  private static void rollbackQuietly(Connection c, Exception cause) {
    try {
      c.rollback();
    } catch (SQLException e) {
      cause.addSuppressed(e);
    }
  }

  /** The URL with any password masked. */
  public String url() {
    return redactedUrl;
  }

  /** How many migrations {@link #open} applied (0 when the schema was already current). */
  public int appliedMigrations() {
    return appliedMigrations;
  }

  @Override
  public void close() {
    pool.close();
    if (checkpointer != null) {
      checkpointer.close();
    }
  }

  @Override
  public String toString() {
    return "Database[" + kind + " " + redactedUrl + "]";
  }
}
