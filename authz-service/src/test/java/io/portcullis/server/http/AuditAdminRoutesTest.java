package io.portcullis.server.http;

import java.nio.file.Path;
import org.junit.jupiter.api.io.TempDir;

/** The audit admin routes over SQLite in a temporary file. */
class AuditAdminRoutesTest extends AuditAdminRoutesContract {
  @TempDir Path dir;

  @Override
  String url() {
    return "jdbc:sqlite:" + dir.resolve("portcullis.db");
  }
}
