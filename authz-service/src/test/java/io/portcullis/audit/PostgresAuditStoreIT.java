package io.portcullis.audit;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.portcullis.proto.v1.DecisionRecord;
import io.portcullis.store.Database;
import io.portcullis.store.StoreException;
import io.portcullis.store.StoreSettings;
import io.portcullis.testing.FreshPostgresDatabase;
import io.portcullis.testing.TcpProxy;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

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

  /**
   * A session of its own holding {@code audit_record} locked ({@code LOCK TABLE ... ACCESS
   * EXCLUSIVE}, as a migration or an operator's {@code ALTER TABLE} does) until {@link #release}:
   * every append then waits for it.
   */
  static Connection lockAuditTable(String url) throws SQLException {
    Connection c = DriverManager.getConnection(url);
    c.setAutoCommit(false);
    try (Statement s = c.createStatement()) {
      s.execute("LOCK TABLE audit_record IN ACCESS EXCLUSIVE MODE");
    }
    return c;
  }

  /**
   * Releases {@code lock} once {@code done} completes or after {@code atMost}, whichever is first:
   * the bound on how long a test of code that waits for the lock (without a timeout) is held up.
   */
  static CompletableFuture<Void> releaseWhen(
      CompletableFuture<Void> done, Connection lock, Duration atMost) {
    return done.completeOnTimeout(null, atMost.toMillis(), TimeUnit.MILLISECONDS)
        .thenRunAsync(
            () -> {
              try {
                lock.commit();
                lock.close();
              } catch (SQLException e) {
                throw new IllegalStateException(e);
              }
            });
  }

  @Test
  void append_whileAnotherSessionLocksTheTable_failsAfterTheAppendTimeout() throws Exception {
    AuditStore bounded = AuditStore.of(db, Duration.ofMillis(500));
    CompletableFuture<Void> done = new CompletableFuture<>();
    CompletableFuture<Void> released =
        releaseWhen(done, lockAuditTable(pg.url()), Duration.ofSeconds(10));
    long began = System.nanoTime();
    try {
      // Before, the append waited for as long as the lock was held (up to the driver's 120 s
      // socket timeout); the writer's own bound then left a call and a connection hanging.
      assertThatThrownBy(() -> bounded.append(linked("pc-lock", 1, ChainHead.GENESIS)))
          .isInstanceOf(StoreException.class)
          .hasMessageContaining("statement timeout");
    } finally {
      done.complete(null);
    }
    assertThat(Duration.ofNanos(System.nanoTime() - began)).isLessThan(Duration.ofSeconds(3));
    released.get(30, TimeUnit.SECONDS);
    assertThat(bounded.append(linked("pc-lock", 1, ChainHead.GENESIS)))
        .isInstanceOf(AppendResult.Appended.class);
  }

  @Test
  void append_toAServerThatStoppedAnswering_failsAfterTwiceTheAppendTimeout() throws Exception {
    try (TcpProxy proxy = TcpProxy.to(pg.hostPort());
        Database viaProxy = Database.open(StoreSettings.of(pg.urlVia("127.0.0.1", proxy.port())))) {
      AuditStore bounded = AuditStore.of(viaProxy, Duration.ofMillis(500));
      List<DecisionRecord> two = linked("pc-net", 2, ChainHead.GENESIS);
      bounded.append(two.subList(0, 1));

      // At once, so the pool hands out the connection just used without checking it first.
      proxy.stall();
      CompletableFuture<AppendResult> append =
          CompletableFuture.supplyAsync(() -> bounded.append(two.subList(1, 2)));
      // Before, it waited for the driver's 120 s socket timeout.
      assertThat(append)
          .failsWithin(Duration.ofSeconds(4))
          .withThrowableOfType(java.util.concurrent.ExecutionException.class)
          .withCauseInstanceOf(StoreException.class);
      proxy.restore();
    }
  }
}
