package io.portcullis.limit.redis;

import static org.assertj.core.api.Assertions.assertThat;

import io.portcullis.limit.LimitDefinition;
import io.portcullis.limit.LimitKey;
import io.portcullis.limit.LimitKind;
import io.portcullis.limit.LimitOutcome;
import io.portcullis.limit.LimitRequest;
import io.portcullis.limit.QuotaWindow;
import io.portcullis.limit.RateLimiter;
import io.portcullis.testing.TestRedis;
import java.time.Duration;
import java.time.ZoneOffset;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ConcurrentLinkedQueue;
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
 * Three limiter instances (three Redisson clients, three {@link RedisGcraLimiter}s) share one real
 * Redis, with 16 concurrent callers spread over them, as three service replicas would.
 */
class RateLimitAccuracyIT {
  private static final int CALLERS = 16;

  private final List<RedissonClient> clients = new ArrayList<>();
  private final List<RateLimiter> instances = new ArrayList<>();
  private String prefix;

  @BeforeEach
  void start() {
    prefix = TestRedis.randomPrefix();
    for (int i = 0; i < 3; i++) {
      RedissonClient c = TestRedis.client();
      clients.add(c);
      instances.add(RedisGcraLimiter.builder(c).keyPrefix(prefix).build());
    }
  }

  @AfterEach
  void stop() {
    TestRedis.deleteKeys(clients.get(0), prefix);
    clients.forEach(RedissonClient::shutdown);
  }

  private static LimitDefinition limit(String name, LimitKind kind) {
    return new LimitDefinition(name, "segment/accuracy", List.of(LimitKey.Attribute.CLIENT), kind);
  }

  @Test
  void thousandPerTenSeconds_acrossThreeInstances_admitsWithinOnePercentPerWindow()
      throws Exception {
    LimitDefinition l = limit("rate", new LimitKind.Rate(1000, Duration.ofSeconds(10), 1000));
    List<LimitRequest> request = List.of(new LimitRequest(l, "acme", 1));
    ConcurrentLinkedQueue<Long> admittedAt = new ConcurrentLinkedQueue<>();
    for (RateLimiter instance : instances) { // connect and load the script before timing
      instance.acquire(List.of(new LimitRequest(l, "warm-up", 1)), true);
    }

    run(
        Duration.ofMillis(11_500),
        instance -> {
          if (instance.acquire(request, true).admitted()) {
            admittedAt.add(System.nanoTime());
          }
        });

    long first = admittedAt.stream().mapToLong(Long::longValue).min().orElseThrow();
    long second = TimeUnit.SECONDS.toNanos(1);
    long burstSecond = admittedAt.stream().filter(t -> t < first + second).count();
    long steadyWindow =
        admittedAt.stream().filter(t -> t >= first + second && t < first + 11 * second).count();
    // the first second: the full burst of 1000 plus one second of refill at 100/s
    assertThat(burstSecond).isBetween(1090L, 1110L);
    // after that, a 10-second window admits the rate: 1000 per 10 s
    assertThat(steadyWindow).isBetween(990L, 1010L);
  }

  @Test
  void dailyQuotaOfThousand_acrossThreeInstances_admitsExactlyAThousand() throws Exception {
    LimitDefinition q = limit("quota", new LimitKind.Quota(1000, QuotaWindow.DAY, ZoneOffset.UTC));
    List<LimitRequest> request = List.of(new LimitRequest(q, "acme", 1));
    AtomicInteger admitted = new AtomicInteger();
    AtomicInteger calls = new AtomicInteger();

    runCalls(
        3000,
        calls,
        instance -> {
          if (instance.acquire(request, true).admitted()) {
            admitted.incrementAndGet();
          }
        });

    assertThat(admitted).hasValue(1000);
    assertThat(instances.get(2).usage(q, "acme").used()).isEqualTo(1000);
  }

  @Test
  void requestRefusedByOneLimit_onOneInstance_consumesNothingSeenByTheOthers() {
    LimitDefinition tight = limit("tight", new LimitKind.Rate(1, Duration.ofHours(1), 1));
    LimitDefinition loose = limit("loose", new LimitKind.Rate(1, Duration.ofHours(1), 100));
    LimitDefinition daily =
        limit("daily", new LimitKind.Quota(50, QuotaWindow.DAY, ZoneOffset.UTC));
    assertThat(
            instances.get(0).acquire(List.of(new LimitRequest(tight, "acme", 1)), true).admitted())
        .isTrue();

    LimitOutcome refused =
        instances
            .get(1)
            .acquire(
                List.of(
                    new LimitRequest(loose, "acme", 1),
                    new LimitRequest(daily, "acme", 1),
                    new LimitRequest(tight, "acme", 1)),
                true);

    assertThat(refused.admitted()).isFalse();
    assertThat(refused.exceeded()).isEqualTo(tight);
    assertThat(instances.get(2).usage(loose, "acme").used()).isZero();
    assertThat(instances.get(2).usage(daily, "acme").used()).isZero();
    assertThat(instances.get(2).usage(tight, "acme").used()).isEqualTo(1);
  }

  /** One call of a caller against its instance. */
  private interface Call {
    void on(RateLimiter instance) throws Exception;
  }

  /**
   * {@link #CALLERS} callers (caller i on instance i mod 3) call as fast as they can for {@code d}.
   */
  private void run(Duration d, Call call) throws Exception {
    ExecutorService pool = Executors.newFixedThreadPool(CALLERS);
    long[] start = new long[1];
    try {
      CountDownLatch go = new CountDownLatch(1);
      List<Future<?>> done = new ArrayList<>();
      for (int c = 0; c < CALLERS; c++) {
        RateLimiter instance = instances.get(c % 3);
        done.add(
            pool.submit(
                () -> {
                  go.await();
                  long end = start[0] + d.toNanos();
                  while (System.nanoTime() < end) {
                    call.on(instance);
                  }
                  return null;
                }));
      }
      start[0] = System.nanoTime();
      go.countDown();
      for (Future<?> f : done) {
        f.get(d.toSeconds() + 30, TimeUnit.SECONDS);
      }
    } finally {
      pool.shutdownNow();
    }
  }

  /** {@link #CALLERS} callers make {@code total} calls between them. */
  private void runCalls(int total, AtomicInteger calls, Call call) throws Exception {
    ExecutorService pool = Executors.newFixedThreadPool(CALLERS);
    try {
      CountDownLatch go = new CountDownLatch(1);
      List<Future<?>> done = new ArrayList<>();
      for (int c = 0; c < CALLERS; c++) {
        RateLimiter instance = instances.get(c % 3);
        done.add(
            pool.submit(
                () -> {
                  go.await();
                  while (calls.incrementAndGet() <= total) {
                    call.on(instance);
                  }
                  return null;
                }));
      }
      go.countDown();
      for (Future<?> f : done) {
        f.get(60, TimeUnit.SECONDS);
      }
    } finally {
      pool.shutdownNow();
    }
  }
}
