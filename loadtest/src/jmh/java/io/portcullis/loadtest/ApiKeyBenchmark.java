package io.portcullis.loadtest;

import io.micrometer.prometheusmetrics.PrometheusConfig;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import io.portcullis.decision.Decision;
import io.portcullis.decision.DecisionPipeline;
import io.portcullis.identity.JwtVerifiers;
import io.portcullis.identity.SharedIdentityServices;
import io.portcullis.identity.Verification;
import io.portcullis.keys.IssuedKey;
import io.portcullis.keys.KeyChange;
import io.portcullis.keys.KeyFormat;
import io.portcullis.keys.KeyHash;
import io.portcullis.keys.KeyLifecycle;
import io.portcullis.keys.KeyRequest;
import io.portcullis.keys.KeyResult;
import io.portcullis.keys.KeyStore;
import io.portcullis.keys.StoredKey;
import io.portcullis.keys.StoredKeyVerifier;
import io.portcullis.metrics.DecisionMetrics;
import io.portcullis.policy.LoadResult;
import io.portcullis.policy.Policy;
import io.portcullis.policy.PolicyLoader;
import io.portcullis.request.RequestAttributes;
import io.portcullis.store.Database;
import io.portcullis.store.StoreSettings;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.SecureRandom;
import java.time.Duration;
import java.time.Instant;
import java.time.InstantSource;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import org.jspecify.annotations.Nullable;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Threads;
import org.openjdk.jmh.annotations.Warmup;

/**
 * API keys on the hot path, against a real SQLite key store:
 *
 * <ul>
 *   <li>{@code cachedKey_decision}: a whole decision for a request carrying a cached API key
 *       ({@code x-api-key}) — parse, positive cache, SHA-256 and constant-time compare, segment,
 *       rule, metrics (goal: median ≤ 3 µs, Authorino's figure for API key authentication);
 *   <li>{@code cachedKey_verify}: the key verification alone;
 *   <li>{@code unknownKeys_flood}: each call presents the next of {@value #UNKNOWN_KEYS} distinct
 *       well-formed keys the store does not have, round after round. The store is wrapped in a
 *       counter of lookups; at the end of the trial the count must be at most one per distinct key
 *       per negative-cache TTL (the trial fails otherwise), and it is printed.
 * </ul>
 *
 * <p>Run: {@code ./mvnw -Pbench -DskipTests package && java -jar loadtest/target/benchmarks.jar
 * ApiKeyBenchmark}
 */
@State(Scope.Benchmark)
@BenchmarkMode({Mode.SampleTime})
@OutputTimeUnit(TimeUnit.MICROSECONDS)
@Warmup(iterations = 3, time = 2)
@Measurement(iterations = 5, time = 2)
@Fork(
    value = 1,
    jvmArgsAppend = {"--enable-native-access=ALL-UNNAMED"})
@Threads(1)
public class ApiKeyBenchmark {
  static final int UNKNOWN_KEYS = 100_000;
  static final Duration NEGATIVE_TTL = Duration.ofSeconds(60);

  Path dir;
  Database db;
  CountingStore store;
  StoredKeyVerifier verifier;
  JwtVerifiers jwt;
  DecisionPipeline pipeline;
  RequestAttributes withKey;
  String key;
  String[] unknown;
  int next;
  long started;

  @Setup(Level.Trial)
  public void setUp() throws Exception {
    dir = Files.createTempDirectory("portcullis-keys-bench");
    db = Database.open(StoreSettings.of("jdbc:sqlite:" + dir.resolve("keys.db")));
    store = new CountingStore(KeyStore.of(db));
    KeyResult<IssuedKey> issued =
        new KeyLifecycle(store, InstantSource.system())
            .issue(
                KeyRequest.builder("acme")
                    .clientType("partner")
                    .roles(List.of("orders.read"))
                    .expiresIn("90d")
                    .build());
    key = ((KeyResult.Ok<IssuedKey>) issued).value().key().reveal();

    PrometheusMeterRegistry meters = new PrometheusMeterRegistry(PrometheusConfig.DEFAULT);
    verifier =
        StoredKeyVerifier.builder(store, meters)
            .unknownCacheSize(UNKNOWN_KEYS)
            .unknownTtl(NEGATIVE_TTL)
            .build()
            .start();
    jwt = JwtVerifiers.create(meters);
    Path policyFile =
        Files.writeString(
            dir.resolve("policy.yaml"),
            """
            version: 1
            identity:
              api_keys: { headers: [x-api-key] }
            segments:
              - name: partners
                match: { credential: [api_key], client_type: [partner] }
                rules:
                  - name: read-orders
                    methods: [GET]
                    paths: ["/v1/orders", "/v1/orders/*"]
                    roles_any: [orders.read]
            """);
    PolicyLoader loader =
        PolicyLoader.create(
            SharedIdentityServices.builder(jwt).apiKeys(verifier).build(),
            InstantSource.system(),
            k -> null);
    Policy policy =
        switch (loader.load(policyFile)) {
          case LoadResult.Loaded l -> l.policy();
          case LoadResult.Invalid i -> throw new IllegalStateException(i.errors().toString());
        };
    pipeline =
        DecisionPipeline.builder()
            .policy(() -> policy)
            .metrics(new DecisionMetrics(meters))
            .build();
    withKey =
        RequestAttributes.builder()
            .method("GET")
            .path("/v1/orders/42")
            .host("api.example.com")
            .scheme("https")
            .sourceIp("203.0.113.7")
            .header("x-api-key", key)
            .header("user-agent", "bench/1.0")
            .header("accept", "application/json")
            .requestId("bench-request-1")
            .build();
    if (!(pipeline.decide(withKey) instanceof Decision.Allow)) {
      throw new IllegalStateException("benchmark request not allowed: " + pipeline.decide(withKey));
    }

    SecureRandom random = new SecureRandom();
    unknown = new String[UNKNOWN_KEYS];
    for (int i = 0; i < UNKNOWN_KEYS; i++) {
      unknown[i] = KeyFormat.generate(random);
    }
    store.finds.set(0);
    started = System.nanoTime();
  }

  @TearDown(Level.Trial)
  public void tearDown() throws Exception {
    Duration elapsed = Duration.ofNanos(System.nanoTime() - started);
    long distinct = Math.min(next, UNKNOWN_KEYS);
    long ttls = 1 + elapsed.toNanos() / NEGATIVE_TTL.toNanos();
    long finds = store.finds.get();
    System.out.printf(
        "%nkey store lookups: %d for %d distinct unknown keys presented %d times over %d s"
            + " (negative-cache TTL %d s, so at most %d allowed)%n",
        finds, distinct, next, elapsed.toSeconds(), NEGATIVE_TTL.toSeconds(), distinct * ttls + 1);
    verifier.close();
    jwt.close();
    db.close();
    if (finds > distinct * ttls + 1) { // + 1: the cached key's own first lookup
      throw new IllegalStateException(
          finds
              + " store lookups for "
              + distinct
              + " distinct unknown keys: the negative cache"
              + " does not hold");
    }
  }

  /** A whole decision for a request with a cached API key. */
  @Benchmark
  public Decision cachedKey_decision() {
    return pipeline.decide(withKey);
  }

  /** The key verification alone (parse, cache, SHA-256, compare). */
  @Benchmark
  public Verification cachedKey_verify() {
    return verifier.verify(key);
  }

  /** The next of 100,000 distinct unknown well-formed keys, round after round. */
  @Benchmark
  public Verification unknownKeys_flood() {
    String presented = unknown[next % UNKNOWN_KEYS];
    next++;
    return verifier.verify(presented);
  }

  /** The real store, counting lookups by id (the only query on the verification path). */
  static final class CountingStore implements KeyStore {
    final KeyStore delegate;
    final AtomicLong finds = new AtomicLong();

    CountingStore(KeyStore delegate) {
      this.delegate = delegate;
    }

    @Override
    public boolean insert(StoredKey k) {
      return delegate.insert(k);
    }

    @Override
    public @Nullable StoredKey find(String id) {
      finds.incrementAndGet();
      return delegate.find(id);
    }

    @Override
    public List<StoredKey> list(@Nullable String client) {
      return delegate.list(client);
    }

    @Override
    public @Nullable StoredKey rotate(
        String id, KeyHash newSecret, Instant now, Instant previousValidUntil) {
      return delegate.rotate(id, newSecret, now, previousValidUntil);
    }

    @Override
    public @Nullable StoredKey revoke(String id, Instant at) {
      return delegate.revoke(id, at);
    }

    @Override
    public void recordUses(Map<String, Instant> lastUses) {
      delegate.recordUses(lastUses);
    }

    @Override
    public List<KeyChange> changesAfter(long after, int limit) {
      return delegate.changesAfter(after, limit);
    }

    @Override
    public long latestChange() {
      return delegate.latestChange();
    }
  }
}
