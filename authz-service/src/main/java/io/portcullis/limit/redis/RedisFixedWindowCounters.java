package io.portcullis.limit.redis;

import io.portcullis.limit.LimitBackendException;
import io.portcullis.limit.rls.FixedWindowCounters;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.concurrent.ExecutionException;
import org.redisson.api.BatchOptions;
import org.redisson.api.RAtomicLongAsync;
import org.redisson.api.RBatch;
import org.redisson.api.RFuture;
import org.redisson.api.RedissonClient;

/**
 * The Envoy rate limit service's fixed-window counters in Redis, as envoyproxy/ratelimit keeps
 * them: per descriptor {@code INCRBY key hits} and {@code PEXPIRE key <window length>}, all
 * descriptors of one request in one pipelined batch (one round trip; in a cluster, Redisson splits
 * the batch by slot). Descriptors are counted independently, so no multi-key atomicity (and no hash
 * tag) is needed. Keys are {@code <prefix>:rls:<domain>_<key>_<value>_..._<window start>}.
 *
 * <p>Thread-safe. Throws {@link LimitBackendException} when Redis fails or times out; use it behind
 * {@link io.portcullis.limit.rls.FailoverFixedWindowCounters}.
 */
public final class RedisFixedWindowCounters implements FixedWindowCounters {
  private final RedissonClient redis;
  private final String keyPrefix;

  /**
   * @param redis the client (owned by the caller)
   * @param keyPrefix first part of every key
   */
  public RedisFixedWindowCounters(RedissonClient redis, String keyPrefix) {
    this.redis = Objects.requireNonNull(redis, "redis");
    this.keyPrefix = Objects.requireNonNull(keyPrefix, "keyPrefix");
  }

  @Override
  public Totals add(List<Hit> hits) {
    RBatch batch = redis.createBatch(BatchOptions.defaults());
    List<RFuture<Long>> values = new ArrayList<>(hits.size());
    for (Hit h : hits) {
      RAtomicLongAsync counter = batch.getAtomicLong(key(h.key()));
      values.add(counter.addAndGetAsync(h.amount()));
      counter.expireAsync(h.ttl());
    }
    try {
      batch.execute();
      long[] out = new long[hits.size()];
      for (int i = 0; i < out.length; i++) {
        out[i] = values.get(i).get();
      }
      return new Totals(out, null);
    } catch (RuntimeException | ExecutionException e) {
      throw new LimitBackendException("redis rate limit counters failed: " + e.getMessage(), e);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new LimitBackendException("interrupted while counting", e);
    }
  }

  String key(String counter) {
    return keyPrefix + ":rls:" + counter;
  }
}
