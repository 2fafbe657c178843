package io.portcullis.store;

import java.time.Duration;
import java.util.Objects;
import java.util.regex.Pattern;

/**
 * The {@code store:} section of {@code portcullis.yaml}: where keys and audit records live.
 *
 * @param url {@code jdbc:sqlite:<file>} (embedded; the default is {@code
 *     jdbc:sqlite:data/portcullis.db}) or {@code
 *     jdbc:postgresql://host[:port]/db[?user=&password=]}
 * @param maxPoolSize the most connections kept open (SQLite: readers besides the one writer)
 * @param connectTimeout how long to wait for a connection before an operation fails
 * @param busyTimeout SQLite only: how long a writer waits for another writer's lock
 */
public record StoreSettings(
    String url, int maxPoolSize, Duration connectTimeout, Duration busyTimeout) {

  /** The embedded default: a SQLite file under {@code ./data}. */
  public static final String DEFAULT_URL = "jdbc:sqlite:data/portcullis.db";

  private static final Pattern PASSWORD = Pattern.compile("(?i)(password=)[^&;]*");
  private static final Pattern USER_INFO = Pattern.compile("(//[^/@:]*):[^/@]*@");

  public StoreSettings {
    Objects.requireNonNull(url, "url");
    DatabaseKind.of(url); // validates the scheme
    if (maxPoolSize < 1) {
      throw new IllegalArgumentException("store.max_pool_size must be at least 1");
    }
    Objects.requireNonNull(connectTimeout, "connectTimeout");
    Objects.requireNonNull(busyTimeout, "busyTimeout");
  }

  /** The embedded defaults. */
  public static StoreSettings defaults() {
    return of(DEFAULT_URL);
  }

  /** Settings for {@code url} with default pool size and timeouts. */
  public static StoreSettings of(String url) {
    return new StoreSettings(url, 8, Duration.ofSeconds(5), Duration.ofSeconds(5));
  }

  public StoreSettings withMaxPoolSize(int maxPoolSize) {
    return new StoreSettings(url, maxPoolSize, connectTimeout, busyTimeout);
  }

  public StoreSettings withConnectTimeout(Duration connectTimeout) {
    return new StoreSettings(url, maxPoolSize, connectTimeout, busyTimeout);
  }

  public StoreSettings withBusyTimeout(Duration busyTimeout) {
    return new StoreSettings(url, maxPoolSize, connectTimeout, busyTimeout);
  }

  public DatabaseKind kind() {
    return DatabaseKind.of(url);
  }

  /** The URL with any password masked: safe for logs and error messages. */
  public String redactedUrl() {
    return redact(url);
  }

  static String redact(String url) {
    String masked = PASSWORD.matcher(url).replaceAll("$1***");
    return USER_INFO.matcher(masked).replaceAll("$1:***@");
  }

  @Override
  public String toString() {
    return "StoreSettings[url="
        + redactedUrl()
        + ", maxPoolSize="
        + maxPoolSize
        + ", connectTimeout="
        + connectTimeout
        + ", busyTimeout="
        + busyTimeout
        + "]";
  }
}
