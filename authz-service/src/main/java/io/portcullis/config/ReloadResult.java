package io.portcullis.config;

import java.util.Objects;

/**
 * How re-reading one set of files the service serves from went, besides the policy: the rate limit
 * service's directory, the GeoIP database, the gRPC listener's TLS files. SIGHUP and the admin
 * reload ({@code POST /admin/policy/reload}, gRPC {@code ReloadPolicy}) re-read each of them; the
 * admin reload reports these in its answer.
 *
 * @param name what was re-read, a constant of its owner: {@code ratelimit_service}, {@code
 *     geoip_database} or {@code grpc_tls}
 * @param ok whether the new files are in use; if not, the running ones stay
 * @param detail what is in use now, or why the new files were refused: file names and problems,
 *     never a file's contents
 */
public record ReloadResult(String name, boolean ok, String detail) {
  public ReloadResult {
    Objects.requireNonNull(name, "name");
    Objects.requireNonNull(detail, "detail");
  }

  /** The new files of {@code name} are in use. */
  public static ReloadResult ok(String name, String detail) {
    return new ReloadResult(name, true, detail);
  }

  /** The new files of {@code name} were refused and the running ones stay. */
  public static ReloadResult failed(String name, String detail) {
    return new ReloadResult(name, false, detail);
  }
}
