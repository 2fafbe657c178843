package io.portcullis.store;

import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import javax.sql.DataSource;
import org.jspecify.annotations.Nullable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Checkpoints a SQLite database's write-ahead log on a thread of its own, so that the writers
 * (above all the audit log's store thread) never wait for a checkpoint's copying and {@code fsync}.
 *
 * <h2>Design note</h2>
 *
 * <p>With SQLite's automatic checkpoints, the connection whose commit takes the WAL past the
 * threshold copies the WAL into the database file and syncs it before its commit returns. For the
 * audit writer at 50,000 records/s that was the difference between keeping up and not: with {@code
 * synchronous=OFF} (no syncs at all, an experiment only) it wrote every record, with the automatic
 * checkpoints it fell 6% behind (loadtest/RESULTS.md, "Writer throughput into SQLite"). So this
 * thread, on its own connection, runs a {@code PASSIVE} checkpoint every {@code interval}: it
 * copies what the WAL holds into the database file and syncs it while writers go on (it takes no
 * write lock). The writers' automatic checkpoint stays as the backstop that restarts the WAL from
 * its beginning (a passive checkpoint cannot while commits keep coming); when it triggers, the
 * passive runs have already copied and synced nearly everything, so it has little left to do.
 * Nothing here ever blocks a writer: no {@code RESTART} or {@code TRUNCATE}, which would hold off
 * the service's writers while another process (a CLI command on the same file) closes. The last
 * connection to close checkpoints and removes the WAL, as SQLite always does.
 *
 * <p>Durability is unchanged: in WAL mode with {@code synchronous=NORMAL} a commit is durable
 * against a process crash once written to the WAL; syncing happens at checkpoints, wherever they
 * run. A failed checkpoint is logged and tried again at the next interval.
 */
final class SqliteCheckpointer implements AutoCloseable {
  private static final Logger log = LoggerFactory.getLogger(SqliteCheckpointer.class);

  static final Duration INTERVAL = Duration.ofMillis(100);

  private final DataSource source;
  private final ScheduledExecutorService timer;
  private @Nullable Connection connection; // used on the timer thread only
  private long failures;

  /**
   * @param source connections to the database
   */
  SqliteCheckpointer(DataSource source, Duration interval) {
    this.source = source;
    this.timer =
        Executors.newSingleThreadScheduledExecutor(
            r -> {
              Thread t = new Thread(r, "portcullis-sqlite-checkpoint");
              t.setDaemon(true);
              return t;
            });
    long ms = Math.max(1, interval.toMillis());
    timer.scheduleWithFixedDelay(this::checkpoint, ms, ms, TimeUnit.MILLISECONDS);
  }

  private void checkpoint() {
    try {
      run("PASSIVE");
      failures = 0;
    } catch (SQLException | RuntimeException e) {
      closeConnection();
      if (failures++ % 100 == 0) { // at most one line per 10 s of a lasting failure
        log.warn("WAL checkpoint failed (retrying every {}): {}", INTERVAL, e.toString());
      }
    }
  }

  /** Runs {@code PRAGMA wal_checkpoint(mode)}. */
  private void run(String mode) throws SQLException {
    if (connection == null) {
      connection = source.getConnection();
    }
    try (Statement s = connection.createStatement();
        ResultSet rs = s.executeQuery("PRAGMA wal_checkpoint(" + mode + ")")) {
      rs.next();
    }
  }

  private void closeConnection() {
    Connection c = connection;
    connection = null;
    if (c != null) {
      try {
        c.close();
      } catch (SQLException e) {
        log.debug("closing the checkpoint connection failed", e);
      }
    }
  }

  /** Stops the timer, runs a last passive checkpoint and closes its connection. */
  @Override
  public void close() {
    timer.shutdown();
    try {
      if (!timer.awaitTermination(5, TimeUnit.SECONDS)) {
        // a checkpoint still runs (a slow fsync) on the connection: leave both to it; SQLite's
        // last close checkpoints anyway
        timer.shutdownNow();
        log.warn("a WAL checkpoint still runs after 5 s; not waiting for it");
        return;
      }
    } catch (InterruptedException e) {
      timer.shutdownNow();
      Thread.currentThread().interrupt();
      return;
    }
    try {
      run("PASSIVE");
    } catch (SQLException | RuntimeException e) {
      log.warn("final WAL checkpoint failed: {}", e.toString());
    } finally {
      closeConnection();
    }
  }
}
