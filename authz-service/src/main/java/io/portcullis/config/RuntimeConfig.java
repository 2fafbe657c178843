package io.portcullis.config;

import io.portcullis.audit.AuditSettings;
import io.portcullis.identity.Secret;
import io.portcullis.limit.RateLimitSettings;
import io.portcullis.request.HeaderLimits;
import io.portcullis.server.grpc.GrpcServer;
import java.net.InetSocketAddress;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Objects;
import org.jspecify.annotations.Nullable;

/**
 * The runtime configuration ({@code portcullis.yaml}, interfaces.md "Runtime configuration"):
 * settings that need a restart. {@link #defaults(Path)} is what {@code portcullis serve --policy P}
 * runs with when there is no configuration file: in-memory limits, SQLite under {@code ./data},
 * admin on loopback.
 *
 * @param instance this instance's id in audit records (default: the host name)
 * @param grpc the gRPC listener (ext_authz, RLS, health, reflection)
 * @param http the forward-auth listener
 * @param admin the admin listener
 * @param policy the policy file and whether to watch it
 * @param storeUrl JDBC URL of the key and audit store
 * @param ratelimit the limit backend ({@code ratelimit:})
 * @param rls where the RLS API's envoyproxy/ratelimit-format YAML files are
 * @param audit audit log settings
 * @param geoip country sources
 * @param requestLimits header size limits
 * @param dataDir where local state lives (SQLite, audit journal, generated admin token)
 * @param shutdownDelay {@code server.shutdown_delay}: how long, after SIGTERM, health and {@code
 *     /readyz} report draining while every listener keeps serving, before they stop accepting and
 *     in-flight calls are drained (zero: drain at once)
 */
public record RuntimeConfig(
    String instance,
    Grpc grpc,
    Http http,
    Admin admin,
    PolicySettings policy,
    String storeUrl,
    RateLimitSettings ratelimit,
    Rls rls,
    AuditSettings audit,
    GeoIp geoip,
    HeaderLimits requestLimits,
    Path dataDir,
    Duration shutdownDelay) {

  public RuntimeConfig {
    Objects.requireNonNull(instance, "instance");
    Objects.requireNonNull(grpc, "grpc");
    Objects.requireNonNull(http, "http");
    Objects.requireNonNull(admin, "admin");
    Objects.requireNonNull(policy, "policy");
    Objects.requireNonNull(storeUrl, "storeUrl");
    Objects.requireNonNull(ratelimit, "ratelimit");
    Objects.requireNonNull(rls, "rls");
    Objects.requireNonNull(audit, "audit");
    Objects.requireNonNull(geoip, "geoip");
    Objects.requireNonNull(requestLimits, "requestLimits");
    Objects.requireNonNull(dataDir, "dataDir");
    Objects.requireNonNull(shutdownDelay, "shutdownDelay");
    if (shutdownDelay.isNegative()) {
      throw new IllegalArgumentException("shutdownDelay must not be negative");
    }
  }

  /**
   * The default {@code server.shutdown_delay}: longer than Envoy takes to mark this host unhealthy
   * with the health checks of envoy/envoy.yaml (every 5 s, unhealthy after 2 failures: at most 10 s
   * after NOT_SERVING), with room to spare, so it sends no new calls here once the listeners close.
   */
  public static final Duration DEFAULT_SHUTDOWN_DELAY = Duration.ofSeconds(15);

  /**
   * TLS for the gRPC listener.
   *
   * @param cert PEM certificate chain
   * @param key PEM private key (unencrypted PKCS#8, PKCS#1 or SEC1; see {@code TlsMaterial})
   * @param clientCa PEM CA for client certificates (mTLS), or {@code null}
   * @param allowedClientIds URI/DNS SANs a client certificate must carry one of ({@code
   *     allowed_client_ids}); empty for any certificate {@code clientCa} signed
   */
  public record Tls(Path cert, Path key, @Nullable Path clientCa, List<String> allowedClientIds) {
    public Tls {
      allowedClientIds = List.copyOf(allowedClientIds);
    }

    public Tls(Path cert, Path key, @Nullable Path clientCa) {
      this(cert, key, clientCa, List.of());
    }
  }

  /**
   * {@code server.grpc}.
   *
   * @param maxInFlight the most calls running at once; more are refused
   * @param maxQueueTime the longest a call may wait for a thread; older calls are refused (zero:
   *     never)
   */
  public record Grpc(
      InetSocketAddress address,
      @Nullable Tls tls,
      Duration drainGrace,
      int maxInFlight,
      Duration maxQueueTime) {
    public Grpc(InetSocketAddress address, @Nullable Tls tls, Duration drainGrace) {
      this(
          address,
          tls,
          drainGrace,
          GrpcServer.DEFAULT_MAX_IN_FLIGHT,
          GrpcServer.DEFAULT_MAX_QUEUE_TIME);
    }
  }

  /** {@code server.http}: forward-auth; forwarded headers are believed only from these proxies. */
  public record Http(InetSocketAddress address, List<String> trustedProxies) {
    public Http {
      trustedProxies = List.copyOf(trustedProxies);
    }
  }

  /** {@code server.admin}; a {@code null} token on loopback means one is generated at start. */
  public record Admin(InetSocketAddress address, @Nullable Secret token) {}

  /** {@code policy}. */
  public record PolicySettings(Path file, boolean watch) {}

  /**
   * {@code rls}: the directory of the rate limit service's configuration files. The RLS API is
   * always served; a directory that is not there is an error only when it was configured ({@code
   * required}): the default {@code ratelimit/} may be absent, and then every descriptor is answered
   * {@code OK}, as envoyproxy/ratelimit answers for a domain it has no configuration for.
   */
  public record Rls(Path configDir, boolean required) {
    public Rls {
      Objects.requireNonNull(configDir, "configDir");
    }
  }

  /** {@code geoip}: a trusted header and/or a MaxMind database. */
  public record GeoIp(@Nullable String header, @Nullable Path database) {}

  /** The embedded defaults of interfaces.md, for {@code serve --policy} without a config file. */
  public static RuntimeConfig defaults(Path policyFile) {
    Path data = Path.of("data");
    return new RuntimeConfig(
        hostName(),
        new Grpc(new InetSocketAddress("0.0.0.0", 9191), null, Duration.ofSeconds(10)),
        new Http(new InetSocketAddress("0.0.0.0", 9192), List.of("127.0.0.1/32", "::1/128")),
        new Admin(new InetSocketAddress("127.0.0.1", 9193), null),
        new PolicySettings(policyFile, true),
        "jdbc:sqlite:" + data.resolve("portcullis.db"),
        RateLimitSettings.defaults(),
        new Rls(Path.of("ratelimit"), false),
        AuditSettings.builder().journalDirectory(data.resolve("audit-journal")).build(),
        new GeoIp("x-geo-country", null),
        HeaderLimits.DEFAULT,
        data,
        DEFAULT_SHUTDOWN_DELAY);
  }

  static String hostName() {
    String h = System.getenv("HOSTNAME");
    if (h != null && !h.isBlank()) {
      return h;
    }
    try {
      return java.net.InetAddress.getLocalHost().getHostName();
    } catch (java.net.UnknownHostException e) {
      return "portcullis";
    }
  }
}
