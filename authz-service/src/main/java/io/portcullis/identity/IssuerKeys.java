package io.portcullis.identity;

import com.nimbusds.jose.KeySourceException;
import com.nimbusds.jose.jwk.JWK;
import com.nimbusds.jose.jwk.JWKMatcher;
import com.nimbusds.jose.jwk.JWKSelector;
import com.nimbusds.jose.jwk.JWKSet;
import com.nimbusds.jose.jwk.source.JWKSetBasedJWKSource;
import com.nimbusds.jose.jwk.source.JWKSetCacheRefreshEvaluator;
import com.nimbusds.jose.jwk.source.JWKSetSource;
import com.nimbusds.jose.jwk.source.JWKSource;
import com.nimbusds.jose.jwk.source.JWKSourceBuilder;
import com.nimbusds.jose.proc.SecurityContext;
import java.io.Closeable;
import java.io.IOException;
import java.time.InstantSource;
import java.util.List;
import java.util.concurrent.ScheduledExecutorService;
import org.jspecify.annotations.Nullable;

/**
 * The signing keys of one issuer (one {@code (issuer, jwks_uri)} pair), shared by every policy that
 * trusts it.
 *
 * <p>Design: a wrapper around Nimbus's {@link JWKSourceBuilder} chain, bottom to top: {@link
 * JwksFetcher} (discovery, bounded HTTP, metrics) → {@code OutageTolerantJWKSetSource} (serve the
 * last good set while the issuer is down) → {@code RateLimitedJWKSetSource} (at most two fetches
 * per {@code minRefreshInterval}: one for the periodic refresh, one left for a rotated-in key) →
 * {@code RefreshAheadCachingJWKSetSource} (cache for {@code ttl}, refresh in the background before
 * expiry, coalesce concurrent misses behind one lock). We call the chain's {@link JWKSetSource}
 * directly with the injected clock's time instead of going through {@link
 * JWKSetBasedJWKSource#get}, which reads the system clock; that keeps cache expiry, rate limiting
 * and outage windows testable with a fake clock. (Nimbus's scheduled refresh still runs on
 * wall-clock delays.)
 *
 * <p>On a key miss (unknown {@code kid}) we ask once for a set newer than the one we looked at
 * ({@link JWKSetCacheRefreshEvaluator#referenceComparison}): concurrent misses coalesce into one
 * fetch, and the rate limiter turns a flood of random kids into at most two fetches per interval.
 * Nimbus reports a rate-limited refresh of an expired cache as an exception; we then keep serving
 * the last fetched set within the outage window rather than failing every token.
 *
 * <p>References: RFC 7517 (JWK), OpenID Connect Core §10.1.1 (rotation of signing keys), Nimbus
 * JOSE+JWT {@code com.nimbusds.jose.jwk.source} package documentation.
 */
final class IssuerKeys implements Closeable {

  /** What a key lookup found. */
  sealed interface Lookup permits Found, NotFound, Unavailable {}

  /** Keys of the issuer that match the token's header (kid, key type, algorithm). */
  record Found(List<JWK> keys) implements Lookup {}

  /** The issuer is reachable but publishes no key that matches. */
  record NotFound() implements Lookup {}

  /** No keys could be obtained: never fetched, or the issuer is down and the key is not cached. */
  record Unavailable() implements Lookup {}

  private static final Lookup NOT_FOUND = new NotFound();
  private static final Lookup UNAVAILABLE = new Unavailable();

  private final JwksFetcher fetcher;
  private final JWKSetSource<SecurityContext> source;
  private final InstantSource clock;
  private final long outageToleranceMillis;
  private volatile @Nullable JWKSet lastSeen;

  private IssuerKeys(
      JwksFetcher fetcher,
      JWKSetSource<SecurityContext> source,
      InstantSource clock,
      long outageToleranceMillis) {
    this.fetcher = fetcher;
    this.source = source;
    this.clock = clock;
    this.outageToleranceMillis = outageToleranceMillis;
  }

  static IssuerKeys create(
      JwksFetcher fetcher,
      JwtVerifiers.KeySettings settings,
      InstantSource clock,
      ScheduledExecutorService refresher) {
    JWKSource<SecurityContext> built =
        JWKSourceBuilder.create(fetcher)
            .cache(settings.ttl().toMillis(), settings.refreshTimeout().toMillis())
            .refreshAheadCache(
                settings.refreshAhead().toMillis(), null, refresher, false, refresher, false)
            .rateLimited(settings.minRefreshInterval().toMillis())
            .outageTolerant(settings.outageTolerance().toMillis())
            .retrying(false)
            .build();
    JWKSetSource<SecurityContext> chain =
        ((JWKSetBasedJWKSource<SecurityContext>) built).getJWKSetSource();
    return new IssuerKeys(fetcher, chain, clock, settings.outageTolerance().toMillis());
  }

  /**
   * Finds the keys that match; on a miss, refreshes at most once (rate-limited, coalesced). Blocks
   * for at most the HTTP timeouts (or the refresh timeout while another thread fetches).
   */
  Lookup find(JWKMatcher matcher) {
    long now = clock.millis();
    JWKSet current = current(now);
    if (current == null) {
      return UNAVAILABLE;
    }
    JWKSelector selector = new JWKSelector(matcher);
    List<JWK> keys = selector.select(current);
    if (!keys.isEmpty()) {
      return new Found(keys);
    }
    JWKSet refreshed;
    try {
      refreshed =
          source.getJWKSet(JWKSetCacheRefreshEvaluator.referenceComparison(current), now, null);
      lastSeen = refreshed;
    } catch (KeySourceException e) {
      // rate-limited, or the issuer is down and nothing newer can be had
      return fetcher.failing() ? UNAVAILABLE : NOT_FOUND;
    }
    keys = selector.select(refreshed);
    if (!keys.isEmpty()) {
      return new Found(keys);
    }
    return fetcher.failing() ? UNAVAILABLE : NOT_FOUND;
  }

  /**
   * Refreshes the key set (rate-limited and coalesced like a miss in {@link #find}) for a token
   * without {@code kid} that none of {@code tried} verified: a key the issuer rotated in since the
   * last fetch is found only this way, since every current key matches a kid-less token.
   *
   * @return the matching keys that are not in {@code tried} (empty: the refreshed set has none), or
   *     {@code null} when no refresh could be made (rate-limited, issuer down)
   */
  @Nullable List<JWK> refreshedBeyond(JWKMatcher matcher, List<JWK> tried) {
    long now = clock.millis();
    JWKSet current = lastSeen;
    if (current == null) {
      return null;
    }
    JWKSet refreshed;
    try {
      refreshed =
          source.getJWKSet(JWKSetCacheRefreshEvaluator.referenceComparison(current), now, null);
    } catch (KeySourceException e) {
      return null;
    }
    if (refreshed == current) {
      return null; // another thread's refresh, or none: nothing new to know
    }
    lastSeen = refreshed;
    List<JWK> fresh = new java.util.ArrayList<>();
    for (JWK k : new JWKSelector(matcher).select(refreshed)) {
      if (!tried.contains(k)) {
        fresh.add(k);
      }
    }
    return fresh;
  }

  /**
   * Fetches the keys now unless they are cached (start-up), so that the first tokens find them.
   * Never throws; blocks for at most the HTTP timeouts.
   *
   * @return whether keys are available afterwards
   */
  boolean prefetch() {
    return current(clock.millis()) != null;
  }

  /** The current key set, or {@code null} when none is known within the outage window. */
  private @Nullable JWKSet current(long now) {
    try {
      JWKSet set = source.getJWKSet(JWKSetCacheRefreshEvaluator.noRefresh(), now, null);
      if (set != lastSeen) {
        lastSeen = set;
      }
      return set;
    } catch (KeySourceException e) {
      // The cache expired and its refresh failed or was rate-limited: keep the keys we last saw
      // while they are younger than the outage tolerance.
      JWKSet last = lastSeen;
      long fetchedAt = fetcher.lastSuccessMillis();
      if (last != null && fetchedAt != Long.MIN_VALUE && now - fetchedAt < outageToleranceMillis) {
        return last;
      }
      return null;
    }
  }

  @Override
  public void close() throws IOException {
    source.close();
  }

  @Override
  public String toString() {
    return "IssuerKeys[" + fetcher + "]";
  }
}
