package io.portcullis.config;

import io.portcullis.audit.AuditSettings;
import io.portcullis.identity.Secret;
import io.portcullis.limit.BackendFailurePolicy;
import io.portcullis.limit.RateLimitSettings;
import io.portcullis.limit.RedisSettings;
import io.portcullis.net.CidrSet;
import io.portcullis.policy.Diagnostics;
import io.portcullis.policy.PolicyError;
import io.portcullis.policy.YamlNode;
import io.portcullis.policy.YamlReader;
import io.portcullis.policy.YamlTree;
import io.portcullis.request.HeaderLimits;
import io.portcullis.server.grpc.GrpcServer;
import io.portcullis.server.grpc.TlsMaterial;
import java.net.InetSocketAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.InstantSource;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Set;
import java.util.function.Function;
import java.util.function.Predicate;
import org.jspecify.annotations.Nullable;

/**
 * Reads {@code portcullis.yaml} (interfaces.md "Runtime configuration") with the same positioned
 * YAML machinery as the policy: every problem is reported at once with file, line, column and
 * field; {@code ${NAME}} (and {@code ${NAME:-default}}) come from the environment, and a missing
 * variable is an error. Unset keys take the embedded defaults of {@link RuntimeConfig#defaults}.
 * Relative paths are resolved against the configuration file's directory.
 */
public final class RuntimeConfigLoader extends YamlReader {
  private static final List<String> ROOT =
      List.of(
          "instance",
          "server",
          "policy",
          "store",
          "ratelimit",
          "rls",
          "audit",
          "geoip",
          "request_limits",
          "data_dir");
  private static final List<String> SERVER = List.of("grpc", "http", "admin", "shutdown_delay");
  private static final List<String> GRPC =
      List.of("address", "tls", "drain_grace", "max_in_flight", "max_queue_time");
  private static final List<String> TLS = List.of("cert", "key", "client_ca", "allowed_client_ids");
  private static final List<String> HTTP = List.of("address", "trusted_proxies");
  private static final List<String> ADMIN = List.of("address", "token");
  private static final List<String> POLICY = List.of("file", "watch");
  private static final List<String> STORE = List.of("url");
  private static final List<String> RATELIMIT = List.of("backend", "redis", "on_backend_failure");
  private static final List<String> REDIS =
      List.of("address", "addresses", "mode", "master_name", "password", "timeout");
  private static final List<String> RLS = List.of("config_dir");
  private static final List<String> AUDIT =
      List.of("retention", "queue_capacity", "journal_max_bytes", "store_timeout");
  private static final List<String> GEOIP = List.of("header", "database");
  private static final List<String> REQUEST_LIMITS =
      List.of("max_header_bytes", "max_headers_bytes", "max_header_count");

  /** What loading produced. */
  public sealed interface Result {}

  /** A valid configuration. */
  public record Loaded(RuntimeConfig config) implements Result {}

  /** Every problem found. */
  public record Invalid(List<PolicyError> errors) implements Result {}

  private final Path base;
  private final @Nullable InstantSource clock;

  /** Whether the files the service reads are opened and checked (serving), or not (commands). */
  private final boolean readFiles;

  private RuntimeConfigLoader(
      Diagnostics d, Path base, @Nullable InstantSource clock, boolean readFiles) {
    super(d);
    this.base = base;
    this.clock = clock;
    this.readFiles = readFiles;
  }

  /**
   * Loads a configuration file.
   *
   * @param file the configuration file
   * @param policyOverride a {@code --policy} given on the command line, which wins over {@code
   *     policy.file}; {@code null} to use the file's
   * @param env environment lookup ({@code System::getenv})
   */
  public static Result load(
      Path file, @Nullable Path policyOverride, Function<String, @Nullable String> env) {
    return load(file, policyOverride, env, InstantSource.system());
  }

  /**
   * As {@link #load(Path, Path, Function)}, for commands that open no listener and read only some
   * sections of the file ({@code audit} and {@code keys} read {@code store}):
   *
   * <ul>
   *   <li>an environment variable that is not set is an error only inside {@code sections}; a value
   *       elsewhere that names one is skipped (its key keeps its default), so that a cron job
   *       exporting the audit log needs the store's variables, not the service's admin token or TLS
   *       paths. Everything else is checked as for serving: the file must parse and be valid.
   *   <li>the files the service reads (the gRPC TLS certificate, key and client CA, the GeoIP
   *       database) are not opened: a log shipper or cron job running as another user must not need
   *       read access to the server's private key, and an expired or renewed certificate does not
   *       keep an operator from querying or verifying the audit log. Their keys are still checked
   *       as values.
   * </ul>
   *
   * <p>The result must be used for those sections only: a skipped value elsewhere reads as its
   * default.
   *
   * @param sections the top-level keys the command reads ({@code store})
   */
  public static Result loadForCommands(
      Path file,
      @Nullable Path policyOverride,
      Function<String, @Nullable String> env,
      Set<String> sections) {
    Set<String> read = Set.copyOf(sections);
    return load(
        file,
        policyOverride,
        env,
        null,
        false,
        path ->
            path.isEmpty() // the root's keys
                || read.stream()
                    .anyMatch(
                        s ->
                            path.equals(s)
                                || path.startsWith(s + ".")
                                || path.startsWith(s + "[")));
  }

  /**
   * As {@link #load(Path, Path, Function)}; the server certificate must be valid by {@code clock}
   * ({@code null}: its validity window is not checked).
   */
  static Result load(
      Path file,
      @Nullable Path policyOverride,
      Function<String, @Nullable String> env,
      @Nullable InstantSource clock) {
    return load(file, policyOverride, env, clock, true, path -> true);
  }

  private static Result load(
      Path file,
      @Nullable Path policyOverride,
      Function<String, @Nullable String> env,
      @Nullable InstantSource clock,
      boolean readFiles,
      Predicate<String> variablesRequiredAt) {
    Diagnostics d = new Diagnostics(file.toString());
    YamlTree.Source source = YamlTree.readSource(file, "the configuration file", 1 << 20, d);
    if (source == null) {
      return new Invalid(d.all());
    }
    String text = source.text();
    YamlNode root = YamlTree.read(text, d, env, variablesRequiredAt);
    Path dir = file.toAbsolutePath().getParent();
    RuntimeConfigLoader loader =
        new RuntimeConfigLoader(d, dir == null ? Path.of(".") : dir, clock, readFiles);
    RuntimeConfig config = root == null ? null : loader.root(root, policyOverride);
    if (d.hasErrors() || config == null) {
      return new Invalid(d.all());
    }
    return new Loaded(config);
  }

  private @Nullable RuntimeConfig root(YamlNode node, @Nullable Path policyOverride) {
    YamlNode.Mapping m = mapping(node, "");
    if (m == null) {
      return null;
    }
    Fields f = new Fields(m, "", ROOT);
    Path policyDefault = policyOverride == null ? Path.of("policy.yaml") : policyOverride;
    RuntimeConfig def = RuntimeConfig.defaults(policyDefault);

    String instance = optString(f, "instance", def.instance());
    Path dataDir = optPath(f, "data_dir", def.dataDir());

    RuntimeConfig.Grpc grpc = def.grpc();
    RuntimeConfig.Http http = def.http();
    RuntimeConfig.Admin admin = def.admin();
    Duration shutdownDelay = def.shutdownDelay();
    YamlNode.Mapping server = optMapping(f, "server");
    if (server != null) {
      Fields s = new Fields(server, "server", SERVER);
      shutdownDelay =
          zeroOrDuration(
              s, "shutdown_delay", shutdownDelay, MAX_SHUTDOWN_DELAY, "0s drains at once");
      YamlNode.Mapping g = optMapping(s, "grpc");
      if (g != null) {
        Fields gf = new Fields(g, "server.grpc", GRPC);
        RuntimeConfig.Tls tls = null;
        YamlNode.Mapping t = optMapping(gf, "tls");
        if (t != null) {
          Fields tf = new Fields(t, "server.grpc.tls", TLS);
          int before = d.errorCount();
          Path cert = tlsFile(tf, "cert", true);
          Path key = tlsFile(tf, "key", true);
          Path ca = tlsFile(tf, "client_ca", false);
          boolean filesReadable = d.errorCount() == before;
          List<String> clientIds = allowedClientIds(tf);
          tls =
              cert == null || key == null ? null : new RuntimeConfig.Tls(cert, key, ca, clientIds);
          if (tls != null && filesReadable && readFiles) {
            checkTlsMaterial(tf, tls);
          }
        }
        grpc =
            new RuntimeConfig.Grpc(
                optAddress(gf, "address", grpc.address()),
                tls,
                optDuration(gf, "drain_grace", grpc.drainGrace()),
                (int) optLong(gf, "max_in_flight", grpc.maxInFlight(), 1_000_000L),
                zeroOrDuration(
                    gf,
                    "max_queue_time",
                    grpc.maxQueueTime(),
                    Duration.ofHours(1),
                    "0s turns the bound off"));
      }
      YamlNode.Mapping h = optMapping(s, "http");
      if (h != null) {
        Fields hf = new Fields(h, "server.http", HTTP);
        List<String> proxies = http.trustedProxies();
        if (hf.get("trusted_proxies") != null) {
          proxies = strings(hf.get("trusted_proxies"), hf.path("trusted_proxies"), false);
          for (int i = 0; i < proxies.size(); i++) {
            try {
              CidrSet.validate(proxies.get(i));
            } catch (IllegalArgumentException e) {
              d.error(
                  hf.get("trusted_proxies"),
                  hf.path("trusted_proxies") + "[" + i + "]",
                  e.getMessage());
            }
          }
        }
        http = new RuntimeConfig.Http(optAddress(hf, "address", http.address()), proxies);
      }
      YamlNode.Mapping a = optMapping(s, "admin");
      if (a != null) {
        Fields af = new Fields(a, "server.admin", ADMIN);
        String token = af.get("token") == null ? null : string(af.get("token"), af.path("token"));
        if (token != null && token.length() < 16) {
          d.error(
              af.get("token"), af.path("token"), "the admin token must be at least 16 characters");
        }
        admin =
            new RuntimeConfig.Admin(
                optAddress(af, "address", admin.address()),
                token == null || token.isEmpty() ? null : Secret.of(token));
      }
    }

    // interfaces.md's default, policy: { file: policy.yaml }, sits beside the configuration file as
    // an explicit relative file would, with or without a policy section that leaves file out
    RuntimeConfig.PolicySettings policy =
        new RuntimeConfig.PolicySettings(
            policyOverride != null ? policyOverride : base.resolve(def.policy().file()),
            def.policy().watch());
    YamlNode.Mapping p = optMapping(f, "policy");
    if (p != null) {
      Fields pf = new Fields(p, "policy", POLICY);
      Path file = policyOverride != null ? policyOverride : optPath(pf, "file", policy.file());
      policy = new RuntimeConfig.PolicySettings(file, optBool(pf, "watch", policy.watch()));
    }

    String storeUrl = def.storeUrl();
    YamlNode.Mapping st = optMapping(f, "store");
    if (st != null) {
      Fields sf = new Fields(st, "store", STORE);
      storeUrl = optString(sf, "url", storeUrl);
      if (!storeUrl.startsWith("jdbc:sqlite:") && !storeUrl.startsWith("jdbc:postgresql:")) {
        d.error(
            sf.get("url"), sf.path("url"), "expected jdbc:sqlite:<file> or jdbc:postgresql://...");
      }
    }

    RateLimitSettings rl = ratelimit(f, def.ratelimit());

    // The default directory sits beside the configuration file, as a relative config_dir would.
    RuntimeConfig.Rls rlsSettings =
        new RuntimeConfig.Rls(base.resolve(def.rls().configDir()).normalize(), false);
    YamlNode.Mapping rls = optMapping(f, "rls");
    if (rls != null) {
      Path dir = optPath(new Fields(rls, "rls", RLS), "config_dir", null);
      if (dir != null) {
        rlsSettings = new RuntimeConfig.Rls(dir, true);
      }
    }

    AuditSettings audit =
        def.audit().toBuilder().journalDirectory(dataDir.resolve("audit-journal")).build();
    YamlNode.Mapping au = optMapping(f, "audit");
    if (au != null) {
      Fields af = new Fields(au, "audit", AUDIT);
      audit =
          audit.toBuilder()
              .retention(optDuration(af, "retention", audit.retention()))
              .queueCapacity(
                  (int) optLong(af, "queue_capacity", audit.queueCapacity(), 100_000_000L))
              .journalMaxBytes(
                  optLong(af, "journal_max_bytes", audit.journalMaxBytes(), Long.MAX_VALUE))
              .storeTimeout(optDuration(af, "store_timeout", audit.storeTimeout()))
              .build();
    }

    RuntimeConfig.GeoIp geo = def.geoip();
    YamlNode.Mapping ge = optMapping(f, "geoip");
    if (ge != null) {
      Fields gf = new Fields(ge, "geoip", GEOIP);
      // Unlike other sections, one that leaves header out trusts no header (not the default
      // x-geo-country): a section written for a database must not also start believing a header
      // the client can send, for every address the database cannot place (docs/decisions.md).
      String header =
          gf.get("header") == null || isNull(gf.get("header"))
              ? null
              : string(gf.get("header"), gf.path("header"));
      Path db = optPath(gf, "database", null);
      if (db != null && readFiles && !Files.isReadable(db)) {
        d.error(gf.get("database"), gf.path("database"), "cannot read the GeoIP database " + db);
      }
      geo = new RuntimeConfig.GeoIp(header == null ? null : header.toLowerCase(Locale.ROOT), db);
    }

    HeaderLimits limits = def.requestLimits();
    YamlNode.Mapping lm = optMapping(f, "request_limits");
    if (lm != null) {
      Fields lf = new Fields(lm, "request_limits", REQUEST_LIMITS);
      limits =
          new HeaderLimits(
              (int) optLong(lf, "max_header_bytes", limits.maxHeaderBytes(), 1 << 20),
              (int) optLong(lf, "max_headers_bytes", limits.maxTotalBytes(), 1 << 24),
              (int) optLong(lf, "max_header_count", limits.maxCount(), 10_000));
    }

    if (d.hasErrors()) {
      return null;
    }
    return new RuntimeConfig(
        instance,
        grpc,
        http,
        admin,
        policy,
        storeUrl,
        rl,
        rlsSettings,
        audit,
        geo,
        limits,
        dataDir,
        shutdownDelay);
  }

  private RateLimitSettings ratelimit(Fields f, RateLimitSettings def) {
    YamlNode.Mapping m = optMapping(f, "ratelimit");
    if (m == null) {
      return def;
    }
    Fields rf = new Fields(m, "ratelimit", RATELIMIT);
    RateLimitSettings.Builder b = RateLimitSettings.builder();
    if (rf.get("backend") != null) {
      String v = string(rf.get("backend"), rf.path("backend"));
      RateLimitSettings.Backend backend = v == null ? null : RateLimitSettings.Backend.parse(v);
      if (v != null && backend == null) {
        d.error(rf.get("backend"), rf.path("backend"), "expected memory or redis, got '" + v + "'");
      } else if (backend != null) {
        b.backend(backend);
      }
    }
    if (rf.get("on_backend_failure") != null) {
      String v = string(rf.get("on_backend_failure"), rf.path("on_backend_failure"));
      BackendFailurePolicy policy = v == null ? null : BackendFailurePolicy.parse(v);
      if (v != null && policy == null) {
        d.error(
            rf.get("on_backend_failure"),
            rf.path("on_backend_failure"),
            "expected local, deny or allow, got '" + v + "'");
      } else if (policy != null) {
        b.onBackendFailure(policy);
      }
    }
    YamlNode.Mapping r = optMapping(rf, "redis");
    if (r != null) {
      Fields redis = new Fields(r, "ratelimit.redis", REDIS);
      RedisSettings.Builder rb = RedisSettings.builder();
      if (redis.get("address") != null && redis.get("addresses") != null) {
        d.error(
            redis.get("addresses"), redis.path("addresses"), "give address or addresses, not both");
      }
      // The checks across fields compare the mode, the master's name and the addresses: one that
      // cannot be read (a broken value, already reported or a variable a command does not need; a
      // wrong mode) would read as its default there and make an error up. Each address is checked
      // on its own in any case, so every bad one is reported with the broken value.
      boolean comparable = true;
      List<GivenAddress> addresses = new ArrayList<>(); // the usable ones
      if (redis.get("address") != null) {
        String a = string(redis.get("address"), redis.path("address"));
        if (a != null) {
          address(a, redis.get("address"), redis.path("address"), addresses);
        }
      } else if (redis.get("addresses") != null) {
        String path = redis.path("addresses");
        List<YamlNode> items = items(redis.get("addresses"), path, "a list of strings");
        if (items != null && items.isEmpty()) {
          d.error(redis.get("addresses"), path, "must not be empty");
        }
        for (int i = 0; items != null && i < items.size(); i++) {
          String a = string(items.get(i), path + "[" + i + "]");
          if (a != null && a.isEmpty()) {
            d.error(items.get(i), path + "[" + i + "]", "must not be empty");
          } else if (a != null) {
            address(a, items.get(i), path + "[" + i + "]", addresses);
          }
        }
      }
      if (!addresses.isEmpty()) {
        rb.addresses(addresses.stream().map(GivenAddress::value).toList());
      }
      if (redis.get("mode") != null) {
        String v = string(redis.get("mode"), redis.path("mode"));
        RedisSettings.Mode mode = v == null ? null : RedisSettings.Mode.parse(v);
        if (v != null && mode == null) {
          d.error(redis.get("mode"), redis.path("mode"), "expected single, cluster or sentinel");
        }
        if (mode == null) {
          comparable = false;
        } else {
          rb.mode(mode);
        }
      }
      if (redis.get("master_name") != null) {
        String master = string(redis.get("master_name"), redis.path("master_name"));
        comparable &= master != null;
        rb.sentinelMaster(master);
      }
      if (redis.get("password") != null) {
        // left out when broken: a missing password contradicts no address
        String pw = string(redis.get("password"), redis.path("password"));
        rb.password(pw == null || pw.isEmpty() ? null : Secret.of(pw));
      }
      if (redis.get("timeout") != null) {
        rb.timeout(optDuration(redis, "timeout", Duration.ofMillis(50)));
      }
      try {
        if (comparable) {
          RedisSettings settings = rb.build();
          if (!hasBroken(r)) { // a command's skipped value must keep the section's defaults
            b.redis(settings);
          }
        }
      } catch (RedisSettings.InvalidAddressException e) {
        boolean given = e.index() < addresses.size(); // not the default address
        d.error(
            given ? addresses.get(e.index()).node() : r,
            given ? addresses.get(e.index()).path() : "ratelimit.redis",
            e.getMessage());
      } catch (IllegalArgumentException e) {
        d.error(r, "ratelimit.redis", e.getMessage());
      }
    }
    try {
      return b.build();
    } catch (IllegalArgumentException e) {
      d.error(m, "ratelimit", e.getMessage());
      return def;
    }
  }

  /** A {@code ratelimit.redis} address and where it is written, to report a problem there. */
  private record GivenAddress(String value, YamlNode node, String path) {}

  /**
   * Checks one {@code ratelimit.redis} address on its own, reporting a problem at {@code node}, and
   * adds it to {@code usable} if it has none: a bad one is left out of the settings, so the checks
   * across addresses compare only usable ones and report nothing twice.
   */
  private void address(String value, YamlNode node, String path, List<GivenAddress> usable) {
    String problem = RedisSettings.addressProblem(value);
    if (problem != null) {
      d.error(node, path, problem);
    } else {
      usable.add(new GivenAddress(value, node, path));
    }
  }

  private YamlNode.@Nullable Mapping optMapping(Fields f, String key) {
    YamlNode n = f.get(key);
    return n == null ? null : mapping(n, f.path(key));
  }

  private String optString(Fields f, String key, String fallback) {
    YamlNode n = f.get(key);
    if (n == null) {
      return fallback;
    }
    String s = string(n, f.path(key));
    return s == null ? fallback : s;
  }

  private boolean optBool(Fields f, String key, boolean fallback) {
    YamlNode n = f.get(key);
    if (n == null) {
      return fallback;
    }
    Boolean b = bool(n, f.path(key));
    return b == null ? fallback : b;
  }

  private Duration optDuration(Fields f, String key, Duration fallback) {
    YamlNode n = f.get(key);
    if (n == null) {
      return fallback;
    }
    Duration v = duration(n, f.path(key));
    return v == null ? fallback : v;
  }

  /** The longest {@code server.shutdown_delay} accepted. */
  static final Duration MAX_SHUTDOWN_DELAY = Duration.ofMinutes(10);

  /**
   * A duration up to {@code max}, or zero ({@code 0s}), which {@code zeroMeans} explains in the
   * error for a longer one ({@code server.grpc.max_queue_time}, {@code server.shutdown_delay}).
   */
  private Duration zeroOrDuration(
      Fields f, String key, Duration fallback, Duration max, String zeroMeans) {
    YamlNode n = f.get(key);
    if (n instanceof YamlNode.Scalar s && s.value().matches("0+(ms|s|m|h|d)?")) {
      return Duration.ZERO;
    }
    Duration v = optDuration(f, key, fallback);
    if (v.compareTo(max) > 0) {
      d.error(n, f.path(key), "must be at most " + format(max) + " (" + zeroMeans + ")");
      return fallback;
    }
    return v;
  }

  /** {@code 1h}, {@code 10m}: a whole number of the largest unit that fits. */
  private static String format(Duration d) {
    return d.toMinutes() % 60 == 0 ? d.toHours() + "h" : d.toMinutes() + "m";
  }

  private long optLong(Fields f, String key, long fallback, long max) {
    YamlNode n = f.get(key);
    if (n == null) {
      return fallback;
    }
    Long v = positiveInteger(n, f.path(key));
    if (v != null && v > max) {
      d.error(n, f.path(key), "must be at most " + max);
      return fallback;
    }
    return v == null ? fallback : v;
  }

  private @Nullable Path optPath(Fields f, String key, @Nullable Path fallback) {
    YamlNode n = f.get(key);
    if (n == null || isNull(n)) {
      return fallback;
    }
    String s = string(n, f.path(key));
    return s == null || s.isEmpty() ? fallback : base.resolve(s).normalize();
  }

  /**
   * A PEM file of {@code server.grpc.tls}, readable now. Given but empty or null (an unset {@code
   * ${TLS_CA:-}}, a blank Helm value) is an error, not "unset": elsewhere an empty path takes the
   * default, but here the default is less security (plaintext for {@code cert}/{@code key}, no
   * client authentication for {@code client_ca}), and that must be asked for by leaving the key
   * out, never by an empty variable.
   */
  private @Nullable Path tlsFile(Fields f, String key, boolean required) {
    YamlNode n = f.get(key);
    if (n == null) {
      if (required) {
        f.missing(key, "is required");
      }
      return null;
    }
    if (n instanceof YamlNode.Scalar s && s.broken()) {
      return null; // already reported, or a variable a command need not resolve
    }
    if (isNull(n) || n instanceof YamlNode.Scalar s && s.value().isEmpty()) {
      d.error(
          n,
          f.path(key),
          "is empty: give the PEM file's path; an empty or unset variable must not turn "
              + (key.equals("client_ca")
                  ? "client authentication off (leave client_ca out for TLS without it)"
                  : "TLS off (remove server.grpc.tls for plaintext)"));
      return null;
    }
    String s = string(n, f.path(key));
    if (s == null) {
      return null;
    }
    Path p = base.resolve(s).normalize();
    if (readFiles && !Files.isReadable(p)) {
      d.error(n, f.path(key), "cannot read " + p);
    }
    return p;
  }

  /**
   * {@code server.grpc.tls.allowed_client_ids} (an extension of the contract): URI or DNS SANs, a
   * URI may end in {@code /*}; only with {@code client_ca}, since without client certificates there
   * is no identity to compare.
   */
  private List<String> allowedClientIds(Fields tf) {
    YamlNode n = tf.get("allowed_client_ids");
    if (n == null) {
      return List.of();
    }
    String path = tf.path("allowed_client_ids");
    List<String> ids = strings(n, path, true);
    for (int i = 0; i < ids.size(); i++) {
      String problem = GrpcServer.Tls.clientIdProblem(ids.get(i));
      if (problem != null) {
        d.error(n, path + "[" + i + "]", problem);
      }
    }
    if (tf.get("client_ca") == null) {
      d.error(
          n,
          path,
          "needs client_ca: without client certificates there is no client identity to check");
    }
    return ids;
  }

  /**
   * Parses the PEM files now, as the listener will at start: a key in a form it cannot read, a key
   * that is not the certificate's, an expired or not yet valid certificate, a CA file with no
   * certificate in it are reported at the field, not found by the first client's failed handshake.
   */
  private void checkTlsMaterial(Fields tf, RuntimeConfig.Tls tls) {
    try {
      TlsMaterial.read(
          new GrpcServer.Tls(tls.cert(), tls.key(), tls.clientCa()),
          clock == null ? null : clock.instant());
    } catch (TlsMaterial.InvalidException e) {
      for (TlsMaterial.Problem p : e.problems()) {
        String key =
            switch (p.part()) {
              case CERT -> "cert";
              case KEY -> "key";
              case CLIENT_CA -> "client_ca";
            };
        d.error(tf.get(key), tf.path(key), p.message());
      }
    }
  }

  private InetSocketAddress optAddress(Fields f, String key, InetSocketAddress fallback) {
    YamlNode n = f.get(key);
    if (n == null) {
      return fallback;
    }
    String s = string(n, f.path(key));
    if (s == null) {
      return fallback;
    }
    InetSocketAddress a = parseAddress(s);
    if (a == null) {
      d.error(
          n, f.path(key), "expected host:port (e.g. 0.0.0.0:9191 or [::1]:9193), got '" + s + "'");
      return fallback;
    }
    if (a.isUnresolved()) {
      // a listener cannot bind to it, and the start would fail far from here (a
      // NullPointerException asking whether the missing address is loopback)
      d.error(
          n,
          f.path(key),
          "the host '"
              + a.getHostString()
              + "' does not resolve to an address to listen on (give an IP address such as"
              + " 0.0.0.0, or a name this host resolves)");
      return fallback;
    }
    return a;
  }

  /**
   * Whether a value in {@code node} is broken: its error is already reported, or it names a
   * variable that {@link #loadForCommands} does not need.
   */
  private static boolean hasBroken(YamlNode node) {
    return switch (node) {
      case YamlNode.Scalar s -> s.broken();
      case YamlNode.Mapping m -> m.entries().stream().anyMatch(e -> hasBroken(e.value()));
      case YamlNode.Sequence q -> q.items().stream().anyMatch(RuntimeConfigLoader::hasBroken);
    };
  }

  /** A YAML {@code null} (or {@code ~}): the key is given but deliberately unset. */
  private static boolean isNull(YamlNode n) {
    return n instanceof YamlNode.Scalar s && s.type() == YamlNode.ScalarType.NULL;
  }

  /** {@code host:port}, {@code [v6]:port}; no DNS lookup for IP literals. */
  static @Nullable InetSocketAddress parseAddress(String s) {
    int colon = s.lastIndexOf(':');
    if (colon <= 0 || colon == s.length() - 1) {
      return null;
    }
    String host = s.substring(0, colon);
    if (host.startsWith("[") && host.endsWith("]")) {
      host = host.substring(1, host.length() - 1);
    } else if (host.indexOf(':') >= 0) {
      return null;
    }
    int port;
    try {
      port = Integer.parseInt(s.substring(colon + 1));
    } catch (NumberFormatException e) {
      return null;
    }
    if (port < 0 || port > 65535 || host.isEmpty()) {
      return null;
    }
    return new InetSocketAddress(host, port);
  }
}
