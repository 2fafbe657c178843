package io.portcullis.store;

/** The relational databases Portcullis stores keys and audit records in. */
public enum DatabaseKind {
  /** Embedded, one file; the default. */
  SQLITE("jdbc:sqlite:", "sqlite"),
  /** Shared by several instances. */
  POSTGRESQL("jdbc:postgresql:", "postgresql");

  private final String urlPrefix;
  private final String migrationFolder;

  DatabaseKind(String urlPrefix, String migrationFolder) {
    this.urlPrefix = urlPrefix;
    this.migrationFolder = migrationFolder;
  }

  /**
   * The kind a JDBC URL names.
   *
   * @throws IllegalArgumentException if the URL is neither {@code jdbc:sqlite:} nor {@code
   *     jdbc:postgresql:}
   */
  public static DatabaseKind of(String url) {
    for (DatabaseKind k : values()) {
      if (url.startsWith(k.urlPrefix)) {
        return k;
      }
    }
    throw new IllegalArgumentException(
        "store.url must start with jdbc:sqlite: or jdbc:postgresql: (got '"
            + StoreSettings.redact(url)
            + "')");
  }

  /** The classpath folder holding this kind's Flyway migrations. */
  public String migrationLocation() {
    return "classpath:db/migration/" + migrationFolder;
  }

  String urlPrefix() {
    return urlPrefix;
  }
}
