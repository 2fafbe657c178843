package io.portcullis.testing;

import com.nimbusds.jose.JOSEException;
import com.nimbusds.jose.JOSEObjectType;
import com.nimbusds.jose.JWSAlgorithm;
import com.nimbusds.jose.JWSHeader;
import com.nimbusds.jose.crypto.RSASSASigner;
import com.nimbusds.jose.jwk.JWK;
import com.nimbusds.jose.jwk.JWKSet;
import com.nimbusds.jose.jwk.RSAKey;
import com.nimbusds.jwt.JWTClaimsSet;
import com.nimbusds.jwt.SignedJWT;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.URI;
import java.net.URLEncoder;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.time.Instant;
import java.time.InstantSource;
import java.util.ArrayList;
import java.util.Date;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicInteger;
import no.nav.security.mock.oauth2.MockOAuth2Server;
import no.nav.security.mock.oauth2.OAuth2Config;
import no.nav.security.mock.oauth2.http.OAuth2HttpRequest;
import no.nav.security.mock.oauth2.http.OAuth2HttpResponse;
import no.nav.security.mock.oauth2.http.OAuth2HttpResponseKt;
import no.nav.security.mock.oauth2.http.OAuth2HttpRouterKt;
import no.nav.security.mock.oauth2.http.Route;
import no.nav.security.mock.oauth2.http.WellKnown;
import no.nav.security.mock.oauth2.token.DefaultOAuth2TokenCallback;
import no.nav.security.mock.oauth2.token.KeyProvider;
import no.nav.security.mock.oauth2.token.OAuth2TokenProvider;
import okhttp3.Headers;
import org.jspecify.annotations.Nullable;

/**
 * A real OIDC issuer for tests: navikt's {@code mock-oauth2-server} on a free loopback port. It
 * serves discovery ({@code /<id>/.well-known/openid-configuration}) and JWKS ({@code /<id>/jwks})
 * for any issuer id and mints real RS256 tokens; token times follow the given clock.
 *
 * <p>Keys: the server keeps one RSA key per id ({@code kid} = the id). By default an issuer's JWKS
 * holds its own key. Key rotation is built from that: {@link #publish} adds the key of another id
 * to an issuer's JWKS (and {@link #retract} removes one), and {@link #token}{@code
 * .signedWith(kid)} signs with any id's key; the JWKS route is ours (routes given to the server go
 * before its own), so it can count requests and change what it publishes mid-test.
 *
 * <p>Introspection ({@code /<id>/introspect}, RFC 7662) is the server's own: {@code active: true}
 * with the token's claims for tokens it signed for that issuer, {@code active: false} otherwise.
 * {@link #introspectionAnswers} makes it answer with a given status and body instead.
 */
public final class TestIssuer implements AutoCloseable {
  private final MockOAuth2Server server;
  private final KeyProvider keys;
  private final InstantSource clock;
  private final Map<String, List<String>> published = new ConcurrentHashMap<>();
  private final Map<String, List<JWK>> extraJwks = new ConcurrentHashMap<>();
  private final Map<String, String> advertisedIssuer = new ConcurrentHashMap<>();
  private final Map<String, AtomicInteger> jwksRequests = new ConcurrentHashMap<>();
  private final Map<String, AtomicInteger> discoveryRequests = new ConcurrentHashMap<>();
  private volatile boolean failing;
  private volatile @Nullable OAuth2HttpResponse introspectionFault;

  private TestIssuer(InstantSource clock) {
    this.clock = clock;
    this.keys = new KeyProvider(List.of(), JWSAlgorithm.RS256.getName());
    OAuth2TokenProvider tokens = new OAuth2TokenProvider(keys, clock::instant);
    Route jwks = OAuth2HttpRouterKt.route("/jwks", "GET", this::jwks);
    Route discovery =
        OAuth2HttpRouterKt.route("/.well-known/openid-configuration", "GET", this::discovery);
    this.server =
        new MockOAuth2Server(
            new OAuth2Config(false, null, null, false, tokens), jwks, discovery, new Fault());
  }

  /** Starts an issuer whose tokens are stamped with {@code clock}'s time. */
  public static TestIssuer start(InstantSource clock) {
    TestIssuer issuer = new TestIssuer(clock);
    issuer.server.start();
    return issuer;
  }

  /** {@code http://localhost:<port>/<id>}: the {@code iss} of the issuer named {@code id}. */
  public URI issuer(String id) {
    return server.issuerUrl(id).uri();
  }

  public URI jwksUri(String id) {
    return server.jwksUrl(id).uri();
  }

  /** The server itself, for its own token API ({@code issueToken}). */
  public MockOAuth2Server server() {
    return server;
  }

  /**
   * An OIDC ID token for {@code clientId}, obtained as a relying party does: the authorization code
   * flow ({@code scope=openid}) against the server's own endpoints, then the {@code id_token} of
   * its token response. Its {@code aud} is the client id and its {@code typ} is {@code JWT}.
   */
  public String idToken(String id, String clientId) {
    String redirect = "http://localhost/callback";
    HttpResponse<String> authorized =
        send(
            HttpRequest.newBuilder(
                    server
                        .authorizationEndpointUrl(id)
                        .newBuilder()
                        .addQueryParameter("client_id", clientId)
                        .addQueryParameter("response_type", "code")
                        .addQueryParameter("redirect_uri", redirect)
                        .addQueryParameter("scope", "openid")
                        .addQueryParameter("state", "s")
                        .addQueryParameter("nonce", "n")
                        .build()
                        .uri())
                .GET()
                .build());
    String location = authorized.headers().firstValue("location").orElseThrow();
    String code = okhttp3.HttpUrl.get(location).queryParameter("code");
    return tokenResponse(
            id,
            "grant_type=authorization_code&code="
                + code
                + "&redirect_uri="
                + URLEncoder.encode(redirect, StandardCharsets.UTF_8)
                + "&client_id="
                + clientId
                + "&client_secret=secret")
        .get("id_token")
        .toString();
  }

  /**
   * An access token for {@code clientId} from the server's token endpoint (client credentials
   * grant), with {@code aud} {@code audience} and JOSE {@code typ} {@code typ}.
   */
  public String accessToken(String id, String clientId, String audience, String typ) {
    server.enqueueCallback(
        new DefaultOAuth2TokenCallback(id, clientId, typ, List.of(audience), Map.of(), 3600));
    return tokenResponse(
            id,
            "grant_type=client_credentials&scope=orders&client_id="
                + clientId
                + "&client_secret=secret")
        .get("access_token")
        .toString();
  }

  private Map<String, Object> tokenResponse(String id, String form) {
    HttpResponse<String> r =
        send(
            HttpRequest.newBuilder(server.tokenEndpointUrl(id).uri())
                .header("Content-Type", "application/x-www-form-urlencoded")
                .POST(HttpRequest.BodyPublishers.ofString(form))
                .build());
    if (r.statusCode() != 200) {
      throw new IllegalStateException("token endpoint answered " + r.statusCode());
    }
    try {
      return com.nimbusds.jose.util.JSONObjectUtils.parse(r.body());
    } catch (java.text.ParseException e) {
      throw new IllegalStateException("token endpoint answered no JSON", e);
    }
  }

  private static HttpResponse<String> send(HttpRequest request) {
    try (HttpClient http = HttpClient.newHttpClient()) {
      return http.send(request, HttpResponse.BodyHandlers.ofString());
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException(e);
    }
  }

  /** The RSA key (with its private part) the server holds for {@code keyId}. */
  public RSAKey rsaKey(String keyId) {
    return keys.signingKey(keyId).toRSAKey();
  }

  /** A token of issuer {@code id}, signed with its key; adjust before {@link TokenBuilder#sign}. */
  public TokenBuilder token(String id) {
    return new TokenBuilder(id);
  }

  /** Adds the key of {@code keyId} to the JWKS of issuer {@code id} (a rotation's first step). */
  public void publish(String id, String keyId) {
    keysOf(id).add(keyId);
  }

  /** Removes the key of {@code keyId} from the JWKS of issuer {@code id}. */
  public void retract(String id, String keyId) {
    keysOf(id).remove(keyId);
  }

  /** Adds a key the server does not hold (EC, Ed25519) to the JWKS of issuer {@code id}. */
  public void publishJwk(String id, JWK publicKey) {
    extraJwks.computeIfAbsent(id, k -> new CopyOnWriteArrayList<>()).add(publicKey.toPublicJWK());
  }

  /** Makes the discovery document of {@code id} name another issuer (a mix-up attack). */
  public void advertiseIssuer(String id, String issuer) {
    advertisedIssuer.put(id, issuer);
  }

  /** While set, discovery and JWKS answer 503. */
  public void failing(boolean failing) {
    this.failing = failing;
  }

  /**
   * Until {@link #introspectionAnswersNormally}, every issuer's introspection endpoint ({@code
   * /<id>/introspect}) answers with this status and JSON body instead of introspecting: a broken or
   * misconfigured authorization server.
   */
  public void introspectionAnswers(int status, String body) {
    this.introspectionFault =
        new OAuth2HttpResponse(Headers.of("Content-Type", "application/json"), status, body, null);
  }

  /** The introspection endpoints introspect again. */
  public void introspectionAnswersNormally() {
    this.introspectionFault = null;
  }

  /** Matches introspection requests only while a fault is set; otherwise the server's own route. */
  private final class Fault implements Route {
    @Override
    public boolean match(OAuth2HttpRequest request) {
      return introspectionFault != null && request.getUrl().encodedPath().endsWith("/introspect");
    }

    @Override
    public OAuth2HttpResponse invoke(OAuth2HttpRequest request) {
      OAuth2HttpResponse fault = introspectionFault;
      return fault != null ? fault : unavailable();
    }
  }

  /** JWKS requests for issuer {@code id} so far, counted by the server. */
  public int jwksRequests(String id) {
    return jwksRequests.computeIfAbsent(id, k -> new AtomicInteger()).get();
  }

  /** Discovery requests for issuer {@code id} so far, counted by the server. */
  public int discoveryRequests(String id) {
    return discoveryRequests.computeIfAbsent(id, k -> new AtomicInteger()).get();
  }

  /** Stops the server: connections are refused from now on. */
  public void stop() {
    server.shutdown();
  }

  @Override
  public void close() {
    try {
      server.shutdown();
    } catch (Exception e) {
      // already stopped
    }
  }

  private List<String> keysOf(String id) {
    return published.computeIfAbsent(id, k -> new CopyOnWriteArrayList<>(List.of(k)));
  }

  private OAuth2HttpResponse jwks(OAuth2HttpRequest request) {
    String id = request.getUrl().pathSegments().get(0);
    jwksRequests.computeIfAbsent(id, k -> new AtomicInteger()).incrementAndGet();
    if (failing) {
      return unavailable();
    }
    List<JWK> out = new ArrayList<>();
    for (String keyId : keysOf(id)) {
      out.add(keys.signingKey(keyId).toPublicJWK());
    }
    out.addAll(extraJwks.getOrDefault(id, List.of()));
    return new OAuth2HttpResponse(
        Headers.of("Content-Type", "application/json"), 200, new JWKSet(out).toString(true), null);
  }

  private OAuth2HttpResponse discovery(OAuth2HttpRequest request) {
    String id = request.getUrl().pathSegments().get(0);
    discoveryRequests.computeIfAbsent(id, k -> new AtomicInteger()).incrementAndGet();
    if (failing) {
      return unavailable();
    }
    WellKnown wellKnown = request.toWellKnown();
    String advertised = advertisedIssuer.get(id);
    if (advertised == null) {
      return OAuth2HttpResponseKt.json(wellKnown);
    }
    return OAuth2HttpResponseKt.json(
        Map.of("issuer", advertised, "jwks_uri", wellKnown.getJwksUri()));
  }

  private static OAuth2HttpResponse unavailable() {
    return new OAuth2HttpResponse(
        Headers.of("Content-Type", "text/plain"), 503, "unavailable", null);
  }

  /** Builds one signed token; defaults: sub alice, aud orders-api, azp web-app, valid 1 h. */
  public final class TokenBuilder {
    private final Map<String, Object> claims = new LinkedHashMap<>();
    private String keyId;
    private boolean namesKey = true;
    private boolean typed = true;
    private final Map<String, Object> header = new LinkedHashMap<>();

    private TokenBuilder(String id) {
      this.keyId = id;
      Instant now = clock.instant();
      claims.put("iss", issuer(id).toString());
      claims.put("sub", "alice");
      claims.put("aud", "orders-api");
      claims.put("azp", "web-app");
      claims.put("iat", Date.from(now));
      claims.put("nbf", Date.from(now));
      claims.put("exp", Date.from(now.plus(Duration.ofHours(1))));
    }

    public TokenBuilder claim(String name, Object value) {
      claims.put(name, value instanceof Instant t ? Date.from(t) : value);
      return this;
    }

    public TokenBuilder without(String name) {
      claims.remove(name);
      return this;
    }

    public TokenBuilder expiresAt(Instant exp) {
      return claim("exp", exp);
    }

    public TokenBuilder notBefore(Instant nbf) {
      return claim("nbf", nbf);
    }

    /** Signs with the key the server holds for {@code keyId} (and names it in {@code kid}). */
    public TokenBuilder signedWith(String keyId) {
      this.keyId = keyId;
      return this;
    }

    /** Leaves {@code kid} out of the header (some identity providers do). */
    public TokenBuilder withoutKeyId() {
      this.namesKey = false;
      return this;
    }

    /** Leaves {@code typ} out of the header (by default it is {@code JWT}). */
    public TokenBuilder withoutType() {
      this.typed = false;
      return this;
    }

    /** Adds a header parameter (e.g. {@code crit}, {@code jku}); it is signed like the rest. */
    public TokenBuilder header(String name, Object value) {
      header.put(name, value);
      return this;
    }

    public JWTClaimsSet claims() {
      JWTClaimsSet.Builder b = new JWTClaimsSet.Builder();
      claims.forEach(b::claim);
      return b.build();
    }

    public String sign() {
      RSAKey key = rsaKey(keyId);
      JWSHeader.Builder h =
          new JWSHeader.Builder(JWSAlgorithm.RS256)
              .keyID(namesKey ? key.getKeyID() : null)
              .type(typed ? JOSEObjectType.JWT : null);
      header.forEach(
          (name, value) -> {
            if (name.equals("crit")) {
              @SuppressWarnings("unchecked")
              Set<String> crit = (Set<String>) value;
              h.criticalParams(crit);
            } else if (name.equals("typ")) {
              h.type(new JOSEObjectType((String) value));
            } else {
              h.customParam(name, value);
            }
          });
      SignedJWT jwt = new SignedJWT(h.build(), claims());
      try {
        jwt.sign(new RSASSASigner(key));
      } catch (JOSEException e) {
        throw new IllegalStateException(e);
      }
      return jwt.serialize();
    }
  }
}
