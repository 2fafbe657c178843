package io.portcullis.identity;

import com.nimbusds.jose.KeySourceException;
import com.nimbusds.jose.jwk.JWKSet;
import com.nimbusds.jose.jwk.source.JWKSetCacheRefreshEvaluator;
import com.nimbusds.jose.jwk.source.JWKSetRetrievalException;
import com.nimbusds.jose.jwk.source.JWKSetSource;
import com.nimbusds.jose.proc.SecurityContext;
import com.nimbusds.jose.util.JSONObjectUtils;
import com.nimbusds.jose.util.Resource;
import com.nimbusds.jose.util.ResourceRetriever;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.MeterRegistry;
import io.portcullis.metrics.MetricNames;
import io.portcullis.request.RequestAttributes;
import java.io.IOException;
import java.net.MalformedURLException;
import java.net.URI;
import java.net.URISyntaxException;
import java.net.URL;
import java.text.ParseException;
import java.util.Locale;
import java.util.Map;
import org.jspecify.annotations.Nullable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The bottom of an issuer's key source: one HTTP(S) fetch of the issuer's JWKS, preceded by OIDC
 * discovery ({@code <issuer>/.well-known/openid-configuration}) when the policy gives no {@code
 * jwks_uri}. Every call fetches; caching, rate limiting and outage tolerance are the Nimbus
 * wrappers above it ({@link IssuerKeys}). Each fetch is counted in {@link MetricNames#JWKS_REFRESH}
 * with {@code result=success|error}.
 *
 * <p>The discovery document's {@code issuer} must equal the configured issuer exactly (OpenID
 * Connect Discovery 1.0 §4.3), and the discovered {@code jwks_uri} must be {@code https}, or plain
 * HTTP on a loopback address (spec "Issuers"). Private and symmetric keys in a JWKS are dropped:
 * only public asymmetric keys are ever used.
 *
 * <p>Thread-safe; the caching layer above calls it from one thread at a time.
 */
final class JwksFetcher implements JWKSetSource<SecurityContext> {
  private static final Logger log = LoggerFactory.getLogger(JwksFetcher.class);
  static final String DISCOVERY_PATH = "/.well-known/openid-configuration";

  private final URI issuer;
  private final @Nullable URI configuredJwksUri;
  private final ResourceRetriever http;
  private final Counter successes;
  private final Counter errors;

  private volatile @Nullable URL jwksUrl;
  private volatile boolean failing;
  private volatile long lastSuccessMillis = Long.MIN_VALUE;

  JwksFetcher(
      URI issuer, @Nullable URI configuredJwksUri, ResourceRetriever http, MeterRegistry meters) {
    this.issuer = issuer;
    this.configuredJwksUri = configuredJwksUri;
    this.http = http;
    String tag = issuer.toString();
    this.successes =
        Counter.builder(MetricNames.JWKS_REFRESH)
            .description("JWKS fetches (discovery included) per issuer")
            .tag(MetricNames.TAG_ISSUER, tag)
            .tag(MetricNames.TAG_RESULT, "success")
            .register(meters);
    this.errors =
        Counter.builder(MetricNames.JWKS_REFRESH)
            .description("JWKS fetches (discovery included) per issuer")
            .tag(MetricNames.TAG_ISSUER, tag)
            .tag(MetricNames.TAG_RESULT, "error")
            .register(meters);
    if (configuredJwksUri != null) {
      this.jwksUrl = toUrl(configuredJwksUri);
    }
  }

  @Override
  public JWKSet getJWKSet(
      JWKSetCacheRefreshEvaluator refreshEvaluator,
      long currentTime,
      @Nullable SecurityContext context)
      throws KeySourceException {
    try {
      URL url = jwksUrl;
      if (url == null) {
        url = discover();
      }
      JWKSet keys = fetch(url);
      if (failing) {
        // One line when the keys come back, as the WARN said when they went: an operator reading
        // the log of an IdP outage sees where it ended, not only where it began.
        log.info("fetched the signing keys of issuer {} again ({} keys)", issuer, keys.size());
      } else {
        log.debug("fetched {} signing keys of issuer {}", keys.size(), issuer);
      }
      failing = false;
      lastSuccessMillis = currentTime;
      successes.increment();
      return keys;
    } catch (IOException | ParseException | RuntimeException e) {
      failing = true;
      errors.increment();
      if (configuredJwksUri == null) {
        jwksUrl = null; // rediscover next time: the issuer may have moved its keys
      }
      String why = e.getClass().getSimpleName() + ": " + e.getMessage();
      log.warn("cannot fetch the signing keys of issuer {}: {}", issuer, why);
      throw new JWKSetRetrievalException("signing keys of " + issuer + " unavailable: " + why, e);
    }
  }

  /** Whether the most recent fetch failed (the issuer is down or serves garbage). */
  boolean failing() {
    return failing;
  }

  /**
   * When keys were last fetched, in the caller's clock (epoch millis); {@code MIN_VALUE} if never.
   */
  long lastSuccessMillis() {
    return lastSuccessMillis;
  }

  private JWKSet fetch(URL url) throws IOException, ParseException {
    Resource resource = http.retrieveResource(url);
    // toPublicJWKSet drops symmetric keys and strips private parts.
    return JWKSet.parse(resource.getContent()).toPublicJWKSet();
  }

  private URL discover() throws IOException, ParseException {
    String base = issuer.toString();
    if (base.endsWith("/")) {
      base = base.substring(0, base.length() - 1);
    }
    Resource resource = http.retrieveResource(toUrl(URI.create(base + DISCOVERY_PATH)));
    Map<String, Object> doc = JSONObjectUtils.parse(resource.getContent());
    Object advertised = doc.get("issuer");
    if (!issuer.toString().equals(advertised)) {
      throw new IOException("discovery document names a different issuer");
    }
    if (!(doc.get("jwks_uri") instanceof String jwks)) {
      throw new IOException("discovery document has no jwks_uri");
    }
    URI uri;
    try {
      uri = new URI(jwks);
    } catch (URISyntaxException e) {
      throw new IOException("discovery document has a malformed jwks_uri", e);
    }
    if (!allowedEndpoint(uri)) {
      throw new IOException("discovered jwks_uri must be https (or http on loopback)");
    }
    URL url = toUrl(uri);
    jwksUrl = url;
    return url;
  }

  /**
   * Whether {@code uri} may be used to fetch keys: {@code https}, or {@code http} on a loopback
   * address (spec "Issuers"). Decides on the literal host; never resolves names.
   */
  static boolean allowedEndpoint(URI uri) {
    String scheme = uri.getScheme() == null ? "" : uri.getScheme().toLowerCase(Locale.ROOT);
    String host = uri.getHost();
    if (host == null || uri.getUserInfo() != null) {
      return false;
    }
    if (scheme.equals("https")) {
      return true;
    }
    return scheme.equals("http") && isLoopback(host);
  }

  private static boolean isLoopback(String host) {
    String h =
        host.startsWith("[") && host.endsWith("]") ? host.substring(1, host.length() - 1) : host;
    if (h.equalsIgnoreCase("localhost")) {
      return true;
    }
    var ip = RequestAttributes.parseIp(h);
    return ip != null && ip.isLoopbackAddress();
  }

  private static URL toUrl(URI uri) {
    try {
      return uri.toURL();
    } catch (MalformedURLException | IllegalArgumentException e) {
      throw new IllegalArgumentException("not a fetchable URL: " + uri, e);
    }
  }

  @Override
  public void close() {
    // nothing to release: each fetch opens and closes its own connection
  }

  @Override
  public String toString() {
    return "JwksFetcher[" + issuer + (configuredJwksUri == null ? ", discovery" : "") + "]";
  }
}
