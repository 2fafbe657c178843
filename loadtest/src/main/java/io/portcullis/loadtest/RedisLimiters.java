package io.portcullis.loadtest;

import io.github.bucket4j.BucketConfiguration;
import io.github.bucket4j.distributed.BucketProxy;
import io.github.bucket4j.distributed.ExpirationAfterWriteStrategy;
import io.github.bucket4j.redis.redisson.Bucket4jRedisson;
import io.github.bucket4j.redis.redisson.cas.RedissonBasedProxyManager;
import io.portcullis.limit.LimitDefinition;
import io.portcullis.limit.LimitKey;
import io.portcullis.limit.LimitKind;
import io.portcullis.limit.LimitRequest;
import io.portcullis.limit.RedisSettings;
import io.portcullis.limit.redis.RedisGcraLimiter;
import io.portcullis.limit.redis.RedissonClients;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import org.redisson.Redisson;
import org.redisson.api.RRateLimiter;
import org.redisson.api.RateType;
import org.redisson.api.RedissonClient;

/**
 * The three Redis-backed limiters of the comparison, each on its own Redisson client built from the
 * same {@link RedisSettings} (Portcullis's own client configuration), all with the same limit (1000
 * per second, burst 1000, per key) over the same keys, so every request is admitted and the
 * comparison is of decision cost, not of refusals:
 *
 * <ul>
 *   <li>Portcullis {@link RedisGcraLimiter}: its GCRA script; decisions that arrive while a call is
 *       in flight share the next {@code EVALSHA} (at most two calls in flight), a lone decision is
 *       one call of its own.
 *   <li>Bucket4j 8.x {@code Bucket4jRedisson} (compare-and-swap proxy manager): a {@code GET} then
 *       a CAS script per decision.
 *   <li>Redisson {@link RRateLimiter}: its Lua script (sorted set of permits) per decision; the
 *       rate is set once per key before the run.
 * </ul>
 *
 * Every key carries a prefix unique to the run; every key has an expiry, and the prefixes are
 * deleted again when the comparison closes.
 */
final class RedisLimiters {
  static final long RATE = 1000;

  private RedisLimiters() {}

  static String[] keys(int n) {
    String[] k = new String[n];
    for (int i = 0; i < n; i++) {
      k[i] = "k" + i;
    }
    return k;
  }

  static RedisSettings settings(String address, String prefix) {
    return RedisSettings.builder().address(address).keyPrefix(prefix).build();
  }

  static LimiterTarget portcullis(String address, String runId, int concurrency, String[] keys) {
    String prefix = "pc-lt-" + runId;
    RedissonClient client = RedissonClients.create(settings(address, prefix));
    RedisGcraLimiter limiter = RedisGcraLimiter.builder(client).keyPrefix(prefix).build();
    LimitDefinition limit =
        new LimitDefinition(
            "per-key",
            "segment/loadtest",
            List.of(LimitKey.Attribute.CLIENT),
            new LimitKind.Rate(RATE, Duration.ofSeconds(1), RATE));
    return new LimiterTarget(
        "portcullis-gcra",
        concurrency,
        keys,
        key -> limiter.acquire(List.of(new LimitRequest(limit, key, 1)), true).admitted(),
        () -> cleanUp(client, prefix + ":*"));
  }

  static LimiterTarget bucket4j(String address, String runId, int concurrency, String[] keys) {
    String prefix = "b4j-lt-" + runId;
    RedissonClient client = RedissonClients.create(settings(address, "unused"));
    RedissonBasedProxyManager<String> proxies =
        Bucket4jRedisson.casBasedBuilder(((Redisson) client).getCommandExecutor())
            .expirationAfterWrite(
                ExpirationAfterWriteStrategy.basedOnTimeForRefillingBucketUpToMax(
                    Duration.ofSeconds(10)))
            .build();
    BucketConfiguration config =
        BucketConfiguration.builder()
            .addLimit(l -> l.capacity(RATE).refillGreedy(RATE, Duration.ofSeconds(1)))
            .build();
    java.util.Map<String, BucketProxy> buckets = new java.util.HashMap<>();
    for (String k : keys) {
      buckets.put(k, proxies.builder().build(prefix + ":" + k, () -> config));
    }
    return new LimiterTarget(
        "bucket4j-redisson",
        concurrency,
        keys,
        key -> buckets.get(key).tryConsume(1),
        () -> cleanUp(client, prefix + ":*"));
  }

  static LimiterTarget redisson(String address, String runId, int concurrency, String[] keys) {
    String prefix = "rrl-lt-" + runId;
    RedissonClient client = RedissonClients.create(settings(address, "unused"));
    java.util.Map<String, RRateLimiter> limiters = new java.util.HashMap<>();
    // Set each key's rate once, a few hundred calls in flight at a time, through a set-up client
    // with a generous timeout: on a busy machine 256 calls on a fresh client overran the 250 ms
    // of the measured configuration and aborted the comparison before it began. The rates live in
    // Redis, so the measured client (the common configuration) finds them.
    RedissonClient setUp =
        RedissonClients.create(
            RedisSettings.builder()
                .address(address)
                .keyPrefix("unused")
                .timeout(Duration.ofSeconds(10))
                .connectTimeout(Duration.ofSeconds(10))
                .build());
    try {
      List<CompletableFuture<Boolean>> batch = new ArrayList<>();
      for (String k : keys) {
        batch.add(
            setUp
                .getRateLimiter(prefix + ":" + k)
                .trySetRateAsync(
                    RateType.OVERALL, RATE, Duration.ofSeconds(1), Duration.ofMinutes(5))
                .toCompletableFuture());
        limiters.put(k, client.getRateLimiter(prefix + ":" + k));
        if (batch.size() == 256) {
          CompletableFuture.allOf(batch.toArray(new CompletableFuture[0])).join();
          batch.clear();
        }
      }
      CompletableFuture.allOf(batch.toArray(new CompletableFuture[0])).join();
    } catch (RuntimeException e) {
      cleanUp(client, prefix + "*", "{" + prefix + "*");
      throw e;
    } finally {
      setUp.shutdown();
    }
    return new LimiterTarget(
        "redisson-rratelimiter",
        concurrency,
        keys,
        key -> limiters.get(key).tryAcquire(),
        () -> cleanUp(client, prefix + "*", "{" + prefix + "*"));
  }

  /** Deletes this run's keys (Redisson's rate limiter also writes {@code {name}:value} keys). */
  private static void cleanUp(RedissonClient client, String... patterns) {
    try {
      for (String pattern : patterns) {
        client.getKeys().deleteByPattern(pattern);
      }
    } finally {
      client.shutdown();
    }
  }
}
