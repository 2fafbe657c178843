package io.portcullis.server.grpc;

import io.grpc.BindableService;
import io.grpc.InsecureServerCredentials;
import io.grpc.Server;
import io.grpc.ServerCredentials;
import io.grpc.ServerServiceDefinition;
import io.grpc.TlsServerCredentials;
import io.grpc.health.v1.HealthCheckResponse.ServingStatus;
import io.grpc.netty.shaded.io.grpc.netty.NettyServerBuilder;
import io.grpc.protobuf.services.HealthStatusManager;
import io.grpc.protobuf.services.ProtoReflectionService;
import io.grpc.protobuf.services.ProtoReflectionServiceV1;
import io.grpc.util.AdvancedTlsX509KeyManager;
import io.grpc.util.AdvancedTlsX509TrustManager;
import io.portcullis.config.FileCheck;
import io.portcullis.config.FileVersion;
import io.portcullis.config.ReloadResult;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.nio.file.Path;
import java.security.GeneralSecurityException;
import java.security.cert.CertificateException;
import java.security.cert.X509Certificate;
import java.time.Duration;
import java.time.Instant;
import java.time.InstantSource;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.LongSupplier;
import org.jspecify.annotations.Nullable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The gRPC listener (default 9191): Envoy ext_authz, the rate limit service, {@code
 * grpc.health.v1.Health} and server reflection (v1 and v1alpha), over h2c or TLS (mTLS when a
 * client CA is set, optionally narrowed to allowed client ids). The TLS files are checked before
 * they are served ({@link TlsMaterial}) and can be re-read without a restart: on demand ({@link
 * #reloadTls}, on SIGHUP) and, with {@link Builder#checkTlsFilesEvery}, whenever one of the files
 * changes ({@link #reloadTlsIfChanged}), so certificates renewed by cert-manager, a SPIFFE helper
 * or a Kubernetes secret update are served without a signal.
 *
 * <p>Health is {@code NOT_SERVING} until {@link #markServing()} (the service calls it once a policy
 * is loaded) and again from {@link #markDraining()} on: the service calls it when shutdown begins
 * and keeps serving calls for {@code server.shutdown_delay}, so that Envoy's health checks take
 * this instance out of rotation before {@link #stopAccepting()} refuses new calls and {@link
 * #close()} waits for the ones in flight. Calls run on virtual threads: decisions are CPU-bound on
 * the hot path, and the rare blocking call (a cold JWKS fetch, Redis) must not stall Netty's event
 * loops.
 */
public final class GrpcServer implements AutoCloseable {
  private static final Logger log = LoggerFactory.getLogger(GrpcServer.class);

  /**
   * TLS settings of the listener: the PEM files {@link TlsMaterial} reads and checks.
   *
   * @param certChain PEM certificate chain, leaf first
   * @param privateKey PEM private key, unencrypted: PKCS#8, PKCS#1 (RSA) or SEC1 (EC)
   * @param clientCa PEM CA that client certificates must chain to; {@code null} for TLS without
   *     client authentication
   * @param allowedClientIds the URI or DNS SANs a client certificate must carry one of (an id
   *     ending in {@code /*} allows the URIs below it); empty to admit any certificate {@code
   *     clientCa} signed. Needs {@code clientCa}.
   */
  public record Tls(
      Path certChain, Path privateKey, @Nullable Path clientCa, List<String> allowedClientIds) {
    public Tls {
      allowedClientIds = List.copyOf(allowedClientIds);
      if (!allowedClientIds.isEmpty() && clientCa == null) {
        throw new IllegalArgumentException(
            "allowed client ids need a client CA: without client certificates there is no"
                + " client identity");
      }
      for (String id : allowedClientIds) {
        String problem = ClientIdInterceptor.validate(id);
        if (problem != null) {
          throw new IllegalArgumentException(problem);
        }
      }
    }

    /**
     * What is wrong with {@code id} as one of {@link #allowedClientIds}, or {@code null}: blank, or
     * a {@code *} anywhere but in a trailing {@code /*} after a URI path.
     */
    public static @Nullable String clientIdProblem(String id) {
      return ClientIdInterceptor.validate(id);
    }

    /** TLS admitting any client certificate {@code clientCa} signed (or none without one). */
    public Tls(Path certChain, Path privateKey, @Nullable Path clientCa) {
      this(certChain, privateKey, clientCa, List.of());
    }
  }

  private final Server server;
  private final HealthStatusManager health;
  private final List<String> serviceNames;
  private final ExecutorService executor;
  private final Duration drainGrace;
  private boolean accepting = true; // guarded by this
  private long stoppedAccepting; // guarded by this: System.nanoTime() when accepting ended
  private final CallAdmission admission;
  private final @Nullable Tls tlsFiles;
  private final InstantSource clock;
  private volatile @Nullable TlsMaterial tls;
  private final @Nullable AdvancedTlsX509KeyManager keys;
  private final @Nullable AdvancedTlsX509TrustManager trust;
  private final @Nullable ClientIdInterceptor clientIds;
  private final AtomicLong tlsReloaded = new AtomicLong();
  private final AtomicLong tlsReloadFailed = new AtomicLong();
  // The TLS files' versions when the served material was read, and when a reload last tried them.
  private @Nullable List<@Nullable FileVersion> servedVersions; // guarded by this
  private @Nullable List<@Nullable FileVersion> triedVersions; // guarded by this
  private @Nullable Instant triedAt; // guarded by this
  private final @Nullable Duration fileCheckInterval;
  private @Nullable ScheduledExecutorService tlsWatcher; // guarded by this

  private GrpcServer(
      Builder b, @Nullable TlsMaterial tls, @Nullable List<@Nullable FileVersion> versions) {
    this.tlsFiles = b.tls;
    this.servedVersions = versions;
    this.fileCheckInterval = tls == null ? null : b.checkTlsFilesEvery;
    this.clock = b.clock;
    this.tls = tls;
    // Key and trust managers fed with the material already checked, not grpc-java's own PEM
    // reading of the files: what was validated is what is served, and reloadTls() can swap it.
    this.keys = tls == null ? null : new AdvancedTlsX509KeyManager();
    this.trust = tls == null || tls.clientCa().isEmpty() ? null : trustManager();
    if (tls != null) {
      install(tls);
    }
    this.clientIds =
        b.tls == null || b.tls.allowedClientIds().isEmpty()
            ? null
            : new ClientIdInterceptor(b.tls.allowedClientIds(), b.clock);
    this.health = new HealthStatusManager();
    this.executor = Executors.newVirtualThreadPerTaskExecutor();
    this.drainGrace = b.drainGrace;
    this.admission = new CallAdmission(b.maxInFlight, b.maxQueueTime, b.nanoTime);
    NettyServerBuilder nb =
        NettyServerBuilder.forAddress(b.address, credentials())
            .executor(executor)
            .maxInboundMessageSize(b.maxInboundMessageBytes)
            .permitKeepAliveTime(10, TimeUnit.SECONDS)
            .permitKeepAliveWithoutCalls(true)
            .intercept(admission);
    if (clientIds != null) {
      // added last, so it runs first: a refused client takes no in-flight slot
      nb.intercept(clientIds);
    }
    if (!b.maxQueueTime.isZero()) { // no stamp to take when nothing reads it
      nb.addStreamTracerFactory(admission.arrivalStamp());
    }
    List<String> names = new ArrayList<>();
    for (ServerServiceDefinition s : b.services) {
      nb.addService(s);
      names.add(s.getServiceDescriptor().getName());
    }
    nb.addService(health.getHealthService());
    nb.addService(ProtoReflectionServiceV1.newInstance());
    nb.addService(reflectionV1Alpha());
    this.serviceNames = List.copyOf(names);
    this.server = nb.build();
    setAll(ServingStatus.NOT_SERVING);
  }

  /**
   * Server reflection as {@code grpc.reflection.v1alpha.ServerReflection}, beside v1: grpcurl
   * before 1.8.8, Postman, older evans and BloomRPC ask only v1alpha, and without it they cannot
   * list or call the services. grpc-java deprecates the class (in favour of v1) but still ships it.
   */
  @SuppressWarnings("deprecation")
  private static BindableService reflectionV1Alpha() {
    return ProtoReflectionService.newInstance();
  }

  public static Builder builder(InetSocketAddress address) {
    return new Builder(address);
  }

  private ServerCredentials credentials() {
    if (keys == null) {
      return InsecureServerCredentials.create();
    }
    TlsServerCredentials.Builder t = TlsServerCredentials.newBuilder().keyManager(keys);
    if (trust != null) {
      t.trustManager(trust).clientAuth(TlsServerCredentials.ClientAuth.REQUIRE);
    }
    return t.build();
  }

  private static AdvancedTlsX509TrustManager trustManager() {
    try {
      return AdvancedTlsX509TrustManager.newBuilder()
          .setVerification(AdvancedTlsX509TrustManager.Verification.CERTIFICATE_ONLY_VERIFICATION)
          .build();
    } catch (CertificateException e) {
      throw new IllegalStateException("no X.509 trust manager in this JVM", e);
    }
  }

  /** Serves {@code m} to connections set up from now on. */
  private void install(TlsMaterial m) {
    // the trust first: it is the update that can fail, and then nothing has changed
    if (trust != null) {
      try {
        trust.updateTrustCredentials(m.clientCa().toArray(X509Certificate[]::new));
      } catch (IOException | GeneralSecurityException e) {
        throw new IllegalStateException("cannot trust the client CA certificates", e);
      }
    }
    java.util.Objects.requireNonNull(keys)
        .updateIdentityCredentials(m.chain().toArray(X509Certificate[]::new), m.key());
    this.tls = m;
  }

  /** {@link ReloadResult#name()} of the listener's TLS reloads. */
  public static final String TLS_RELOAD_NAME = "grpc_tls";

  /**
   * Re-reads the TLS files (on SIGHUP and on an admin reload) and serves them to connections set up
   * from now on, without restarting the listener; connections already open keep what they were set
   * up with. Files that cannot serve (each problem is logged with its file) leave the running
   * material in place, so a renewal caught half-written does no harm: reload again once both files
   * are written.
   *
   * @return whether new material is now served, with the certificate's subject and expiry, or why
   *     not (each problem with its file); {@code null} without TLS (nothing to re-read)
   */
  public synchronized @Nullable ReloadResult reloadTls() {
    Tls files = tlsFiles;
    if (files == null) {
      return null;
    }
    // read before the files, so that a change while they are read is seen by the next check
    List<@Nullable FileVersion> versions = versions(files);
    triedVersions = versions;
    triedAt = clock.instant();
    TlsMaterial m;
    try {
      m = TlsMaterial.read(files, clock.instant());
    } catch (TlsMaterial.InvalidException e) {
      tlsReloadFailed.incrementAndGet();
      log.error(
          "gRPC TLS reload failed; the running certificate (valid until {}) stays: {} (the files"
              + " are read again when one changes, and every minute while they cannot serve)",
          certificateNotAfter(),
          e.getMessage());
      return ReloadResult.failed(
          TLS_RELOAD_NAME,
          e.getMessage()
              + "; the running certificate (valid until "
              + certificateNotAfter()
              + ") stays");
    }
    if (m.clientCa().isEmpty() != (trust == null)) {
      throw new AssertionError("the same files cannot gain or lose the client CA");
    }
    install(m);
    servedVersions = versions;
    tlsReloaded.incrementAndGet();
    String served =
        files.certChain()
            + ": certificate "
            + m.leaf().getSubjectX500Principal().getName()
            + " valid until "
            + m.leaf().getNotAfter().toInstant();
    log.info("gRPC TLS reloaded from {}", served);
    return ReloadResult.ok(TLS_RELOAD_NAME, served);
  }

  /**
   * How long files that could not serve are left alone before they are read again though they did
   * not change: what failed may pass later (a certificate not valid yet because this host's clock
   * is behind the issuer's, a file not readable for a moment), and a renewal that is never read
   * again would leave the old certificate to expire.
   */
  static final Duration RETRY_FAILED_FILES = Duration.ofMinutes(1);

  /**
   * {@link #reloadTls()} if one of the TLS files is another file than the served material was read
   * from (renamed over, its size or modification time changed) and that set of versions was not
   * tried in the last {@link #RETRY_FAILED_FILES}: a renewal written file by file is read once per
   * change, and files that cannot serve are read (and logged) again once a minute, not at every
   * check.
   *
   * @return whether new material is now served
   */
  public synchronized boolean reloadTlsIfChanged() {
    Tls files = tlsFiles;
    if (files == null) {
      return false;
    }
    List<@Nullable FileVersion> now = versions(files);
    if (now.equals(servedVersions)) {
      return false;
    }
    if (now.equals(triedVersions)
        && triedAt != null
        && clock.instant().isBefore(triedAt.plus(RETRY_FAILED_FILES))) {
      return false;
    }
    ReloadResult r = reloadTls();
    return r != null && r.ok();
  }

  private static List<@Nullable FileVersion> versions(Tls files) {
    List<@Nullable FileVersion> v = new ArrayList<>(3);
    v.add(FileVersion.of(files.certChain()));
    v.add(FileVersion.of(files.privateKey()));
    v.add(files.clientCa() == null ? null : FileVersion.of(files.clientCa()));
    return v;
  }

  /**
   * TLS reloads that served new material ({@code portcullis_tls_reloads_total{result="success"}}).
   */
  public long tlsReloads() {
    return tlsReloaded.get();
  }

  /**
   * TLS reloads whose files could not serve, the running material staying ({@code
   * portcullis_tls_reloads_total{result="error"}}).
   */
  public long failedTlsReloads() {
    return tlsReloadFailed.get();
  }

  private synchronized void watchTlsFiles(Duration every) {
    this.tlsWatcher =
        FileCheck.every(
            every, "portcullis-tls-watcher", log, "the gRPC TLS files", this::reloadTlsIfChanged);
  }

  /**
   * When the server certificate stops being valid ({@code
   * portcullis_tls_certificate_expiry_seconds}), or {@code null} without TLS.
   */
  public @Nullable Instant certificateNotAfter() {
    TlsMaterial m = tls;
    return m == null ? null : m.leaf().getNotAfter().toInstant();
  }

  /**
   * Starts listening and, with {@link Builder#checkTlsFilesEvery}, checking the TLS files (only
   * once listening worked: a failed start leaves no thread behind).
   */
  public GrpcServer start() throws IOException {
    server.start();
    log.info("gRPC listening on {}", server.getListenSockets());
    if (fileCheckInterval != null) {
      watchTlsFiles(fileCheckInterval);
    }
    return this;
  }

  /** The bound port (useful when the configured port was 0). */
  public int port() {
    return ((InetSocketAddress) server.getListenSockets().getFirst()).getPort();
  }

  /**
   * Why calls are refused before any work ({@link CallAdmission}): {@code queue_time} (waited
   * longer than {@link Builder#maxQueueTime} for a thread), {@code deadline} (the caller's deadline
   * passed while queued), {@code in_flight} ({@link Builder#maxInFlight} calls already running).
   */
  public static final List<String> REJECTION_REASONS =
      Arrays.stream(CallAdmission.Refusal.values()).map(r -> r.tag).toList();

  /** Calls refused for {@code reason}, one of {@link #REJECTION_REASONS}. */
  public long rejectedCalls(String reason) {
    for (CallAdmission.Refusal r : CallAdmission.Refusal.values()) {
      if (r.tag.equals(reason)) {
        return admission.refused(r);
      }
    }
    throw new IllegalArgumentException("unknown rejection reason " + reason);
  }

  /** Calls refused for any reason. */
  public long rejectedCalls() {
    long sum = 0;
    for (CallAdmission.Refusal r : CallAdmission.Refusal.values()) {
      sum += admission.refused(r);
    }
    return sum;
  }

  /**
   * Calls refused because the client certificate carries none of {@link Tls#allowedClientIds}
   * ({@code portcullis_grpc_client_refused_total}); 0 when none are configured.
   */
  public long refusedClients() {
    return clientIds == null ? 0 : clientIds.refused();
  }

  /** Reports SERVING: call once a policy is loaded. */
  public void markServing() {
    setAll(ServingStatus.SERVING);
  }

  /**
   * Reports NOT_SERVING for the server ({@code ""}) and every service, Envoy's ext_authz and rate
   * limit services included, and for good: a later {@link #markServing()} is ignored. Calls are
   * still served: the lame-duck phase of a shutdown, while health checkers take this instance out
   * of rotation.
   */
  public void markDraining() {
    health.enterTerminalState();
  }

  /**
   * Stops taking calls (new ones are refused, the listener closes); calls in flight go on, and
   * {@link #close()} waits for them until {@code drainGrace} after this call. Reports NOT_SERVING.
   */
  public void stopAccepting() {
    markDraining();
    synchronized (this) {
      if (accepting) {
        accepting = false;
        stoppedAccepting = System.nanoTime();
      }
    }
    server.shutdown();
  }

  private void setAll(ServingStatus status) {
    health.setStatus("", status);
    for (String name : serviceNames) {
      health.setStatus(name, status);
    }
  }

  /**
   * Drains: health goes NOT_SERVING, new calls are refused ({@link #stopAccepting()}, unless it was
   * called before), in-flight calls finish within the grace period counted from then, and whatever
   * remains is cancelled.
   */
  @Override
  public void close() {
    synchronized (this) {
      if (tlsWatcher != null) {
        tlsWatcher.shutdownNow();
        tlsWatcher = null;
      }
    }
    stopAccepting();
    long since;
    synchronized (this) {
      since = stoppedAccepting;
    }
    long left = drainGrace.toNanos() - (System.nanoTime() - since);
    try {
      if (!server.awaitTermination(Math.max(0, left), TimeUnit.NANOSECONDS)) {
        log.warn("gRPC calls still running after {}; cancelling them", drainGrace);
        server.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
      }
    } catch (InterruptedException e) {
      server.shutdownNow();
      Thread.currentThread().interrupt();
    } finally {
      executor.shutdown();
    }
  }

  /** Calls running at once unless configured: more are refused ({@link Builder#maxInFlight}). */
  public static final int DEFAULT_MAX_IN_FLIGHT = 10_000;

  /**
   * Queue time allowed a call without a deadline unless configured ({@link Builder#maxQueueTime}).
   */
  public static final Duration DEFAULT_MAX_QUEUE_TIME = Duration.ofMillis(200);

  /** Builds a {@link GrpcServer}; not thread-safe. */
  public static final class Builder {
    private final InetSocketAddress address;
    private final List<ServerServiceDefinition> services = new ArrayList<>();
    private @Nullable Tls tls;
    private int maxInboundMessageBytes = 8 * 1024 * 1024;
    private Duration drainGrace = Duration.ofSeconds(10);
    private int maxInFlight = DEFAULT_MAX_IN_FLIGHT;
    private Duration maxQueueTime = DEFAULT_MAX_QUEUE_TIME;
    private LongSupplier nanoTime = System::nanoTime;
    private @Nullable Duration checkTlsFilesEvery;
    private InstantSource clock = InstantSource.system();

    private Builder(InetSocketAddress address) {
      this.address = address;
    }

    public Builder service(BindableService service) {
      services.add(service.bindService());
      return this;
    }

    /** A service already bound, e.g. behind interceptors ({@code GrpcAdminService#withToken}). */
    public Builder service(ServerServiceDefinition service) {
      services.add(service);
      return this;
    }

    public Builder tls(@Nullable Tls tls) {
      this.tls = tls;
      return this;
    }

    /** Largest CheckRequest accepted (bodies forwarded with {@code with_request_body} count). */
    public Builder maxInboundMessageBytes(int bytes) {
      this.maxInboundMessageBytes = bytes;
      return this;
    }

    /**
     * The most calls running at once (default 10,000); more are refused with {@code
     * RESOURCE_EXHAUSTED} instead of queueing without bound.
     */
    public Builder maxInFlight(int maxInFlight) {
      this.maxInFlight = maxInFlight;
      return this;
    }

    /**
     * The longest a call <em>without a deadline</em> may wait for a thread before it starts
     * (default 200 ms, Envoy's default ext_authz timeout): older ones are refused with {@code
     * RESOURCE_EXHAUSTED} before any decision work. A call with a deadline is governed by its
     * deadline alone. Zero turns the check off.
     */
    public Builder maxQueueTime(Duration maxQueueTime) {
      this.maxQueueTime = maxQueueTime;
      return this;
    }

    /** The monotonic clock of {@link #maxQueueTime} (tests). */
    Builder nanoTime(LongSupplier nanoTime) {
      this.nanoTime = nanoTime;
      return this;
    }

    public Builder drainGrace(Duration grace) {
      this.drainGrace = grace;
      return this;
    }

    /** The clock the server certificate must be valid by. */
    public Builder clock(InstantSource clock) {
      this.clock = clock;
      return this;
    }

    /**
     * Checks the {@link #tls} files this often and serves renewed ones ({@link
     * #reloadTlsIfChanged()}), on a thread of its own; not at all by default (then only {@link
     * #reloadTls()} reads them again).
     */
    public Builder checkTlsFilesEvery(Duration interval) {
      if (interval.isNegative() || interval.isZero()) {
        throw new IllegalArgumentException("checkTlsFilesEvery must be positive: " + interval);
      }
      this.checkTlsFilesEvery = interval;
      return this;
    }

    /**
     * Builds the server, unstarted.
     *
     * @throws TlsMaterial.InvalidException if the {@link #tls} files cannot serve (each problem
     *     names its file)
     */
    public GrpcServer build() throws TlsMaterial.InvalidException {
      if (tls == null) {
        return new GrpcServer(this, null, null);
      }
      List<@Nullable FileVersion> versions = versions(tls);
      return new GrpcServer(this, TlsMaterial.read(tls, clock.instant()), versions);
    }
  }
}
