package io.portcullis.limit.redis;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import io.portcullis.limit.LimitBackendException;
import io.portcullis.limit.RedisSettings;
import io.portcullis.limit.rls.FixedWindowCounters.Hit;
import io.portcullis.limit.rls.FixedWindowCounters.Totals;
import io.portcullis.testing.RedisServerProcess;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.redisson.api.RedissonClient;

/**
 * Concurrent Envoy RLS requests share pipelines ({@link RedisFixedWindowCounters}) and each still
 * gets exactly its own counters' values. Runs its own redis-server, so that it can be paused and
 * its counts are this test's alone.
 */
class RedisFixedWindowCountersIT {
  private static final int CALLERS = 32;
  private static final Duration TTL = Duration.ofMinutes(1);

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
    // the client connects lazily: connect now, not inside a paused server or a short timeout
    client.getBucket("w:warm-up").get();
  }

  @AfterEach
  void stop() {
    pool.shutdownNow();
    client.shutdown();
    server.close();
  }

  @Test
  void manyCallers_everyHitCountedOnce_eachRequestGetsItsOwnTotals_inFewerPipelines()
      throws Exception {
    RedisFixedWindowCounters counters = new RedisFixedWindowCounters(client, "w");
    int perCaller = 300;
    Set<Long> sharedTotals = ConcurrentHashMap.newKeySet();
    AtomicInteger wrong = new AtomicInteger();
    CountDownLatch go = new CountDownLatch(1);
    List<Future<?>> done = new ArrayList<>();
    for (int c = 0; c < CALLERS; c++) {
      String own = "edge_caller_" + c + "_0";
      done.add(
          pool.submit(
              () -> {
                go.await();
                for (int i = 1; i <= perCaller; i++) {
                  Totals t =
                      counters.add(List.of(new Hit("edge_shared_0", 1, TTL), new Hit(own, 2, TTL)));
                  if (!sharedTotals.add(t.values()[0]) || t.values()[1] != 2L * i) {
                    wrong.incrementAndGet();
                  }
                }
                return null;
              }));
    }
    go.countDown();
    for (Future<?> f : done) {
      f.get(60, TimeUnit.SECONDS);
    }

    int requests = CALLERS * perCaller;
    assertThat(wrong).as("a value seen twice, or another request's value").hasValue(0);
    assertThat(sharedTotals).hasSize(requests).allMatch(v -> v >= 1 && v <= requests);
    assertThat(server.command("GET", "w:rls:edge_shared_0")).isEqualTo(Integer.toString(requests));
    assertThat(server.command("GET", "w:rls:edge_caller_7_0"))
        .isEqualTo(Integer.toString(2 * perCaller));
    long ttl = Long.parseLong(server.command("PTTL", "w:rls:edge_shared_0"));
    assertThat(ttl).isPositive().isLessThanOrEqualTo(TTL.toMillis());
    assertThat(server.calls("incrby")).isEqualTo(2L * requests);
    assertThat(counters.pipelines()).as("pipelines for %d requests", requests).isLessThan(requests);
  }

  @Test
  void loneRequests_goOutAtOnce_onePipelineEach() {
    RedisFixedWindowCounters counters = new RedisFixedWindowCounters(client, "w");
    for (int i = 1; i <= 50; i++) {
      assertThat(counters.add(List.of(new Hit("edge_lone_0", 1, TTL))).values()).containsExactly(i);
    }
    assertThat(counters.pipelines()).isEqualTo(50);
  }

  @Test
  void redisPausedPastTheTimeout_everyCallerFails_andQueuedRequestsAreNeverSent() throws Exception {
    RedisFixedWindowCounters counters =
        new RedisFixedWindowCounters(client, "w", 1, 128, Duration.ofMillis(300), null);
    List<Hit> hit = List.of(new Hit("edge_paused_0", 1, TTL));
    assertThat(counters.add(hit).values()).containsExactly(1);
    // Redis takes the next pipeline but does not answer; the others queue behind it
    assertThat(server.command("CLIENT", "PAUSE", "30000", "WRITE")).isEqualTo("+OK");
    List<Future<?>> calls = new ArrayList<>();
    for (int c = 0; c < 10; c++) {
      calls.add(pool.submit(() -> counters.add(hit)));
    }
    for (Future<?> f : calls) {
      assertThatThrownBy(() -> f.get(10, TimeUnit.SECONDS))
          .cause()
          .isInstanceOf(LimitBackendException.class)
          .hasMessageStartingWith("redis rate limit counters timed out after PT0.3S");
    }
    assertThat(counters.pipelines()).isEqualTo(2);
    assertThat(server.command("CLIENT", "UNPAUSE")).isEqualTo("+OK");

    // the pipeline in flight lands after the pause; the nine queued behind it were given up
    // by their callers and are dropped, not counted
    await()
        .atMost(Duration.ofSeconds(10))
        .until(() -> server.command("GET", "w:rls:edge_paused_0").equals("2"));
    assertThat(counters.add(hit).values()).containsExactly(3);
    assertThat(counters.pipelines()).isEqualTo(3);
  }

  @Test
  void aCounterOfAnotherType_failsAlone_theRequestsSharingItsPipelineAreCounted() throws Exception {
    RedisFixedWindowCounters counters =
        new RedisFixedWindowCounters(client, "w", 1, 128, Duration.ofSeconds(20), null);
    assertThat(server.command("HSET", "w:rls:edge_hash_0", "f", "v")).isEqualTo("1");
    // hold the one pipeline slot so that the next three requests queue and share a pipeline
    assertThat(server.command("CLIENT", "PAUSE", "30000", "WRITE")).isEqualTo("+OK");
    Future<Totals> first = pool.submit(() -> counters.add(List.of(new Hit("edge_a_0", 1, TTL))));
    await().atMost(Duration.ofSeconds(10)).until(() -> counters.pipelines() == 1);
    Future<Totals> bad =
        pool.submit(
            () ->
                counters.add(List.of(new Hit("edge_b_0", 1, TTL), new Hit("edge_hash_0", 1, TTL))));
    Future<Totals> good1 = pool.submit(() -> counters.add(List.of(new Hit("edge_a_0", 1, TTL))));
    Future<Totals> good2 = pool.submit(() -> counters.add(List.of(new Hit("edge_c_0", 5, TTL))));
    await().atMost(Duration.ofSeconds(10)).until(() -> counters.queued() == 3);
    assertThat(server.command("CLIENT", "UNPAUSE")).isEqualTo("+OK");

    assertThat(first.get(10, TimeUnit.SECONDS).values()).containsExactly(1);
    assertThatThrownBy(() -> bad.get(10, TimeUnit.SECONDS))
        .cause()
        .isInstanceOf(LimitBackendException.class)
        .hasMessageContaining("WRONGTYPE");
    assertThat(good1.get(10, TimeUnit.SECONDS).values()).containsExactly(2);
    assertThat(good2.get(10, TimeUnit.SECONDS).values()).containsExactly(5);
    assertThat(counters.pipelines()).as("the first alone, then the three together").isEqualTo(2);
  }
}
