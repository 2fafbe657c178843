package io.portcullis;

import io.micrometer.core.instrument.FunctionCounter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.binder.jvm.JvmGcMetrics;
import io.micrometer.core.instrument.binder.jvm.JvmMemoryMetrics;
import io.micrometer.core.instrument.binder.jvm.JvmThreadMetrics;
import io.micrometer.core.instrument.binder.system.ProcessorMetrics;
import io.micrometer.prometheusmetrics.PrometheusConfig;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import io.portcullis.audit.AuditRetention;
import io.portcullis.audit.AuditStore;
import io.portcullis.audit.AuditWriter;
import io.portcullis.audit.LostStoreCheck;
import io.portcullis.config.ReloadResult;
import io.portcullis.config.RuntimeConfig;
import io.portcullis.decision.DecisionPipeline;
import io.portcullis.decision.ExplainService;
import io.portcullis.geo.CountryResolver;
import io.portcullis.geo.MaxMindCountryResolver;
import io.portcullis.identity.IntrospectionVerifiers;
import io.portcullis.identity.JwtVerifiers;
import io.portcullis.identity.Secret;
import io.portcullis.identity.SharedIdentityServices;
import io.portcullis.keys.KeyLifecycle;
import io.portcullis.keys.KeyStore;
import io.portcullis.keys.StoredKeyVerifier;
import io.portcullis.limit.LimitBackends;
import io.portcullis.limit.RateLimitSettings;
import io.portcullis.limit.redis.RedisLimitBackends;
import io.portcullis.limit.rls.DescriptorLimiter;
import io.portcullis.limit.rls.RlsConfig;
import io.portcullis.limit.rls.RlsConfigException;
import io.portcullis.metrics.DecisionMetrics;
import io.portcullis.metrics.MetricNames;
import io.portcullis.net.CidrSet;
import io.portcullis.policy.LivePolicy;
import io.portcullis.policy.LoadResult;
import io.portcullis.policy.PolicyError;
import io.portcullis.policy.PolicyLoader;
import io.portcullis.policy.PolicyWatcher;
import io.portcullis.policy.ReloadSignal;
import io.portcullis.server.grpc.EnvoyAuthorizationService;
import io.portcullis.server.grpc.EnvoyRateLimitService;
import io.portcullis.server.grpc.GrpcAdminService;
import io.portcullis.server.grpc.GrpcServer;
import io.portcullis.server.http.AdminHttpServer;
import io.portcullis.server.http.AdminRouter;
import io.portcullis.server.http.AuditAdminRoutes;
import io.portcullis.server.http.AuditPages;
import io.portcullis.server.http.ExplainRoute;
import io.portcullis.server.http.ForwardAuthServer;
import io.portcullis.server.http.KeyAdminRoutes;
import io.portcullis.server.http.LimitAdminRoutes;
import io.portcullis.server.http.PolicyReloadRoute;
import io.portcullis.server.http.PolicyStatusRoute;
import io.portcullis.store.Database;
import io.portcullis.store.OwnerOnly;
import io.portcullis.store.StoreSettings;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.SecureRandom;
import java.time.InstantSource;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Base64;
import java.util.Deque;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.function.Function;
import java.util.function.Supplier;
import java.util.stream.Collectors;
import org.jspecify.annotations.Nullable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The running service: wires configuration, policy, identity, limits, audit and the three listeners
 * together, and shuts them down in the reverse order. {@link #start} returns once every listener is
 * bound and the gRPC health reports SERVING; {@link #close} drains.
 *
 * <p>Shutdown ({@link #close}) has three phases. Lame duck: gRPC health and {@code /readyz} report
 * draining (NOT_SERVING, 503) while every listener keeps serving for {@code server.shutdown_delay},
 * so that Envoy's health checks and Kubernetes take the instance out of rotation while it still
 * answers whatever they send meanwhile ({@link #endShutdownDelay} cuts it short). Drain: the gRPC
 * and forward-auth listeners stop accepting and their calls in flight get {@code
 * server.grpc.drain_grace} to finish. Stop: the admin listener, the audit writer (which flushes)
 * and everything else close in the reverse order of the start.
 */
public final class Portcullis implements AutoCloseable {
  private static final Logger log = LoggerFactory.getLogger(Portcullis.class);

  /**
   * Largest request body forward-auth reads (Envoy HTTP mode can forward bodies): Envoy's {@code
   * max_request_bytes} in envoy/*.yaml. Every call from any peer reads up to this much on one of
   * Jetty's threads, so it stays small; a larger body counts as truncated ({@code body_too_large}
   * where a rule validates bodies).
   */
  static final int MAX_FORWARD_AUTH_BODY = 64 * 1024;

  /**
   * How often the files the service re-reads on their own are checked for new ones: the GeoIP
   * database (a rename over it by geoipupdate) and the gRPC listener's certificate, key and client
   * CA (renewed by cert-manager, a SPIFFE helper, a secret update): one stat of each file.
   */
  static final java.time.Duration FILE_CHECK_INTERVAL = java.time.Duration.ofSeconds(5);

  /** How long start-up waits for the issuers' signing keys before it reports SERVING anyway. */
  private static final java.time.Duration JWKS_PREFETCH_TIMEOUT = java.time.Duration.ofSeconds(5);

  private final Deque<AutoCloseable> resources = new ArrayDeque<>();
  private final AtomicBoolean ready = new AtomicBoolean();
  private final AtomicBoolean closed = new AtomicBoolean();
  private final CountDownLatch shutdownDelayEnded = new CountDownLatch(1);
  private java.time.Duration shutdownDelay = java.time.Duration.ZERO;
  private java.time.Duration drainGrace = java.time.Duration.ZERO;
  private @Nullable LivePolicy policy;
  private @Nullable GrpcServer grpc;
  private @Nullable ForwardAuthServer forwardAuth;
  private @Nullable AdminHttpServer admin;
  private @Nullable PrometheusMeterRegistry registry;
  private @Nullable DescriptorLimiter rls;
  private @Nullable AuditStore auditStore;
  private @Nullable MaxMindCountryResolver geoDatabase;

  private Portcullis() {}

  /** Thrown when the service cannot start (an invalid policy, a port in use, ...). */
  public static final class StartupException extends Exception {
    public StartupException(String message, @Nullable Throwable cause) {
      super(message, cause);
    }
  }

  /**
   * Starts the service.
   *
   * @param env environment lookup for {@code ${NAME}} in the policy
   */
  public static Portcullis start(RuntimeConfig config, Function<String, @Nullable String> env)
      throws StartupException {
    Portcullis p = new Portcullis();
    try {
      p.boot(config, env);
      return p;
    } catch (StartupException e) {
      p.close();
      throw e;
    } catch (Exception e) {
      p.close();
      throw new StartupException("cannot start: " + e.getMessage(), e);
    }
  }

  private void boot(RuntimeConfig config, Function<String, @Nullable String> env) throws Exception {
    InstantSource clock = InstantSource.system();
    this.shutdownDelay = config.shutdownDelay();
    this.drainGrace = config.grpc().drainGrace();
    PrometheusMeterRegistry meters = new PrometheusMeterRegistry(PrometheusConfig.DEFAULT);
    this.registry = meters;
    new JvmMemoryMetrics().bindTo(meters);
    new JvmThreadMetrics().bindTo(meters);
    new ProcessorMetrics().bindTo(meters);
    JvmGcMetrics gc = new JvmGcMetrics();
    gc.bindTo(meters);
    resources.push(gc);
    resources.push(meters::close);

    // Store: keys and audit records (SQLite embedded, or PostgreSQL shared by instances).
    Database database = Database.open(StoreSettings.of(config.storeUrl()));
    resources.push(database);
    LostStoreCheck.warnIfNewStore(database, config.dataDir(), config.audit().journalDirectory());

    // Identity: verifiers shared across policy reloads.
    JwtVerifiers jwt = JwtVerifiers.builder(meters).clock(clock).build();
    resources.push(jwt);
    // API keys and introspection: the key verifier polls the store's change feed, so a key
    // revoked or rotated through any instance or the CLI applies here within a second.
    KeyStore keyStore = KeyStore.of(database);
    StoredKeyVerifier apiKeys = StoredKeyVerifier.builder(keyStore, meters).clock(clock).build();
    apiKeys.start();
    resources.push(apiKeys);
    IntrospectionVerifiers introspection =
        IntrospectionVerifiers.builder(meters).clock(clock).build();
    resources.push(introspection);
    SharedIdentityServices identity =
        SharedIdentityServices.builder(jwt)
            .introspection(introspection::forEndpoint)
            .apiKeys(apiKeys)
            .build();

    // Policy: loaded and compiled before anything listens; an invalid policy stops the start.
    Path policyFile = config.policy().file();
    PolicyLoader loader = PolicyLoader.create(identity, clock, env);
    LivePolicy live =
        switch (loader.load(policyFile)) {
          case LoadResult.Loaded loaded -> {
            loaded.warnings().forEach(w -> log.warn("{}", w.format()));
            yield LivePolicy.start(loader, policyFile, loaded, meters);
          }
          case LoadResult.Invalid invalid -> {
            StringBuilder sb = new StringBuilder("the policy is invalid:");
            for (PolicyError e : invalid.errors()) {
              sb.append(System.lineSeparator()).append("  ").append(e.format());
            }
            throw new StartupException(sb.toString(), null);
          }
        };
    this.policy = live;
    log.info("policy {} loaded from {}", live.get().version(), policyFile);
    Runnable reload = live::reload;
    if (config.policy().watch()) {
      PolicyWatcher watcher = PolicyWatcher.builder(live).start();
      resources.push(watcher);
      reload = watcher::requestReload;
    }
    Runnable policyReload = reload;
    ReloadSignal.install(
            () -> {
              // The policy, then the other files, each on its own: one that fails must not keep
              // the others (a renewed certificate) from being read.
              try {
                policyReload.run();
              } catch (RuntimeException e) {
                log.error("the policy reload on SIGHUP failed; the other files are read", e);
              }
              reloadFiles();
            })
        .ifPresent(resources::push);

    // Limits and protection: in memory or shared through Redis.
    LimitBackends limits =
        config.ratelimit().backend() == RateLimitSettings.Backend.REDIS
            ? RedisLimitBackends.create(config.ratelimit(), clock, meters)
            : LimitBackends.inMemory(config.ratelimit(), clock, meters);
    resources.push(limits);

    // Audit log: every decision is queued here and written off the request path.
    AuditStore auditStore =
        AuditStore.of(database, config.audit().storeTimeout()).bindMetrics(meters);
    this.auditStore = auditStore;
    resources.push(AuditRetention.schedule(auditStore, config.audit(), clock, meters));
    AuditWriter audit =
        AuditWriter.builder(auditStore)
            .instance(config.instance())
            .settings(config.audit())
            .meterRegistry(meters)
            .clock(clock)
            .build()
            .start();
    resources.push(audit);

    DecisionPipeline pipeline =
        DecisionPipeline.builder()
            .audit(audit)
            .policy(live)
            .limiter(limits.limiter())
            .protection(limits.protection())
            .headerLimits(config.requestLimits())
            .countries(countries(config.geoip(), meters, clock))
            .metrics(new DecisionMetrics(meters))
            .clock(clock)
            .build();

    // Admin operations (HTTP and gRPC) and the admin token both admin APIs require.
    KeyLifecycle keys = new KeyLifecycle(keyStore, clock, apiKeys::invalidate);
    Secret adminToken = adminToken(config, env);

    // Listeners.
    GrpcServer.Tls tls =
        config.grpc().tls() == null
            ? null
            : new GrpcServer.Tls(
                config.grpc().tls().cert(),
                config.grpc().tls().key(),
                config.grpc().tls().clientCa(),
                config.grpc().tls().allowedClientIds());
    GrpcServer.Builder gb =
        GrpcServer.builder(config.grpc().address())
            .service(new EnvoyAuthorizationService(pipeline, clock))
            .tls(tls)
            .clock(clock)
            .drainGrace(config.grpc().drainGrace())
            .maxInFlight(config.grpc().maxInFlight())
            .maxQueueTime(config.grpc().maxQueueTime())
            .checkTlsFilesEvery(FILE_CHECK_INTERVAL);
    if (adminToken != null) {
      // The admin gRPC service is served only behind the admin token; without a token (possible
      // only off loopback, where the admin HTTP API then refuses to start) it is not registered.
      gb.service(
          GrpcAdminService.builder()
              .keys(keys)
              .audit(auditStore)
              .policy(live)
              .limiter(limits.limiter())
              .protection(limits.protection())
              .reloadFiles(this::reloadFiles)
              .build()
              .withToken(adminToken));
    }
    DescriptorLimiter rls = rateLimitService(config.rls(), limits, clock);
    this.rls = rls;
    gb.service(new EnvoyRateLimitService(rls));
    GrpcServer g = gb.build().start();
    for (String reason : GrpcServer.REJECTION_REASONS) {
      FunctionCounter.builder(MetricNames.GRPC_REJECTED, g, s -> s.rejectedCalls(reason))
          .description(
              "gRPC calls refused before any work: queued too long, deadline passed, or too many"
                  + " in flight")
          .tag("reason", reason)
          .register(meters);
    }
    if (tls != null && !tls.allowedClientIds().isEmpty()) {
      FunctionCounter.builder(MetricNames.GRPC_CLIENT_REFUSED, g, GrpcServer::refusedClients)
          .description(
              "gRPC calls refused because the client certificate is not in"
                  + " server.grpc.tls.allowed_client_ids")
          .register(meters);
    }
    if (tls != null) {
      Gauge.builder(
              MetricNames.TLS_CERTIFICATE_EXPIRY,
              g,
              s -> {
                java.time.Instant notAfter = s.certificateNotAfter();
                return notAfter == null ? Double.NaN : notAfter.getEpochSecond();
              })
          .description("when the gRPC listener's server certificate expires, in epoch seconds")
          .baseUnit("seconds")
          .tag(MetricNames.TAG_LISTENER, "grpc")
          .register(meters);
      for (boolean ok : new boolean[] {true, false}) {
        FunctionCounter.builder(
                MetricNames.TLS_RELOADS, g, s -> ok ? s.tlsReloads() : s.failedTlsReloads())
            .description(
                "gRPC listener TLS reloads (SIGHUP, or renewed files): error means the new files"
                    + " could not serve and the running ones stay")
            .tag(MetricNames.TAG_LISTENER, "grpc")
            .tag(MetricNames.TAG_RESULT, ok ? "success" : "error")
            .register(meters);
      }
    }
    if (!config.grpc().address().getAddress().isLoopbackAddress()
        && (tls == null || tls.clientCa() == null)) {
      log.warn(
          "the gRPC API listens on {} without mTLS: anyone who can reach it can send forged"
              + " CheckRequests (get sources blocked, use up other clients' limits, probe"
              + " decisions); require client certificates (server.grpc.tls.client_ca) or bind it"
              + " to a private interface",
          config.grpc().address());
    } else if (!config.grpc().address().getAddress().isLoopbackAddress()
        && tls.allowedClientIds().isEmpty()) {
      log.warn(
          "the gRPC API on {} admits every client certificate its client_ca signed: in a SPIFFE"
              + " or shared-CA deployment any workload can send forged CheckRequests; list Envoy's"
              + " identities in server.grpc.tls.allowed_client_ids",
          config.grpc().address());
    }
    this.grpc = g;
    resources.push(g);

    ForwardAuthServer fa =
        ForwardAuthServer.builder(config.http().address(), pipeline)
            .trustedProxies(CidrSet.parse(config.http().trustedProxies()))
            .maxBodyBytes(MAX_FORWARD_AUTH_BODY)
            .drainGrace(config.grpc().drainGrace())
            .build()
            .start();
    for (String reason : List.of(ForwardAuthServer.BODY_TIMEOUT, ForwardAuthServer.BODY_BUDGET)) {
      FunctionCounter.builder(MetricNames.FORWARD_AUTH_UNDECIDED, fa, f -> f.undecided(reason))
          .description(
              "forward-auth requests answered without a decision: body too slow (408) or no room"
                  + " for another unfinished body (503)")
          .tag("reason", reason)
          .register(meters);
    }
    this.forwardAuth = fa;
    resources.push(fa);

    AdminRouter router = new AdminRouter();
    new LimitAdminRoutes(live, limits.limiter(), limits.protection()).register(router);
    new KeyAdminRoutes(keys).register(router);
    router
        .add("GET", "/admin/policy", new PolicyStatusRoute(live))
        .add("POST", "/admin/policy/reload", new PolicyReloadRoute(live, this::reloadFiles))
        .add("POST", "/admin/explain", new ExplainRoute(new ExplainService(pipeline)));
    // Audit log: queries, summaries, timeline and chain verification.
    new AuditAdminRoutes(auditStore, clock).register(router);
    AdminHttpServer a =
        AdminHttpServer.builder(config.admin().address())
            .token(adminToken)
            .router(router)
            .pages(new AuditPages()) // the audit web page at /audit/
            .metrics(meters::scrape)
            .ready(ready::get)
            .draining(closed::get)
            .build()
            .start();
    this.admin = a;
    resources.push(a);

    // Fetch the issuers' keys before reporting SERVING, so that the first burst of traffic does not
    // queue behind one lazy JWKS fetch; an unreachable issuer is left to the lazy path.
    int issuers = jwt.prefetchKeys(JWKS_PREFETCH_TIMEOUT);
    log.info("signing keys of {} issuer(s) fetched before serving", issuers);
    g.markServing();
    ready.set(true);
    log.info("Portcullis ready: gRPC {}, forward-auth {}, admin {}", g.port(), fa.port(), a.port());
  }

  private static DescriptorLimiter rateLimitService(
      RuntimeConfig.Rls settings, LimitBackends limits, InstantSource clock)
      throws StartupException {
    Path configDir = settings.configDir();
    if (!Files.isDirectory(configDir)) {
      if (settings.required()) {
        throw new StartupException(
            "rls.config_dir " + configDir + " is not a directory (the rate limit service's files)",
            null);
      }
      log.info(
          "rate limit service: no configuration directory {}; every descriptor is answered OK",
          configDir.toAbsolutePath());
      try {
        return DescriptorLimiter.builder().counters(limits.rlsCounters()).clock(clock).build();
      } catch (RlsConfigException | IOException e) {
        throw new AssertionError("an empty configuration cannot fail", e);
      }
    }
    try {
      DescriptorLimiter rls =
          DescriptorLimiter.builder()
              .configDirectory(configDir)
              .counters(limits.rlsCounters())
              .clock(clock)
              .build();
      log.info(
          "rate limit service loaded {} domain(s) from {}",
          rls.config().domains().size(),
          configDir);
      return rls;
    } catch (RlsConfigException e) {
      throw new StartupException(
          problems("the rate limit service configuration is invalid:", e), e);
    } catch (IOException e) {
      throw new StartupException("cannot read the rate limit service configuration: " + e, e);
    }
  }

  /** {@link ReloadResult#name()} of the rate limit service's reloads. */
  static final String RLS_RELOAD_NAME = "ratelimit_service";

  /**
   * Re-reads the files the service serves from besides the policy, each on its own (one that fails
   * does not keep the others from being read): the rate limit service's directory, the GeoIP
   * database, the gRPC listener's TLS files. SIGHUP runs it after the policy, and so do the admin
   * reloads ({@code POST /admin/policy/reload}, gRPC {@code ReloadPolicy}), which report the
   * results. Files that cannot be used are logged and the running ones stay.
   *
   * @return one result for each of them the service has (a database or TLS that is not configured
   *     has nothing to re-read), in that order
   */
  List<ReloadResult> reloadFiles() {
    List<ReloadResult> results = new ArrayList<>(3);
    for (ReloadStep step :
        List.of(
            new ReloadStep(RLS_RELOAD_NAME, this::reloadRateLimitService),
            new ReloadStep(MaxMindCountryResolver.RELOAD_NAME, this::reloadGeoDatabase),
            new ReloadStep(GrpcServer.TLS_RELOAD_NAME, this::reloadGrpcTls))) {
      try {
        ReloadResult r = step.reload().get();
        if (r != null) {
          results.add(r);
        }
      } catch (RuntimeException e) {
        log.error("reloading {} failed; the other files are read", step.name(), e);
        results.add(
            ReloadResult.failed(step.name(), "internal error (logged); the running files stay"));
      }
    }
    return results;
  }

  /** One of {@link #reloadFiles}: {@code null} when the service has no such files. */
  private record ReloadStep(String name, Supplier<@Nullable ReloadResult> reload) {}

  /**
   * Re-reads the rate limit service's directory; a bad configuration is logged and the running one
   * stays. A service started without the directory (the default {@code ratelimit/} absent) has
   * nothing to re-read ({@code null}): creating it takes a restart.
   */
  private @Nullable ReloadResult reloadRateLimitService() {
    DescriptorLimiter r = rls;
    if (r == null || r.configDirectory() == null) {
      return null;
    }
    String failed = "rate limit service reload failed; the running configuration stays:";
    try {
      RlsConfig c = r.reload();
      String now = c.domains().size() + " domain(s) from " + r.configDirectory();
      log.info("rate limit service reloaded {}", now);
      return ReloadResult.ok(RLS_RELOAD_NAME, now);
    } catch (RlsConfigException e) {
      log.error(problems(failed, e));
      return ReloadResult.failed(
          RLS_RELOAD_NAME,
          e.problems().stream().map(Object::toString).collect(Collectors.joining("; "))
              + "; the running configuration stays");
    } catch (IOException e) {
      log.error("{} {}", failed, e.toString());
      return ReloadResult.failed(RLS_RELOAD_NAME, e + "; the running configuration stays");
    }
  }

  /**
   * Opens the GeoIP database again; one that cannot be used is logged and the running one stays. A
   * replaced file is also picked up on its own within {@link #FILE_CHECK_INTERVAL}.
   */
  private @Nullable ReloadResult reloadGeoDatabase() {
    MaxMindCountryResolver db = geoDatabase;
    return db == null ? null : db.reload();
  }

  /**
   * Re-reads the gRPC listener's certificate, key and client CA: new connections get them, the
   * listener is not restarted; files that cannot serve are logged and the running ones stay ({@link
   * GrpcServer#reloadTls}). Changed files are also picked up on their own within {@link
   * #FILE_CHECK_INTERVAL}.
   */
  private @Nullable ReloadResult reloadGrpcTls() {
    GrpcServer g = grpc;
    return g == null ? null : g.reloadTls();
  }

  /** {@code heading} and each problem of {@code e} on a line of its own. */
  private static String problems(String heading, RlsConfigException e) {
    StringBuilder sb = new StringBuilder(heading);
    for (RlsConfigException.Problem p : e.problems()) {
      sb.append(System.lineSeparator()).append("  ").append(p);
    }
    return sb.toString();
  }

  private CountryResolver countries(
      RuntimeConfig.GeoIp geo, MeterRegistry meters, InstantSource clock) throws StartupException {
    CountryResolver header =
        geo.header() == null ? CountryResolver.none() : CountryResolver.header(geo.header());
    if (geo.database() == null) {
      return header;
    }
    MaxMindCountryResolver db;
    try {
      db =
          MaxMindCountryResolver.builder(geo.database())
              .meterRegistry(meters)
              .clock(clock)
              .checkEvery(FILE_CHECK_INTERVAL)
              .open();
    } catch (IOException e) {
      // A database without countries would open and then fail every lookup: refuse it here.
      throw new StartupException("geoip.database: " + e.getMessage(), e);
    }
    resources.push(db);
    this.geoDatabase = db;
    // The database is authoritative; the header only answers what the database does not know.
    return CountryResolver.firstOf(db, header);
  }

  /**
   * The admin token: configured, or {@code PORTCULLIS_ADMIN_TOKEN}, or (loopback only) generated
   * into {@code data/admin-token} with owner-only permissions. Its value is never logged.
   */
  private static @Nullable Secret adminToken(
      RuntimeConfig config, Function<String, @Nullable String> env)
      throws IOException, StartupException {
    if (config.admin().token() != null) {
      return config.admin().token();
    }
    String fromEnv = env.apply("PORTCULLIS_ADMIN_TOKEN");
    if (fromEnv != null && !fromEnv.isBlank()) {
      return longEnough(fromEnv.trim(), "PORTCULLIS_ADMIN_TOKEN");
    }
    if (!config.admin().address().getAddress().isLoopbackAddress()) {
      return null; // AdminHttpServer refuses to start: a token is required off loopback
    }
    Path file = config.dataDir().resolve("admin-token");
    if (Files.isReadable(file)) {
      return longEnough(Files.readString(file).trim(), file.toString());
    }
    OwnerOnly.createDirectories(config.dataDir());
    byte[] bytes = new byte[32];
    new SecureRandom().nextBytes(bytes);
    String token = Base64.getUrlEncoder().withoutPadding().encodeToString(bytes);
    Files.createFile(file, OwnerOnly.fileAttributes(file));
    Files.writeString(file, token);
    log.info("generated an admin token into {} (set PORTCULLIS_ADMIN_TOKEN to choose one)", file);
    return Secret.of(token);
  }

  /**
   * The admin token from {@code source}, refused below the 16 characters configuration.md asks of
   * {@code server.admin.token}: the admin gRPC service listens on the gRPC port, which is not
   * loopback-only, so a short token could be guessed over the network.
   */
  private static Secret longEnough(String token, String source) throws StartupException {
    if (token.length() < MIN_ADMIN_TOKEN) {
      throw new StartupException(
          "the admin token from "
              + source
              + " must be at least "
              + MIN_ADMIN_TOKEN
              + " characters (it has "
              + token.length()
              + ")",
          null);
    }
    return Secret.of(token);
  }

  /** The shortest admin token accepted, wherever it comes from. */
  static final int MIN_ADMIN_TOKEN = 16;

  public LivePolicy policy() {
    return java.util.Objects.requireNonNull(policy, "not started");
  }

  public int grpcPort() {
    return java.util.Objects.requireNonNull(grpc, "not started").port();
  }

  public int forwardAuthPort() {
    return java.util.Objects.requireNonNull(forwardAuth, "not started").port();
  }

  public int adminPort() {
    return java.util.Objects.requireNonNull(admin, "not started").port();
  }

  /** The audit store (queries in tests and admin routes). */
  public AuditStore auditStore() {
    return java.util.Objects.requireNonNull(auditStore, "not started");
  }

  public PrometheusMeterRegistry meters() {
    return java.util.Objects.requireNonNull(registry, "not started");
  }

  /**
   * Ends the wait of {@code server.shutdown_delay} at once (a second SIGTERM or SIGINT): the
   * listeners then stop accepting and drain. Harmless before {@link #close} (which then does not
   * wait) and after.
   */
  public void endShutdownDelay() {
    shutdownDelayEnded.countDown();
  }

  /**
   * Reports draining, keeps serving for {@code server.shutdown_delay}, drains the listeners for
   * {@code server.grpc.drain_grace} and stops everything in reverse start order (the class comment
   * has the phases). Blocks until done. Idempotent; a service that never got ready stops at once.
   */
  @Override
  public void close() {
    if (!closed.compareAndSet(false, true)) {
      return;
    }
    boolean wasReady = ready.getAndSet(false);
    GrpcServer g = grpc;
    ForwardAuthServer fa = forwardAuth;
    // phase 1: lame duck (/readyz answers "draining" from now on: closed is set)
    if (g != null) {
      g.markDraining();
    }
    if (wasReady && shutdownDelay.isPositive()) {
      log.info(
          "draining: NOT_SERVING for {} (gRPC health, /readyz 503) while every listener keeps"
              + " serving (server.shutdown_delay; SIGTERM or SIGINT again ends the wait)",
          seconds(shutdownDelay));
      long start = System.nanoTime();
      try {
        if (shutdownDelayEnded.await(shutdownDelay.toNanos(), TimeUnit.NANOSECONDS)) {
          log.info(
              "draining: wait ended after {} of {}",
              seconds(java.time.Duration.ofNanos(System.nanoTime() - start)),
              seconds(shutdownDelay));
        }
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt(); // stop without waiting any longer
      }
    }
    // phase 2: the decision listeners stop accepting; calls in flight finish
    if (g != null || fa != null) {
      log.info(
          "draining: gRPC and forward-auth stop accepting; calls in flight have up to {}"
              + " (server.grpc.drain_grace)",
          seconds(drainGrace));
    }
    if (g != null) {
      g.stopAccepting(); // at once, while forward-auth drains
    }
    for (AutoCloseable listener : java.util.Arrays.asList(fa, g)) {
      if (listener != null) {
        closeQuietly(listener);
        resources.remove(listener);
      }
    }
    // phase 3: the admin listener, the audit writer (flushing) and the rest, in reverse start order
    for (AutoCloseable c : List.copyOf(resources)) {
      closeQuietly(c);
    }
    resources.clear();
    log.info("Portcullis stopped");
  }

  /** {@code 15s}, {@code 0.25s}: a duration for the shutdown log. */
  private static String seconds(java.time.Duration d) {
    return java.math.BigDecimal.valueOf(d.toMillis(), 3).stripTrailingZeros().toPlainString() + "s";
  }

  private static void closeQuietly(AutoCloseable c) {
    try {
      c.close();
    } catch (Exception e) {
      log.warn("error while stopping {}", c, e);
    }
  }
}
