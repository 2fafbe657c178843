package io.portcullis.testing;

import java.security.SecureRandom;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.HexFormat;

/**
 * A PostgreSQL database of its own for one test class on the shared test server (CONVENTIONS.md):
 * {@code CREATE DATABASE pc_<random>} on creation, {@code DROP DATABASE ... WITH (FORCE)} on close.
 * The server is {@code PORTCULLIS_TEST_PG_URL} or {@code
 * jdbc:postgresql://127.0.0.1:5432/test?user=postgres}; if it is unreachable, creation fails with a
 * message saying so (tests never skip silently).
 */
public final class FreshPostgresDatabase implements AutoCloseable {
  private static final String DEFAULT_URL = "jdbc:postgresql://127.0.0.1:5432/test?user=postgres";
  private static final String PREFIX = "jdbc:postgresql://";

  private final String adminUrl;
  private final String name;
  private final String hostPort;
  private final String query;

  private FreshPostgresDatabase(String adminUrl, String name) {
    this.adminUrl = adminUrl;
    this.name = name;
    String rest = adminUrl.substring(PREFIX.length());
    int slash = rest.indexOf('/');
    this.hostPort = slash < 0 ? rest : rest.substring(0, slash);
    int q = rest.indexOf('?');
    this.query = q < 0 ? "" : rest.substring(q);
  }

  /** Creates a fresh, empty database. */
  public static FreshPostgresDatabase create() {
    String env = System.getenv("PORTCULLIS_TEST_PG_URL");
    String adminUrl = env == null || env.isBlank() ? DEFAULT_URL : env;
    byte[] random = new byte[6];
    new SecureRandom().nextBytes(random);
    String name = "pc_" + HexFormat.of().formatHex(random);
    try (Connection c = DriverManager.getConnection(adminUrl);
        Statement s = c.createStatement()) {
      s.execute("CREATE DATABASE " + name);
    } catch (SQLException e) {
      throw new IllegalStateException(
          "PostgreSQL is not reachable at "
              + adminUrl
              + " (start it, or set PORTCULLIS_TEST_PG_URL): "
              + e.getMessage(),
          e);
    }
    return new FreshPostgresDatabase(adminUrl, name);
  }

  /** The JDBC URL of the fresh database. */
  public String url() {
    return PREFIX + hostPort + "/" + name + query;
  }

  /** The JDBC URL of the fresh database reached through {@code host:port} (e.g. a proxy). */
  public String urlVia(String host, int port) {
    return PREFIX + host + ":" + port + "/" + name + query;
  }

  /** The server's host and port, e.g. {@code 127.0.0.1:5432}. */
  public String hostPort() {
    return hostPort.contains(":") ? hostPort : hostPort + ":5432";
  }

  public String name() {
    return name;
  }

  /** A direct connection to the fresh database (for tampering with rows in tests). */
  public Connection connect() throws SQLException {
    return DriverManager.getConnection(url());
  }

  @Override
  public void close() throws SQLException {
    try (Connection c = DriverManager.getConnection(adminUrl);
        Statement s = c.createStatement()) {
      s.execute("DROP DATABASE IF EXISTS " + name + " WITH (FORCE)");
    }
  }
}
