package io.portcullis.identity;

import com.github.benmanes.caffeine.cache.Cache;
import com.github.benmanes.caffeine.cache.Caffeine;
import com.github.benmanes.caffeine.cache.Expiry;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.binder.cache.CaffeineStatsCounter;
import io.portcullis.metrics.MetricNames;
import java.net.http.HttpClient;
import java.time.Duration;
import java.time.Instant;
import java.time.InstantSource;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Semaphore;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.LongSupplier;

/**
 * The service's introspection state that outlives policy reloads: one HTTP client, the caches of
 * active and inactive results, and per endpoint its error counters and its bound on concurrent
 * calls ({@code max_concurrent_requests}). {@link #forEndpoint} makes the {@link
 * IntrospectionVerifier} of a policy's {@code identity.introspection[]} entry; {@code
 * SharedIdentityServices.builder(jwt).introspection(verifiers::forEndpoint)} wires it in.
 *
 * <p>Cache entries are keyed by the SHA-256 of the token (never the token) and by the endpoint's
 * configuration: a reload that keeps an endpoint's configuration keeps its cached results; one that
 * changes it (other claims mapping, other endpoint) starts afresh.
 *
 * <p>Thread-safe. {@link #close()} closes the HTTP client.
 */
public final class IntrospectionVerifiers implements AutoCloseable {

  /** Settings the verifiers share. */
  record Settings(
      InstantSource clock,
      LongSupplier ticker,
      Duration requestTimeout,
      Duration inactiveTtl,
      int maxResponseBytes,
      Cache<JwtVerifier.TokenKey, IntrospectionVerifier.Active> active,
      Cache<JwtVerifier.TokenKey, Verification.Rejected> inactive) {}

  /**
   * What one endpoint configuration keeps across reloads.
   *
   * @param scope the endpoint's part of the cache keys
   * @param errors failed calls ({@code reason=call_failed})
   * @param refused tokens answered without a call because {@code calls} had no permit left ({@code
   *     reason=concurrency_limit})
   * @param failing whether the last call failed (logged on each change)
   * @param calls one permit per outstanding call, {@code max_concurrent_requests} in all
   * @param nextBusyWarning the ticker's time from which the next refusal may be logged
   */
  record Endpoint(
      int scope,
      Counter errors,
      Counter refused,
      AtomicBoolean failing,
      Semaphore calls,
      AtomicLong nextBusyWarning) {}

  /** {@link MetricNames#INTROSPECTION_ERRORS}'s {@code reason}: the call failed. */
  private static final String CALL_FAILED = "call_failed";

  /**
   * {@link MetricNames#INTROSPECTION_ERRORS}'s {@code reason}: not called, {@code
   * max_concurrent_requests} calls were outstanding.
   */
  private static final String CONCURRENCY_LIMIT = "concurrency_limit";

  private final MeterRegistry meters;
  private final HttpClient http;
  private final Settings settings;
  private final Map<IntrospectionConfig, Endpoint> endpoints = new ConcurrentHashMap<>();
  private final AtomicInteger scopes = new AtomicInteger();

  private IntrospectionVerifiers(Builder b) {
    this.meters = b.meters;
    this.http =
        HttpClient.newBuilder()
            .connectTimeout(b.connectTimeout)
            .followRedirects(HttpClient.Redirect.NEVER)
            .version(HttpClient.Version.HTTP_1_1)
            .build();
    this.settings =
        new Settings(
            b.clock,
            b.ticker,
            b.requestTimeout,
            b.inactiveTtl,
            b.maxResponseBytes,
            activeCache(b),
            inactiveCache(b));
  }

  public static Builder builder(MeterRegistry meters) {
    return new Builder(meters);
  }

  /**
   * The verifier of one introspection endpoint.
   *
   * @throws IllegalArgumentException if the endpoint is not {@code https} (plain HTTP only on
   *     loopback), or its cache TTL or {@code max_concurrent_requests} is not positive
   */
  public IntrospectionVerifier forEndpoint(IntrospectionConfig config) {
    if (!JwksFetcher.allowedEndpoint(config.endpoint())) {
      throw new IllegalArgumentException(
          "introspection endpoint '"
              + config.name()
              + "' must be https (or http on a loopback address)");
    }
    if (config.cacheTtl().isNegative() || config.cacheTtl().isZero()) {
      throw new IllegalArgumentException(
          "introspection endpoint '" + config.name() + "' needs a positive cache_ttl");
    }
    if (config.maxConcurrentRequests() <= 0) {
      throw new IllegalArgumentException(
          "introspection endpoint '"
              + config.name()
              + "' needs a positive max_concurrent_requests");
    }
    Endpoint endpoint =
        endpoints.computeIfAbsent(
            config,
            c ->
                new Endpoint(
                    scopes.incrementAndGet(),
                    errors(c, CALL_FAILED),
                    errors(c, CONCURRENCY_LIMIT),
                    new AtomicBoolean(),
                    new Semaphore(c.maxConcurrentRequests()),
                    new AtomicLong(settings.ticker().getAsLong())));
    return new IntrospectionVerifier(config, endpoint, http, settings);
  }

  private Counter errors(IntrospectionConfig config, String reason) {
    return Counter.builder(MetricNames.INTROSPECTION_ERRORS)
        .description(
            "Tokens answered identity_unavailable per endpoint: failed calls, and tokens not"
                + " sent because max_concurrent_requests calls were outstanding")
        .tag(MetricNames.TAG_ISSUER, config.name())
        .tag(MetricNames.TAG_REASON, reason)
        .register(meters);
  }

  private static Cache<JwtVerifier.TokenKey, IntrospectionVerifier.Active> activeCache(Builder b) {
    CaffeineStatsCounter stats =
        new CaffeineStatsCounter(b.meters, MetricNames.CACHE_INTROSPECTION_ACTIVE);
    InstantSource clock = b.clock;
    Cache<JwtVerifier.TokenKey, IntrospectionVerifier.Active> cache =
        Caffeine.newBuilder()
            .maximumSize(b.activeCacheSize)
            .ticker(b.ticker::getAsLong)
            .expireAfter(
                Expiry.<JwtVerifier.TokenKey, IntrospectionVerifier.Active>creating(
                    (k, v) -> untilOrZero(clock.instant(), v.cacheUntil())))
            .recordStats(() -> stats)
            .build();
    stats.registerSizeMetric(cache);
    return cache;
  }

  private static Cache<JwtVerifier.TokenKey, Verification.Rejected> inactiveCache(Builder b) {
    CaffeineStatsCounter stats =
        new CaffeineStatsCounter(b.meters, MetricNames.CACHE_INTROSPECTION_INACTIVE);
    Cache<JwtVerifier.TokenKey, Verification.Rejected> cache =
        Caffeine.newBuilder()
            .maximumSize(b.inactiveCacheSize)
            .ticker(b.ticker::getAsLong)
            .expireAfterWrite(b.inactiveTtl)
            .recordStats(() -> stats)
            .build();
    stats.registerSizeMetric(cache);
    return cache;
  }

  private static Duration untilOrZero(Instant now, Instant until) {
    return now.isBefore(until) ? Duration.between(now, until) : Duration.ZERO;
  }

  @Override
  public void close() {
    http.close();
  }

  @Override
  public String toString() {
    return "IntrospectionVerifiers[endpoints=" + endpoints.size() + "]";
  }

  /** Builds {@link IntrospectionVerifiers}; not thread-safe. */
  public static final class Builder {
    private final MeterRegistry meters;
    private InstantSource clock = InstantSource.system();
    private LongSupplier ticker = System::nanoTime;
    private Duration connectTimeout = Duration.ofSeconds(1);
    private Duration requestTimeout = Duration.ofSeconds(2);
    private long activeCacheSize = 100_000;
    private long inactiveCacheSize = 10_000;
    private Duration inactiveTtl = Duration.ofSeconds(10);
    private int maxResponseBytes = 64 * 1024;

    private Builder(MeterRegistry meters) {
      this.meters = Objects.requireNonNull(meters, "meters");
    }

    /** The clock for {@code exp} and cache lifetimes (default: system). */
    public Builder clock(InstantSource clock) {
      this.clock = Objects.requireNonNull(clock, "clock");
      return this;
    }

    /**
     * Monotonic nanoseconds for the caches and for rate-limiting warnings (default {@code
     * System::nanoTime}).
     */
    public Builder ticker(LongSupplier ticker) {
      this.ticker = Objects.requireNonNull(ticker, "ticker");
      return this;
    }

    /** TCP connect timeout (default 1 s). */
    public Builder connectTimeout(Duration timeout) {
      this.connectTimeout = positive(timeout, "connectTimeout");
      return this;
    }

    /** The whole call, connect to last byte, at most (default 2 s). */
    public Builder requestTimeout(Duration timeout) {
      this.requestTimeout = positive(timeout, "requestTimeout");
      return this;
    }

    /** How many active results are cached (default 100,000). */
    public Builder activeCacheSize(long size) {
      this.activeCacheSize = positive(size, "activeCacheSize");
      return this;
    }

    /** How many inactive results are cached (default 10,000). */
    public Builder inactiveCacheSize(long size) {
      this.inactiveCacheSize = positive(size, "inactiveCacheSize");
      return this;
    }

    /** How long an inactive result is remembered (default 10 s). */
    public Builder inactiveTtl(Duration ttl) {
      this.inactiveTtl = positive(ttl, "inactiveTtl");
      return this;
    }

    /** Largest introspection response read (default 64 KiB); larger ones are errors. */
    public Builder maxResponseBytes(int bytes) {
      this.maxResponseBytes = (int) positive(bytes, "maxResponseBytes");
      return this;
    }

    public IntrospectionVerifiers build() {
      return new IntrospectionVerifiers(this);
    }

    private static long positive(long value, String what) {
      if (value <= 0) {
        throw new IllegalArgumentException(what + " must be positive");
      }
      return value;
    }

    private static Duration positive(Duration value, String what) {
      if (value.isNegative() || value.isZero()) {
        throw new IllegalArgumentException(what + " must be positive");
      }
      return value;
    }
  }
}
