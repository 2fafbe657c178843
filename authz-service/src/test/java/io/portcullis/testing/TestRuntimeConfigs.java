package io.portcullis.testing;

import io.portcullis.config.RuntimeConfig;
import io.portcullis.identity.Secret;
import java.net.InetSocketAddress;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import org.jspecify.annotations.Nullable;

/**
 * Runtime configurations for starting the whole service in a test: every listener on a free
 * loopback port, forward-auth trusting only 127.0.0.1, state (SQLite, generated admin token) under
 * the test's directory, no {@code server.shutdown_delay} (closing stops at once), everything else
 * the embedded defaults.
 */
public final class TestRuntimeConfigs {
  private TestRuntimeConfigs() {}

  /**
   * @param dir a per-test directory for the SQLite file and the data directory
   * @param policy the policy file
   */
  public static RuntimeConfig loopback(Path dir, Path policy) {
    return loopback(dir, policy, null);
  }

  /** As {@link #loopback(Path, Path)}, with this admin token. */
  public static RuntimeConfig loopback(Path dir, Path policy, @Nullable Secret adminToken) {
    RuntimeConfig d = RuntimeConfig.defaults(policy);
    return new RuntimeConfig(
        "it-1",
        new RuntimeConfig.Grpc(new InetSocketAddress("127.0.0.1", 0), null, Duration.ofSeconds(2)),
        new RuntimeConfig.Http(new InetSocketAddress("127.0.0.1", 0), List.of("127.0.0.1/32")),
        new RuntimeConfig.Admin(new InetSocketAddress("127.0.0.1", 0), adminToken),
        d.policy(),
        "jdbc:sqlite:" + dir.resolve("portcullis.db"),
        d.ratelimit(),
        new RuntimeConfig.Rls(dir.resolve("ratelimit"), false),
        d.audit(),
        d.geoip(),
        d.requestLimits(),
        dir.resolve("data"),
        Duration.ZERO); // no load balancer to drain away: close() stops at once
  }

  /**
   * {@code config} as instance {@code instance} of a store shared with other instances (a
   * PostgreSQL URL), its audit journal under its own data directory.
   */
  public static RuntimeConfig sharedStore(RuntimeConfig config, String instance, String storeUrl) {
    return new RuntimeConfig(
        instance,
        config.grpc(),
        config.http(),
        config.admin(),
        config.policy(),
        storeUrl,
        config.ratelimit(),
        config.rls(),
        config.audit().toBuilder()
            .journalDirectory(config.dataDir().resolve("audit-journal"))
            .build(),
        config.geoip(),
        config.requestLimits(),
        config.dataDir(),
        config.shutdownDelay());
  }

  /** {@code config} with these country sources. */
  public static RuntimeConfig withGeoIp(RuntimeConfig config, RuntimeConfig.GeoIp geoip) {
    return new RuntimeConfig(
        config.instance(),
        config.grpc(),
        config.http(),
        config.admin(),
        config.policy(),
        config.storeUrl(),
        config.ratelimit(),
        config.rls(),
        config.audit(),
        geoip,
        config.requestLimits(),
        config.dataDir(),
        config.shutdownDelay());
  }
}
