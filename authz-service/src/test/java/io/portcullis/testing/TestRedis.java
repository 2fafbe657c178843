package io.portcullis.testing;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.fail;

import io.portcullis.limit.RedisSettings;
import io.portcullis.limit.redis.RedissonClients;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.URI;
import java.time.Duration;
import java.util.UUID;
import java.util.concurrent.TimeUnit;
import org.redisson.api.RedissonClient;

/**
 * The shared test Redis (PORTCULLIS_TEST_REDIS_URL, default {@code redis://127.0.0.1:6379}). Other
 * tests use it concurrently: every test works under its own random key prefix and never flushes.
 */
public final class TestRedis {
  private TestRedis() {}

  /** The server's URL. */
  public static String url() {
    String env = System.getenv("PORTCULLIS_TEST_REDIS_URL");
    return env == null || env.isBlank() ? "redis://127.0.0.1:6379" : env;
  }

  /** Fails the test with a clear message when the shared Redis is not reachable. */
  public static void requireReachable() {
    URI u = URI.create(url());
    try (Socket s = new Socket()) {
      s.connect(new InetSocketAddress(u.getHost(), u.getPort() < 0 ? 6379 : u.getPort()), 2000);
    } catch (IOException e) {
      fail(
          "Redis is not reachable at "
              + url()
              + " (start redis-server or set PORTCULLIS_TEST_REDIS_URL): "
              + e);
    }
  }

  /** A fresh key prefix, e.g. {@code pct-3f2a...}. */
  public static String randomPrefix() {
    return "pct-" + UUID.randomUUID().toString().substring(0, 12);
  }

  /** Settings for the shared server under a random prefix. */
  public static RedisSettings settings() {
    return RedisSettings.builder()
        .address(url())
        .keyPrefix(randomPrefix())
        .timeout(Duration.ofSeconds(2))
        .build();
  }

  /** A client for the shared server, after checking it is reachable. Shut it down after use. */
  public static RedissonClient client() {
    requireReachable();
    return RedissonClients.create(settings());
  }

  /** Deletes every key under {@code prefix} (never the whole database). */
  public static void deleteKeys(RedissonClient redis, String prefix) {
    redis.getKeys().deleteByPattern(prefix + ":*");
  }

  /**
   * Asserts that {@code key} was given an expiry of {@code setMillis} by a call made after {@code
   * calledNanos} ({@link System#nanoTime}): what is left is {@code setMillis} less at most the time
   * since then, however slow the machine is. A key without an expiry (-1) always fails; a key
   * already gone (-2) passes only once {@code setMillis} has elapsed.
   */
  public static void assertExpiry(
      RedissonClient redis, String key, long setMillis, long calledNanos) {
    long pttl = redis.getBucket(key).remainTimeToLive();
    long elapsed = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - calledNanos) + 1;
    if (pttl == -2 && elapsed >= setMillis) {
      return;
    }
    assertThat(pttl)
        .as("PTTL of %s, at most %d ms after it was set to %d ms", key, elapsed, setMillis)
        .isBetween(Math.max(0, setMillis - elapsed), setMillis);
  }
}
