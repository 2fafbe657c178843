package io.portcullis.loadtest;

import com.sun.management.GarbageCollectionNotificationInfo;
import io.envoyproxy.envoy.service.auth.v3.AuthorizationGrpc;
import io.envoyproxy.envoy.service.auth.v3.CheckRequest;
import io.envoyproxy.envoy.service.auth.v3.CheckResponse;
import io.grpc.stub.StreamObserver;
import io.micrometer.core.instrument.Counter;
import io.portcullis.Portcullis;
import io.portcullis.config.RuntimeConfig;
import io.portcullis.identity.Secret;
import io.portcullis.limit.RateLimitSettings;
import io.portcullis.limit.RedisSettings;
import io.portcullis.metrics.MetricNames;
import io.portcullis.server.grpc.GrpcServer;
import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.lang.management.GarbageCollectorMXBean;
import java.lang.management.ManagementFactory;
import java.lang.management.MemoryUsage;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.Callable;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.LongAdder;
import javax.management.NotificationEmitter;
import javax.management.openmbean.CompositeData;
import org.jspecify.annotations.Nullable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * The server side of a load run, in its own JVM (so that its heap, GC and CPU are measured apart
 * from the generator's): either Portcullis started through its composition root ({@link
 * Portcullis#start}) on loopback port 0, or an empty ext_authz server on Portcullis's own {@link
 * GrpcServer} (same grpc-java, Netty and executor set-up) that answers every Check with OK: the
 * floor.
 *
 * <p>Protocol on stdin/stdout, one line each: prints {@code READY <grpc> <http> <admin>} once
 * listening; answers {@code stats} with a {@link ServerStats.Snapshot} line, {@code reset} resets
 * the after-GC maximum, {@code gc} collects first; stops on {@code stop} or end of input.
 */
@Command(name = "serve-target", hidden = true, description = "Server side of a load run.")
final class TargetServer implements Callable<Integer> {
  /**
   * The admin token of every load-test server (loopback only, a throw-away data directory): the
   * generator uses it to issue API keys through the admin API.
   */
  static final String ADMIN_TOKEN = "loadtest-admin-token";

  @Option(names = "--mode", required = true, description = "portcullis | empty")
  String mode;

  @Option(names = "--policy", description = "Policy file (portcullis mode).")
  @Nullable Path policy;

  @Option(names = "--redis-prefix", description = "Use the Redis limit backend with this prefix.")
  @Nullable String redisPrefix;

  @Option(names = "--redis", defaultValue = "redis://127.0.0.1:6379")
  String redisAddress;

  @Option(names = "--rls-dir", description = "envoyproxy/ratelimit configuration directory.")
  @Nullable Path rlsDir;

  @Option(names = "--store-url", description = "store.url (default: SQLite in --data-dir).")
  @Nullable String storeUrl;

  @Option(names = "--data-dir", required = true)
  Path dataDir;

  private final AtomicLong maxAfterGc = new AtomicLong();

  @Override
  public Integer call() throws Exception {
    watchGc();
    LongAdder emptyOk = new LongAdder();
    AutoCloseable server;
    int grpc;
    int http = 0;
    int admin = 0;
    Counter[] allow = new Counter[0];
    Portcullis p = null;
    if (mode.equals("empty")) {
      GrpcServer g =
          GrpcServer.builder(new InetSocketAddress("127.0.0.1", 0))
              .service(new EmptyAuthorization(emptyOk))
              .drainGrace(Duration.ofSeconds(1))
              .build()
              .start();
      g.markServing();
      server = g;
      grpc = g.port();
    } else {
      p = Portcullis.start(config(), name -> System.getenv(name));
      server = p;
      grpc = p.grpcPort();
      http = p.forwardAuthPort();
      admin = p.adminPort();
    }
    System.out.println("READY " + grpc + " " + http + " " + admin);
    System.out.flush();
    BufferedReader in =
        new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8));
    String line;
    try {
      while ((line = in.readLine()) != null) {
        switch (line.trim()) {
          case "stats" -> {}
          case "reset" -> maxAfterGc.set(0);
          case "gc" -> {
            System.gc();
            System.gc();
          }
          case "stop" -> {
            return 0;
          }
          default -> {
            System.out.println("ERROR unknown command");
            System.out.flush();
            continue;
          }
        }
        long ok = p == null ? emptyOk.sum() : allowed(p);
        System.out.println(snapshot(ok).encode());
        System.out.flush();
      }
    } finally {
      server.close();
    }
    return 0;
  }

  private RuntimeConfig config() {
    if (policy == null) {
      throw new IllegalArgumentException("--policy is required in portcullis mode");
    }
    RuntimeConfig d = RuntimeConfig.defaults(policy);
    RateLimitSettings limits =
        redisPrefix == null
            ? d.ratelimit()
            : RateLimitSettings.builder()
                .backend(RateLimitSettings.Backend.REDIS)
                .redis(RedisSettings.builder().address(redisAddress).keyPrefix(redisPrefix).build())
                .build();
    return new RuntimeConfig(
        "loadtest",
        new RuntimeConfig.Grpc(new InetSocketAddress("127.0.0.1", 0), null, Duration.ofSeconds(1)),
        new RuntimeConfig.Http(new InetSocketAddress("127.0.0.1", 0), List.of("127.0.0.1/32")),
        new RuntimeConfig.Admin(new InetSocketAddress("127.0.0.1", 0), Secret.of(ADMIN_TOKEN)),
        new RuntimeConfig.PolicySettings(policy, false),
        storeUrl != null ? storeUrl : "jdbc:sqlite:" + dataDir.resolve("portcullis.db"),
        limits,
        rlsDir == null
            ? new RuntimeConfig.Rls(dataDir.resolve("ratelimit"), false)
            : new RuntimeConfig.Rls(rlsDir, true),
        d.audit(),
        d.geoip(),
        d.requestLimits(),
        dataDir,
        Duration.ZERO); // nothing balances load onto it: stop at once
  }

  /** Portcullis's own count of allow decisions (every allow is a gRPC OK / HTTP 200). */
  private static long allowed(Portcullis p) {
    double sum = 0;
    for (Counter c : p.meters().find(MetricNames.DECISIONS).tag("decision", "allow").counters()) {
      sum += c.count();
    }
    return (long) sum;
  }

  private ServerStats.Snapshot snapshot(long ok) {
    long gcCount = 0;
    long gcMillis = 0;
    for (GarbageCollectorMXBean gc : ManagementFactory.getGarbageCollectorMXBeans()) {
      gcCount += Math.max(0, gc.getCollectionCount());
      gcMillis += Math.max(0, gc.getCollectionTime());
    }
    MemoryUsage heap = ManagementFactory.getMemoryMXBean().getHeapMemoryUsage();
    long cpu =
        ((com.sun.management.OperatingSystemMXBean) ManagementFactory.getOperatingSystemMXBean())
            .getProcessCpuTime();
    return new ServerStats.Snapshot(
        System.nanoTime(),
        cpu,
        gcCount,
        gcMillis,
        heap.getUsed(),
        heap.getCommitted(),
        maxAfterGc.get(),
        ok,
        ((com.sun.management.ThreadMXBean) ManagementFactory.getThreadMXBean())
            .getTotalThreadAllocatedBytes(),
        ThreadGroupsCpu.self());
  }

  /** Tracks the largest heap occupancy right after any collection (G1 young, mixed or full). */
  private void watchGc() {
    for (GarbageCollectorMXBean gc : ManagementFactory.getGarbageCollectorMXBeans()) {
      if (gc instanceof NotificationEmitter emitter) {
        emitter.addNotificationListener(
            (n, h) -> {
              if (!GarbageCollectionNotificationInfo.GARBAGE_COLLECTION_NOTIFICATION.equals(
                  n.getType())) {
                return;
              }
              var info =
                  GarbageCollectionNotificationInfo.from((CompositeData) n.getUserData())
                      .getGcInfo();
              long used = 0;
              for (var e : info.getMemoryUsageAfterGc().entrySet()) {
                String pool = e.getKey();
                if (pool.contains("Eden")
                    || pool.contains("Survivor")
                    || pool.contains("Old")
                    || pool.contains("Humongous")) {
                  used += e.getValue().getUsed();
                }
              }
              long u = used;
              maxAfterGc.accumulateAndGet(u, Math::max);
            },
            null,
            null);
      }
    }
  }

  /** The floor: an ext_authz server that allows everything and does nothing else. */
  static final class EmptyAuthorization extends AuthorizationGrpc.AuthorizationImplBase {
    private static final CheckResponse OK =
        CheckResponse.newBuilder().setStatus(com.google.rpc.Status.newBuilder().setCode(0)).build();
    private final LongAdder ok;

    EmptyAuthorization(LongAdder ok) {
      this.ok = ok;
    }

    @Override
    public void check(CheckRequest request, StreamObserver<CheckResponse> responses) {
      ok.increment();
      responses.onNext(OK);
      responses.onCompleted();
    }
  }
}
