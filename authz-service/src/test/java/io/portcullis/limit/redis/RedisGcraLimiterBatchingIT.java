package io.portcullis.limit.redis;

import static org.assertj.core.api.Assertions.assertThat;

import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import io.portcullis.limit.BackendCircuit;
import io.portcullis.limit.BackendFailurePolicy;
import io.portcullis.limit.FailoverRateLimiter;
import io.portcullis.limit.InMemoryGcraLimiter;
import io.portcullis.limit.LimitBackendException;
import io.portcullis.limit.LimitDefinition;
import io.portcullis.limit.LimitKey;
import io.portcullis.limit.LimitKind;
import io.portcullis.limit.LimitOutcome;
import io.portcullis.limit.LimitRequest;
import io.portcullis.limit.QuotaWindow;
import io.portcullis.limit.RateLimiter;
import io.portcullis.limit.RedisSettings;
import io.portcullis.metrics.MetricNames;
import io.portcullis.testing.LimitBackendMeters;
import io.portcullis.testing.RedisServerProcess;
import java.time.Duration;
import java.time.InstantSource;
import java.time.ZoneOffset;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.redisson.api.RedissonClient;
import org.redisson.client.codec.StringCodec;

/**
 * Concurrent decisions share script calls ({@link GcraBatcher}) without changing what is decided.
 * Runs its own redis-server, so that {@code INFO commandstats} counts this test's calls alone and
 * the server can be paused and killed.
 */
class RedisGcraLimiterBatchingIT {
  private static final int CALLERS = 32;

  private RedisServerProcess server;
  private RedissonClient client;
  private ExecutorService pool;

  @BeforeEach
  void start() throws Exception {
    server = RedisServerProcess.start();
    client =
        RedissonClients.create(
            RedisSettings.builder().address(server.url()).timeout(Duration.ofSeconds(2)).build());
    pool = Executors.newFixedThreadPool(CALLERS);
  }

  @AfterEach
  void stop() {
    pool.shutdownNow();
    client.shutdown();
    server.close();
  }

  private static LimitDefinition limit(String name, LimitKind kind) {
    return new LimitDefinition(name, "segment/batch", List.of(LimitKey.Attribute.CLIENT), kind);
  }

  /** A limit that does not refill during the test: {@code burst} per day. */
  private static LimitDefinition daily(String name, long burst) {
    return limit(name, new LimitKind.Rate(burst, Duration.ofDays(1), burst));
  }

  /** {@link #CALLERS} callers make {@code total} calls of {@code call} between them. */
  private void callConcurrently(int total, Runnable call) throws Exception {
    AtomicInteger calls = new AtomicInteger();
    CountDownLatch go = new CountDownLatch(1);
    List<Future<?>> done = new ArrayList<>();
    for (int c = 0; c < CALLERS; c++) {
      done.add(
          pool.submit(
              () -> {
                go.await();
                while (calls.incrementAndGet() <= total) {
                  call.run();
                }
                return null;
              }));
    }
    go.countDown();
    for (Future<?> f : done) {
      f.get(60, TimeUnit.SECONDS);
    }
  }

  @Test
  void manyCallersOnOneKey_admitExactlyTheBurst_inFewerCallsThanDecisions() throws Exception {
    RateLimiter limiter = RedisGcraLimiter.builder(client).keyPrefix("b").callsInFlight(1).build();
    List<LimitRequest> request = List.of(new LimitRequest(daily("one-key", 500), "acme", 1));
    AtomicInteger admitted = new AtomicInteger();
    long before = server.calls("evalsha");

    callConcurrently(
        3000,
        () -> {
          if (limiter.acquire(request, true).admitted()) {
            admitted.incrementAndGet();
          }
        });

    assertThat(admitted).as("no over- or under-admission").hasValue(500);
    assertThat(limiter.usage(request.get(0).limit(), "acme").used()).isEqualTo(500);
    long calls = server.calls("evalsha") - before;
    assertThat(calls).as("script calls for 3000 decisions").isLessThan(3000);
  }

  @Test
  void mixedKeysAndLimitsInOneBatch_eachBucketAdmitsExactlyItsBudget() throws Exception {
    RateLimiter limiter = RedisGcraLimiter.builder(client).keyPrefix("b").callsInFlight(1).build();
    LimitDefinition perClient = daily("per-client", 40);
    LimitDefinition quota =
        limit("quota", new LimitKind.Quota(100, QuotaWindow.DAY, ZoneOffset.UTC));
    String[] keys = {"a", "b", "c", "d", "e"};
    Map<String, AtomicInteger> admitted = new ConcurrentHashMap<>();
    AtomicLong seq = new AtomicLong();
    long before = server.calls("evalsha");

    callConcurrently(
        2000,
        () -> {
          long i = seq.getAndIncrement();
          String key = keys[(int) (i % keys.length)];
          // every third decision also takes from the shared quota: all-or-nothing per request
          List<LimitRequest> r =
              i % 3 == 0
                  ? List.of(new LimitRequest(perClient, key, 1), new LimitRequest(quota, "all", 1))
                  : List.of(new LimitRequest(perClient, key, 1));
          if (limiter.acquire(r, true).admitted()) {
            admitted.computeIfAbsent(key, k -> new AtomicInteger()).incrementAndGet();
          }
        });

    for (String key : keys) {
      assertThat(admitted.get(key)).as(key).hasValue(40);
      assertThat(limiter.usage(perClient, key).used()).as(key).isEqualTo(40);
    }
    long quotaUsed = limiter.usage(quota, "all").used();
    assertThat(quotaUsed).isPositive().isLessThanOrEqualTo(100);
    assertThat(server.calls("evalsha") - before).isLessThan(2000);
  }

  @Test
  void requestOnAKeyOfAnotherType_failsAlone_theBatchesAroundItAreDecided() throws Exception {
    RateLimiter limiter = RedisGcraLimiter.builder(client).keyPrefix("b").callsInFlight(1).build();
    LimitDefinition broken = daily("broken", 1000);
    client
        .getList(RedisGcraLimiter.rateKey("b", broken, "acme"), StringCodec.INSTANCE)
        .add("not a bucket");
    LimitDefinition perClient = daily("per-client", 300);
    LimitDefinition quota =
        limit("quota", new LimitKind.Quota(1000, QuotaWindow.DAY, ZoneOffset.UTC));
    AtomicLong seq = new AtomicLong();
    AtomicInteger failed = new AtomicInteger();
    AtomicInteger admitted = new AtomicInteger();
    long before = server.calls("evalsha");

    callConcurrently(
        1000,
        () -> {
          if (seq.getAndIncrement() % 10 == 0) {
            try {
              limiter.acquire(List.of(new LimitRequest(broken, "acme", 1)), true);
            } catch (LimitBackendException e) {
              assertThat(e).hasMessageContaining("WRONGTYPE");
              failed.incrementAndGet();
            }
          } else if (limiter
              .acquire(
                  List.of(
                      new LimitRequest(perClient, "acme", 1), new LimitRequest(quota, "all", 1)),
                  true)
              .admitted()) {
            admitted.incrementAndGet();
          }
        });

    assertThat(failed).as("every request on the broken key, and only those").hasValue(100);
    assertThat(admitted).as("the rate's burst exactly").hasValue(300);
    assertThat(limiter.usage(quota, "all").used())
        .as("refused requests took nothing from the quota")
        .isEqualTo(300);
    assertThat(server.calls("evalsha") - before).as("batched").isLessThan(1000);
  }

  @Test
  void scriptFlushed_isLoadedAgain_andEveryDecisionIsStillMade() throws Exception {
    RateLimiter limiter = RedisGcraLimiter.builder(client).keyPrefix("b").build();
    List<LimitRequest> request = List.of(new LimitRequest(daily("flushed", 100), "acme", 1));
    assertThat(limiter.acquire(request, true).admitted()).isTrue();
    assertThat(server.command("SCRIPT", "FLUSH")).isEqualTo("+OK");
    AtomicInteger admitted = new AtomicInteger();

    callConcurrently(
        300,
        () -> {
          if (limiter.acquire(request, true).admitted()) {
            admitted.incrementAndGet();
          }
        });

    assertThat(admitted).as("the other 99 of the burst").hasValue(99);
  }

  @Test
  void loneCalls_goOutAtOnce_oneScriptCallEach() throws Exception {
    RateLimiter limiter = RedisGcraLimiter.builder(client).keyPrefix("b").callsInFlight(1).build();
    List<LimitRequest> request = List.of(new LimitRequest(daily("lone", 1000), "acme", 1));
    limiter.acquire(request, true); // connect and load the script
    long before = server.calls("evalsha");
    long[] nanos = new long[200];

    for (int i = 0; i < nanos.length; i++) {
      long t = System.nanoTime();
      assertThat(limiter.acquire(request, true).admitted()).isTrue();
      nanos[i] = System.nanoTime() - t;
    }

    assertThat(server.calls("evalsha") - before).isEqualTo(200);
    java.util.Arrays.sort(nanos);
    // a timer that held calls back to fill batches would show in the median; a round trip on
    // loopback is well under a millisecond even on a busy machine
    assertThat(Duration.ofNanos(nanos[nanos.length / 2])).isLessThan(Duration.ofMillis(5));
  }

  @Test
  void redisDiesWithCallsInFlightAndQueued_everyWaiterFailsOver() throws Exception {
    SimpleMeterRegistry registry = new SimpleMeterRegistry();
    InstantSource clock = InstantSource.system();
    BackendCircuit circuit =
        new BackendCircuit(clock, Duration.ofMinutes(1), BackendFailurePolicy.LOCAL, registry);
    RateLimiter limiter =
        new FailoverRateLimiter(
            RedisGcraLimiter.builder(client)
                .keyPrefix("b")
                .callsInFlight(1)
                .timeout(Duration.ofSeconds(20))
                .build(),
            InMemoryGcraLimiter.builder().clock(clock).build(),
            BackendFailurePolicy.LOCAL,
            circuit,
            clock);
    List<LimitRequest> request = List.of(new LimitRequest(daily("dies", 10), "acme", 1));
    assertThat(limiter.acquire(request, true).degraded()).isNull();
    // Redis takes the calls but answers none: the first caller's call stays in flight, the
    // others queue behind it
    assertThat(server.command("CLIENT", "PAUSE", "30000", "ALL")).isEqualTo("+OK");
    CountDownLatch calling = new CountDownLatch(CALLERS);
    List<Future<LimitOutcome>> outcomes = new ArrayList<>();
    for (int c = 0; c < CALLERS; c++) {
      outcomes.add(
          pool.submit(
              () -> {
                calling.countDown();
                return limiter.acquire(request, true);
              }));
    }
    assertThat(calling.await(10, TimeUnit.SECONDS)).isTrue();

    server.stop();

    List<LimitOutcome> results = new ArrayList<>();
    for (Future<LimitOutcome> f : outcomes) {
      results.add(f.get(30, TimeUnit.SECONDS));
    }
    assertThat(results)
        .extracting(LimitOutcome::degraded)
        .containsOnly(BackendFailurePolicy.LOCAL.degradedLabel());
    // the local fallback enforces the same limit: 10 of the 32 admitted
    assertThat(results.stream().filter(LimitOutcome::admitted).count()).isEqualTo(10);
    assertThat(registry.get(MetricNames.RATELIMIT_BACKEND_ERRORS).counter().count())
        .as("every caller's call failed with Redis")
        .isEqualTo(CALLERS);
    assertThat(new LimitBackendMeters(registry).degraded("limits")).isEqualTo(CALLERS);
  }
}
