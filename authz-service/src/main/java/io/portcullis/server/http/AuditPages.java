package io.portcullis.server.http;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * The audit web page on the admin port: {@code /audit/} (HTML), {@code /audit/audit.js} and {@code
 * /audit/audit.css}, static files from the classpath ({@code audit-page/} next to this class). The
 * page itself holds no data and is served without the admin token; it asks the operator for the
 * token, keeps it in the tab's {@code sessionStorage} and sends it as a bearer token to the {@code
 * /admin/audit*} routes ({@link AuditAdminRoutes}), which are what the token protects.
 *
 * <p>Every response carries a strict Content-Security-Policy: scripts, styles and requests only
 * from this origin ({@code script-src 'self'}, no inline script or style), no plugins, frames or
 * form posts, no referrer. Nothing is loaded from elsewhere: the page works offline. Thread-safe
 * (the files are read once, when constructed).
 */
public final class AuditPages implements AdminHttpServer.StaticPages {
  /** The page's address on the admin port. */
  public static final String PATH = "/audit/";

  static final String CONTENT_SECURITY_POLICY =
      "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self';"
          + " img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

  private record File(String contentType, byte[] body) {}

  private final Map<String, File> files = new LinkedHashMap<>();

  /**
   * @throws UncheckedIOException if a page file is missing from the classpath (a packaging bug)
   */
  public AuditPages() {
    File html = load("index.html", "text/html; charset=utf-8");
    files.put("/audit", html);
    files.put("/audit/", html);
    files.put("/audit/index.html", html);
    files.put("/audit/audit.js", load("audit.js", "text/javascript; charset=utf-8"));
    files.put("/audit/audit.css", load("audit.css", "text/css; charset=utf-8"));
  }

  @Override
  public boolean serves(String path) {
    return files.containsKey(path);
  }

  @Override
  public AdminResponse get(String path) {
    File f = files.get(path);
    if (f == null) {
      return AdminResponse.problem(404, "not_found", "Not found", "");
    }
    return new AdminResponse(200, f.contentType(), f.body(), Map.of())
        .withHeader("Content-Security-Policy", CONTENT_SECURITY_POLICY)
        .withHeader("X-Frame-Options", "DENY")
        .withHeader("Referrer-Policy", "no-referrer")
        .withHeader("Cross-Origin-Opener-Policy", "same-origin");
  }

  private static File load(String name, String contentType) {
    String resource = "audit-page/" + name;
    try (InputStream in = AuditPages.class.getResourceAsStream(resource)) {
      if (in == null) {
        throw new UncheckedIOException(
            new IOException("audit page file missing from the classpath: " + resource));
      }
      return new File(contentType, in.readAllBytes());
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }
}
