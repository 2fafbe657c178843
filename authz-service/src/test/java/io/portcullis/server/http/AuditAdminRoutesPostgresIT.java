package io.portcullis.server.http;

import io.portcullis.testing.FreshPostgresDatabase;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;

/** The audit admin routes over a fresh database on the PostgreSQL test server. */
class AuditAdminRoutesPostgresIT extends AuditAdminRoutesContract {
  static FreshPostgresDatabase pg;

  @BeforeAll
  static void create() {
    pg = FreshPostgresDatabase.create();
  }

  @AfterAll
  static void drop() throws Exception {
    if (pg != null) {
      pg.close();
    }
  }

  @Override
  String url() {
    return pg.url();
  }
}
