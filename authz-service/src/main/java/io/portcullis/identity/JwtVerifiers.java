package io.portcullis.identity;

import com.github.benmanes.caffeine.cache.Cache;
import com.github.benmanes.caffeine.cache.Caffeine;
import com.github.benmanes.caffeine.cache.Expiry;
import com.nimbusds.jose.JWSAlgorithm;
import com.nimbusds.jose.proc.JWSVerifierFactory;
import com.nimbusds.jose.util.DefaultResourceRetriever;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.binder.cache.CaffeineStatsCounter;
import io.portcullis.metrics.MetricNames;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.URI;
import java.time.Duration;
import java.time.Instant;
import java.time.InstantSource;
import java.util.ArrayList;
import java.util.Collection;
import java.util.HashSet;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ScheduledThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.jspecify.annotations.Nullable;

/**
 * The service's JWT verification state that outlives policy reloads: one key source per {@code
 * (issuer, jwks_uri)} (so a reload does not refetch keys), the verified-token and rejected-token
 * caches, and the background refresh threads. {@link #forIssuers} compiles a policy's {@code
 * identity.jwt} entries into a {@link JwtVerifier}; the lead's {@code IdentityServices#jwt}
 * delegates to it.
 *
 * <p>Thread-safe. {@link #close()} stops background refreshes; verifiers made earlier keep working
 * but no longer refresh in the background.
 */
public final class JwtVerifiers implements AutoCloseable {

  /**
   * How issuer keys are cached and refreshed.
   *
   * @param ttl how long a fetched JWKS is used before it must be refetched
   * @param refreshAhead a fetch starts in the background this long before {@code ttl} ends
   * @param refreshTimeout how long a request waits for another thread's fetch in progress
   * @param minRefreshInterval rate limit: at most two fetches (periodic + unknown {@code kid}) per
   *     interval and issuer
   * @param outageTolerance how long keys fetched earlier are still used while the issuer is down
   */
  record KeySettings(
      Duration ttl,
      Duration refreshAhead,
      Duration refreshTimeout,
      Duration minRefreshInterval,
      Duration outageTolerance) {}

  /** The caches a {@link JwtVerifier} uses, keyed per verifier. */
  record TokenCaches(
      Cache<JwtVerifier.TokenKey, JwtVerifier.VerifiedToken> verified,
      Cache<JwtVerifier.TokenKey, Verification.Rejected> rejected,
      Duration verifiedMaxAge) {}

  private record SourceKey(URI issuer, @Nullable URI jwksUri) {}

  private final InstantSource clock;
  private final MeterRegistry meters;
  private final KeySettings keySettings;
  private final DefaultResourceRetriever http;
  private final JWSVerifierFactory signatures;
  private final TokenCaches caches;
  private final ScheduledThreadPoolExecutor refresher;
  private final Map<SourceKey, IssuerKeys> sources = new ConcurrentHashMap<>();
  private final AtomicInteger scopes = new AtomicInteger();

  private JwtVerifiers(Builder b) {
    this.clock = b.clock;
    this.meters = b.meters;
    this.keySettings =
        new KeySettings(
            b.jwksCacheTtl,
            b.jwksRefreshAhead,
            b.jwksRefreshTimeout,
            b.jwksMinRefreshInterval,
            b.jwksOutageTolerance);
    this.http =
        new DefaultResourceRetriever(
            Math.toIntExact(b.httpConnectTimeout.toMillis()),
            Math.toIntExact(b.httpReadTimeout.toMillis()),
            b.jwksSizeLimitBytes);
    this.signatures = b.signatures;
    this.caches =
        new TokenCaches(
            verifiedCache(b.verifiedTokenCacheSize, b.clock, b.meters),
            rejectedCache(b.rejectedTokenCacheSize, b.rejectedTokenTtl, b.meters),
            b.verifiedTokenMaxAge);
    this.refresher =
        new ScheduledThreadPoolExecutor(
            2,
            r -> {
              Thread t = new Thread(r, "portcullis-jwks-refresh");
              t.setDaemon(true);
              return t;
            });
    this.refresher.setRemoveOnCancelPolicy(true);
  }

  /** A registry with defaults; tune with {@link #builder(MeterRegistry)}. */
  public static JwtVerifiers create(MeterRegistry meters) {
    return builder(meters).build();
  }

  public static Builder builder(MeterRegistry meters) {
    return new Builder(meters);
  }

  /**
   * Compiles a policy's JWT issuers into one verifier. Key sources of issuers already known are
   * reused; new ones are created lazily (the first token fetches the keys).
   *
   * @throws IllegalArgumentException if an issuer allows an algorithm that is not asymmetric (HMAC,
   *     {@code none}) or unknown, has no algorithms or audiences, a token type not written as
   *     {@link JwtIssuerConfig#tokenType} writes it or naming another kind of JWT, a negative skew,
   *     a non-https (non-loopback) issuer or {@code jwks_uri}, or the same {@code issuer} appears
   *     twice
   */
  public JwtVerifier forIssuers(List<JwtIssuerConfig> issuers) {
    List<Set<JWSAlgorithm>> allowLists = new ArrayList<>();
    for (JwtIssuerConfig c : issuers) {
      allowLists.add(algorithms(c));
      if (c.audiences().isEmpty()) {
        throw new IllegalArgumentException("issuer '" + c.name() + "' accepts no audience");
      }
      for (String t : c.tokenTypes()) {
        if (!JwtIssuerConfig.isMediaSubtype(t)
            || !t.equals(JwtIssuerConfig.tokenType(t))
            || JwtIssuerConfig.OTHER_JWT_TYPES.contains(t)) {
          throw new IllegalArgumentException(
              "issuer '" + c.name() + "' has a token type that is not an access token type");
        }
      }
      if (c.clockSkew().isNegative()) {
        throw new IllegalArgumentException("issuer '" + c.name() + "' has a negative clock skew");
      }
      if (!JwksFetcher.allowedEndpoint(c.issuer())
          || (c.jwksUri() != null && !JwksFetcher.allowedEndpoint(c.jwksUri()))) {
        throw new IllegalArgumentException(
            "issuer '" + c.name() + "': issuer and jwks_uri must be https (or http on loopback)");
      }
    }
    // all valid: only now create (or reuse) key sources
    List<JwtVerifier.TrustedIssuer> compiled = new ArrayList<>();
    for (int i = 0; i < issuers.size(); i++) {
      JwtIssuerConfig c = issuers.get(i);
      compiled.add(new JwtVerifier.TrustedIssuer(c, allowLists.get(i), keysOf(c)));
    }
    return new JwtVerifier(scopes.incrementAndGet(), compiled, caches, clock, signatures);
  }

  /**
   * Fetches the signing keys of every issuer compiled so far, all at once, waiting at most {@code
   * timeout}. The service calls it before it reports SERVING: key sources are otherwise filled by
   * the first token, and a burst of requests right after a start then queues behind that one fetch
   * (every request thread waits on the key source's refresh lock, which is handed from waiter to
   * waiter one at a time; the load suite's cold-start run showed seconds of backlog). An issuer
   * that cannot be reached in time is left to the lazy path.
   *
   * @return how many issuers have keys now
   */
  public int prefetchKeys(Duration timeout) {
    AtomicInteger ready = new AtomicInteger();
    List<Thread> fetches = new ArrayList<>();
    for (IssuerKeys keys : sources.values()) {
      fetches.add(
          Thread.ofVirtual()
              .name("portcullis-jwks-prefetch")
              .start(
                  () -> {
                    if (keys.prefetch()) {
                      ready.incrementAndGet();
                    }
                  }));
    }
    long deadline = System.nanoTime() + timeout.toNanos();
    try {
      for (Thread t : fetches) {
        long left = deadline - System.nanoTime();
        if (left <= 0 || !t.join(Duration.ofNanos(left))) {
          break;
        }
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
    return ready.get();
  }

  /**
   * Closes the key sources of issuers that none of {@code live} names. Call it after a reload has
   * swapped in the policy whose issuers these are; verifiers of older policies still work but fetch
   * on demand only.
   */
  public void retainOnly(Collection<JwtIssuerConfig> live) {
    Set<SourceKey> keep = new HashSet<>();
    for (JwtIssuerConfig c : live) {
      keep.add(new SourceKey(c.issuer(), c.jwksUri()));
    }
    for (SourceKey k : List.copyOf(sources.keySet())) {
      if (!keep.contains(k)) {
        IssuerKeys removed = sources.remove(k);
        if (removed != null) {
          closeQuietly(removed);
        }
      }
    }
  }

  private IssuerKeys keysOf(JwtIssuerConfig c) {
    return sources.computeIfAbsent(
        new SourceKey(c.issuer(), c.jwksUri()),
        k ->
            IssuerKeys.create(
                new JwksFetcher(k.issuer(), k.jwksUri(), http, meters),
                keySettings,
                clock,
                refresher));
  }

  private static Set<JWSAlgorithm> algorithms(JwtIssuerConfig c) {
    if (c.algorithms().isEmpty()) {
      throw new IllegalArgumentException("issuer '" + c.name() + "' allows no algorithm");
    }
    Set<JWSAlgorithm> out = new LinkedHashSet<>();
    for (String name : c.algorithms()) {
      JWSAlgorithm alg = JWSAlgorithm.parse(name);
      if (!AsymmetricJwsVerifiers.SUPPORTED.contains(alg)) {
        throw new IllegalArgumentException(
            "issuer '"
                + c.name()
                + "' allows '"
                + name
                + "': only asymmetric algorithms are accepted");
      }
      out.add(alg);
    }
    return Set.copyOf(out);
  }

  private static Cache<JwtVerifier.TokenKey, JwtVerifier.VerifiedToken> verifiedCache(
      long size, InstantSource clock, MeterRegistry meters) {
    CaffeineStatsCounter stats = new CaffeineStatsCounter(meters, MetricNames.CACHE_JWT_VERIFIED);
    Cache<JwtVerifier.TokenKey, JwtVerifier.VerifiedToken> cache =
        Caffeine.newBuilder()
            .maximumSize(size)
            .expireAfter(
                Expiry.<JwtVerifier.TokenKey, JwtVerifier.VerifiedToken>creating(
                    (k, v) -> untilOrZero(clock.instant(), v.cacheUntil())))
            .recordStats(() -> stats)
            .build();
    stats.registerSizeMetric(cache);
    return cache;
  }

  private static Cache<JwtVerifier.TokenKey, Verification.Rejected> rejectedCache(
      long size, Duration ttl, MeterRegistry meters) {
    CaffeineStatsCounter stats = new CaffeineStatsCounter(meters, MetricNames.CACHE_JWT_REJECTED);
    Cache<JwtVerifier.TokenKey, Verification.Rejected> cache =
        Caffeine.newBuilder()
            .maximumSize(size)
            .expireAfterWrite(ttl)
            .recordStats(() -> stats)
            .build();
    stats.registerSizeMetric(cache);
    return cache;
  }

  private static Duration untilOrZero(Instant now, Instant until) {
    return now.isBefore(until) ? Duration.between(now, until) : Duration.ZERO;
  }

  private static void closeQuietly(IssuerKeys keys) {
    try {
      keys.close();
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  @Override
  public void close() {
    for (IssuerKeys keys : sources.values()) {
      closeQuietly(keys);
    }
    sources.clear();
    refresher.shutdownNow();
    try {
      refresher.awaitTermination(5, TimeUnit.SECONDS);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }

  @Override
  public String toString() {
    return "JwtVerifiers[sources=" + sources.size() + "]";
  }

  /** Builds {@link JwtVerifiers}; not thread-safe. */
  public static final class Builder {
    private final MeterRegistry meters;
    private InstantSource clock = InstantSource.system();
    private long verifiedTokenCacheSize = 100_000;
    private Duration verifiedTokenMaxAge = Duration.ofMinutes(5);
    private long rejectedTokenCacheSize = 10_000;
    private Duration rejectedTokenTtl = Duration.ofSeconds(30);
    private Duration jwksCacheTtl = Duration.ofMinutes(5);
    private Duration jwksRefreshAhead = Duration.ofSeconds(30);
    private Duration jwksRefreshTimeout = Duration.ofSeconds(10);
    private Duration jwksMinRefreshInterval = Duration.ofSeconds(10);
    private Duration jwksOutageTolerance = Duration.ofHours(24);
    private Duration httpConnectTimeout = Duration.ofSeconds(2);
    private Duration httpReadTimeout = Duration.ofSeconds(3);
    private int jwksSizeLimitBytes = 256 * 1024;
    private JWSVerifierFactory signatures = new AsymmetricJwsVerifiers();

    private Builder(MeterRegistry meters) {
      this.meters = Objects.requireNonNull(meters, "meters");
    }

    /** The clock for token times and key-cache expiry (default: system). */
    public Builder clock(InstantSource clock) {
      this.clock = Objects.requireNonNull(clock, "clock");
      return this;
    }

    /** How many verified tokens are cached (default 100,000). */
    public Builder verifiedTokenCacheSize(long size) {
      this.verifiedTokenCacheSize = positive(size, "verifiedTokenCacheSize");
      return this;
    }

    /**
     * How long a verified token is served from the cache at most, even if it expires later (default
     * 5 minutes): bounds how long a withdrawn signing key keeps working.
     */
    public Builder verifiedTokenMaxAge(Duration maxAge) {
      this.verifiedTokenMaxAge = positive(maxAge, "verifiedTokenMaxAge");
      return this;
    }

    /** How many permanently rejected tokens are remembered (default 10,000). */
    public Builder rejectedTokenCacheSize(long size) {
      this.rejectedTokenCacheSize = positive(size, "rejectedTokenCacheSize");
      return this;
    }

    /** How long a permanent rejection is remembered (default 30 s). */
    public Builder rejectedTokenTtl(Duration ttl) {
      this.rejectedTokenTtl = positive(ttl, "rejectedTokenTtl");
      return this;
    }

    /** How long a fetched JWKS is used (default 5 minutes). */
    public Builder jwksCacheTtl(Duration ttl) {
      this.jwksCacheTtl = positive(ttl, "jwksCacheTtl");
      return this;
    }

    /** Background refresh starts this long before the JWKS cache expires (default 30 s). */
    public Builder jwksRefreshAhead(Duration ahead) {
      this.jwksRefreshAhead = positive(ahead, "jwksRefreshAhead");
      return this;
    }

    /** How long requests wait for a fetch in progress (default 10 s). */
    public Builder jwksRefreshTimeout(Duration timeout) {
      this.jwksRefreshTimeout = positive(timeout, "jwksRefreshTimeout");
      return this;
    }

    /** Rate limit: at most two JWKS fetches per issuer per interval (default 10 s). */
    public Builder jwksMinRefreshInterval(Duration interval) {
      this.jwksMinRefreshInterval = positive(interval, "jwksMinRefreshInterval");
      return this;
    }

    /** How long cached keys keep being used while the issuer is unreachable (default 24 h). */
    public Builder jwksOutageTolerance(Duration tolerance) {
      this.jwksOutageTolerance = positive(tolerance, "jwksOutageTolerance");
      return this;
    }

    /** Connect timeout for discovery and JWKS fetches (default 2 s). */
    public Builder httpConnectTimeout(Duration timeout) {
      this.httpConnectTimeout = positive(timeout, "httpConnectTimeout");
      return this;
    }

    /** Read timeout for discovery and JWKS fetches (default 3 s). */
    public Builder httpReadTimeout(Duration timeout) {
      this.httpReadTimeout = positive(timeout, "httpReadTimeout");
      return this;
    }

    /** Largest discovery document or JWKS accepted (default 256 KiB). */
    public Builder jwksSizeLimitBytes(int bytes) {
      this.jwksSizeLimitBytes = (int) positive(bytes, "jwksSizeLimitBytes");
      return this;
    }

    /** Replaces the signature-verifier factory; tests wrap the default to count verifications. */
    Builder signatureVerifiers(JWSVerifierFactory factory) {
      this.signatures = Objects.requireNonNull(factory, "factory");
      return this;
    }

    /**
     * @throws IllegalArgumentException if the key timings are inconsistent: {@code refreshAhead +
     *     refreshTimeout} must not exceed, and {@code minRefreshInterval} must be below, {@code
     *     jwksCacheTtl}
     */
    public JwtVerifiers build() {
      if (jwksRefreshAhead.plus(jwksRefreshTimeout).compareTo(jwksCacheTtl) > 0) {
        throw new IllegalArgumentException(
            "jwksRefreshAhead + jwksRefreshTimeout must not exceed jwksCacheTtl");
      }
      if (jwksMinRefreshInterval.compareTo(jwksCacheTtl) >= 0) {
        throw new IllegalArgumentException("jwksMinRefreshInterval must be below jwksCacheTtl");
      }
      return new JwtVerifiers(this);
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
