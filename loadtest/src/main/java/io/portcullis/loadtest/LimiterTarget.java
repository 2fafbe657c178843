package io.portcullis.loadtest;

import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.ThreadFactory;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * A rate limiter called in-process with its blocking API from a fixed pool of {@code concurrency}
 * platform threads: the same harness (schedule, threads, keys) for Portcullis's {@code
 * RedisGcraLimiter}, Bucket4j and Redisson's {@code RRateLimiter}. A request queued behind busy
 * threads is late, and the open-loop driver charges that wait to it.
 */
final class LimiterTarget implements Target {
  /** One limiter decision for bucket {@code key}; true when admitted. */
  interface Decide {
    boolean tryAcquire(String key) throws Exception;
  }

  private final String name;
  private final Decide decide;
  private final String[] keys;
  private final ExecutorService pool;
  private final AutoCloseable resources;

  LimiterTarget(
      String name, int concurrency, String[] keys, Decide decide, AutoCloseable resources) {
    this.name = name;
    this.decide = decide;
    this.keys = keys;
    this.resources = resources;
    AtomicInteger n = new AtomicInteger();
    ThreadFactory tf =
        r -> {
          Thread t = new Thread(r, name + "-" + n.incrementAndGet());
          t.setDaemon(true);
          return t;
        };
    this.pool = Executors.newFixedThreadPool(concurrency, tf);
  }

  String key(long seq) {
    return keys[(int) (seq % keys.length)];
  }

  /** Decides synchronously on the caller's thread (closed-loop runs). */
  boolean decideNow(long seq) throws Exception {
    return decide.tryAcquire(key(seq));
  }

  @Override
  public void send(long seq, Completion done) {
    String key = key(seq);
    pool.execute(
        () -> {
          try {
            done.complete(decide.tryAcquire(key) ? "admitted" : "refused", true);
          } catch (Exception e) {
            done.complete("error:" + e.getClass().getSimpleName(), false);
          }
        });
  }

  @Override
  public String name() {
    return name;
  }

  @Override
  public void close() throws Exception {
    pool.shutdownNow();
    resources.close();
  }
}
