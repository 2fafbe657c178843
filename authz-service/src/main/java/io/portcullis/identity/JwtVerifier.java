package io.portcullis.identity;

import com.github.benmanes.caffeine.cache.Cache;
import com.nimbusds.jose.JOSEException;
import com.nimbusds.jose.JWSAlgorithm;
import com.nimbusds.jose.JWSHeader;
import com.nimbusds.jose.JWSVerifier;
import com.nimbusds.jose.PlainHeader;
import com.nimbusds.jose.jwk.Curve;
import com.nimbusds.jose.jwk.JWK;
import com.nimbusds.jose.jwk.JWKMatcher;
import com.nimbusds.jose.jwk.KeyType;
import com.nimbusds.jose.jwk.KeyUse;
import com.nimbusds.jose.proc.JWSVerifierFactory;
import com.nimbusds.jose.util.Base64URL;
import com.nimbusds.jwt.JWTClaimsSet;
import com.nimbusds.jwt.SignedJWT;
import io.portcullis.decision.Reason;
import io.portcullis.digest.Sha256;
import java.nio.ByteBuffer;
import java.security.PublicKey;
import java.text.ParseException;
import java.time.Duration;
import java.time.Instant;
import java.time.InstantSource;
import java.util.ArrayList;
import java.util.Date;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import org.jspecify.annotations.Nullable;

/**
 * Verifies JWT access tokens (RFC 7519, RFC 9068) of all of one policy's trusted issuers. Made by
 * {@link JwtVerifiers#forIssuers}, which shares the issuers' key sources and the token caches.
 *
 * <p>Design. A token is parsed once, then routed by its (unverified) {@code iss}: a token of an
 * issuer the policy does not trust is "not mine" ({@code null}), so that an introspection verifier
 * may try it. For a trusted issuer, in this order: the header's {@code alg} must be on the issuer's
 * allow-list (never {@code none}, never HMAC — RFC 8725 §3.1/§3.2); {@code crit} must be absent (we
 * understand no extensions, RFC 7515 §4.1.11); {@code typ} must not name another kind of JWT
 * ({@code logout+jwt}, ...) and, for an issuer with {@code token_types}, must be one of them (RFC
 * 9068 {@code at+jwt}: an ID token, typed {@code JWT}, is then refused); the key is chosen by
 * {@code kid}, key type and curve from the issuer's JWKS only — {@code jku}, {@code x5u}, {@code
 * jwk} and {@code x5c} are never read, so a key or key URL supplied by the token cannot sign for it
 * (RFC 8725 §3.10); the signature is verified; then the claims with the injected clock: {@code iss}
 * exact, {@code aud} contains an accepted audience, {@code exp} present and {@code now < exp +
 * skew}, {@code nbf} and {@code iat} not after {@code now + skew}.
 *
 * <p>Only a token that parses as a JWS naming a trusted issuer is this verifier's. Anything else is
 * "not mine" and left to introspection (or, without it, {@code invalid_token} from {@link
 * CredentialChain}): an opaque token without dots, an opaque token that happens to have two or four
 * dots, and a JWE (Portcullis verifies signed access tokens only; an introspection endpoint may
 * know an encrypted one). A token that must not be passed on is refused instead: one whose payload
 * names a trusted issuer but is not a valid claims set, and an unsecured ({@code alg: none}) JWT.
 *
 * <p>Caches, keyed by SHA-256 of the token (the token itself is never stored): verified tokens
 * until {@code min(exp + skew, now + maxAge)}, re-checked against the clock on every hit, so a hit
 * costs one hash and one map lookup — no parsing, no signature check. {@code maxAge} bounds how
 * long a token signed with a key the issuer has since withdrawn can still be served. Rejections
 * that no later time or key refresh can change (bad signature, disallowed algorithm, wrong
 * audience, expired, malformed claims) go to a small negative cache with a short TTL, so a flood of
 * one bad token costs one signature check per TTL (a token that does not parse as a JWS is
 * remembered there too, as "not mine"); rejections that may change (unknown key, issuer down, not
 * yet valid) are never cached.
 *
 * <p>Rejection details name the issuer by its policy name and never contain the token or any value
 * read from it, save a refused {@code typ} that reads as a media type ({@link #typed}).
 * Thread-safe; {@link #verify} never throws.
 */
public final class JwtVerifier implements BearerTokenVerifier {

  /** Longer tokens are rejected before any parsing. */
  static final int MAX_TOKEN_CHARS = 32 * 1024;

  /** With no {@code kid}, at most this many of the issuer's matching keys are tried. */
  static final int MAX_CANDIDATE_KEYS = 4;

  /**
   * Kept in the negative cache for a token that does not parse as a JWS: "not mine" again on a hit
   * (compared by identity, never answered).
   */
  private static final Verification.Rejected UNPARSEABLE =
      new Verification.Rejected(Reason.INVALID_TOKEN, "not a signed JWT");

  private final int scope;
  private final Map<String, TrustedIssuer> byIssuer;
  private final Cache<TokenKey, VerifiedToken> verified;
  private final Cache<TokenKey, Verification.Rejected> rejected;
  private final InstantSource clock;
  private final Duration maxAge;
  private final JWSVerifierFactory signatures;

  JwtVerifier(
      int scope,
      List<TrustedIssuer> issuers,
      JwtVerifiers.TokenCaches caches,
      InstantSource clock,
      JWSVerifierFactory signatures) {
    this.scope = scope;
    Map<String, TrustedIssuer> map = new HashMap<>();
    for (TrustedIssuer t : issuers) {
      if (map.put(t.iss(), t) != null) {
        throw new IllegalArgumentException("issuer configured twice: " + t.iss());
      }
    }
    this.byIssuer = Map.copyOf(map);
    this.verified = caches.verified();
    this.rejected = caches.rejected();
    this.maxAge = caches.verifiedMaxAge();
    this.clock = clock;
    this.signatures = signatures;
  }

  @Override
  public @Nullable Verification verify(String token) {
    if (token.length() > MAX_TOKEN_CHARS) {
      return new Verification.Rejected(Reason.INVALID_TOKEN, "token too large");
    }
    if (!joseShaped(token)) {
      return null;
    }
    TokenKey key = TokenKey.of(scope, token);
    VerifiedToken hit = verified.getIfPresent(key);
    if (hit != null) {
      Instant now = clock.instant();
      if (now.isBefore(hit.cacheUntil())) {
        return hit.verification();
      }
      verified.invalidate(key);
      if (!now.isBefore(hit.validUntil())) {
        return new Verification.Rejected(
            Reason.EXPIRED_TOKEN, "token of issuer '" + hit.issuerName() + "' expired");
      }
      // older than the cache's max age but not expired: verify afresh below
    }
    Verification.Rejected known = rejected.getIfPresent(key);
    if (known == UNPARSEABLE) {
      return null;
    }
    if (known != null) {
      return known;
    }
    Outcome outcome;
    try {
      outcome = check(token);
    } catch (RuntimeException e) {
      // Never let a malformed token escape as an exception; never echo what the parser saw.
      // Not cached: the failure may not be the token's.
      outcome =
          new Refused(new Verification.Rejected(Reason.INVALID_TOKEN, "malformed token"), false);
    }
    return switch (outcome) {
      case NotMine n -> {
        if (n == NotMine.UNPARSEABLE) {
          // parsed once per TTL, like a refusal: a flood of one such token costs no exception each
          rejected.put(key, UNPARSEABLE);
        }
        yield null;
      }
      case Accepted a -> {
        verified.put(key, a.token());
        yield a.token().verification();
      }
      case Refused r -> {
        if (r.cacheable()) {
          rejected.put(key, r.rejection());
        }
        yield r.rejection();
      }
    };
  }

  private Outcome check(String token) {
    if (countDots(token) == 4) {
      return NotMine.UNPARSEABLE; // a JWE: not a signed token of ours; perhaps introspection's
    }
    SignedJWT jwt;
    try {
      jwt = SignedJWT.parse(token);
    } catch (ParseException | IllegalArgumentException e) {
      // An unsecured JWT is made to look like one of ours: refused, never passed on.
      return unsecured(token)
          ? refuse("unsecured tokens (alg none) are not accepted")
          : NotMine.UNPARSEABLE;
    }
    JWTClaimsSet claims;
    try {
      claims = jwt.getJWTClaimsSet();
    } catch (ParseException | IllegalArgumentException e) {
      TrustedIssuer named = trusted(rawIssuer(jwt));
      return named == null
          ? NotMine.UNPARSEABLE
          : refuse("malformed token of issuer '" + named.config().name() + "'");
    }
    TrustedIssuer issuer = trusted(claims.getIssuer());
    if (issuer == null) {
      return NotMine.FOREIGN;
    }
    String name = issuer.config().name();
    JWSHeader header = jwt.getHeader();
    JWSAlgorithm alg = header.getAlgorithm();
    if (!issuer.algorithms().contains(alg)) {
      return refuse("algorithm not allowed for issuer '" + name + "'");
    }
    Set<String> crit = header.getCriticalParams();
    if (crit != null && !crit.isEmpty()) {
      return refuse("unsupported critical header parameter in a token of issuer '" + name + "'");
    }
    String typ =
        header.getType() == null ? null : JwtIssuerConfig.tokenType(header.getType().getType());
    if (typ != null && JwtIssuerConfig.OTHER_JWT_TYPES.contains(typ)) {
      // A token the issuer typed as something else (RFC 8725 §3.11: explicit typing prevents
      // one kind of JWT from being used as another): a logout token or a security event signed
      // with the same key must not pass as an access token. ID tokens carry no type of their own.
      return refuse("token of issuer '" + name + "' is typed as another kind of JWT");
    }
    Set<String> tokenTypes = issuer.config().tokenTypes();
    if (!tokenTypes.isEmpty() && (typ == null || !tokenTypes.contains(typ))) {
      // token_types: [at+jwt] (RFC 9068 §2.1): an ID token (typ JWT, aud a client id the issuer
      // also accepts) or any other JWT the issuer signs is not an access token here.
      return refuse(
          "token of issuer '"
              + name
              + "' "
              + (typ == null ? "has no typ" : typed(header.getType().getType()))
              + "; the issuer's token_types are "
              + String.join(", ", new TreeSet<>(tokenTypes)));
    }

    // Signature, with a key from the issuer's JWKS only (never from the token's header).
    List<JWK> candidates;
    switch (issuer.keys().find(matcher(alg, header.getKeyID()))) {
      case IssuerKeys.Found f -> candidates = f.keys();
      case IssuerKeys.NotFound n -> {
        return new Refused(
            new Verification.Rejected(
                Reason.INVALID_TOKEN, "no signing key of issuer '" + name + "' matches the token"),
            false);
      }
      case IssuerKeys.Unavailable u -> {
        return new Refused(
            new Verification.Rejected(
                Reason.IDENTITY_UNAVAILABLE, "signing keys of issuer '" + name + "' unavailable"),
            false);
      }
    }
    if (!signatureVerifies(jwt, candidates)) {
      if (header.getKeyID() != null) {
        return refuse("signature does not verify with the keys of issuer '" + name + "'");
      }
      // Without a kid every current key was a candidate, so a miss never refreshed the key set:
      // the signer may be a key rotated in since. Refresh once (rate-limited) and try the new
      // keys. The refusal is cached either way: a flood of one forged kid-less token must cost a
      // cache lookup, not a refresh attempt and signature checks each; a genuine token of a key
      // rotated in during a rate-limited window is tried again when the refusal expires.
      List<JWK> fresh = issuer.keys().refreshedBeyond(matcher(alg, null), candidates);
      if (fresh == null || !signatureVerifies(jwt, fresh)) {
        return refuse("signature does not verify with the keys of issuer '" + name + "'");
      }
    }

    // Claims, with the injected clock.
    Instant now = clock.instant();
    Duration skew = issuer.config().clockSkew();
    Date exp = claims.getExpirationTime();
    if (exp == null) {
      return refuse("token of issuer '" + name + "' has no valid exp");
    }
    Instant validUntil = exp.toInstant().plus(skew);
    if (!now.isBefore(validUntil)) {
      return new Refused(
          new Verification.Rejected(Reason.EXPIRED_TOKEN, "token of issuer '" + name + "' expired"),
          true);
    }
    Date nbf = claims.getNotBeforeTime();
    if (nbf == null && claims.getClaim("nbf") != null) {
      return refuse("token of issuer '" + name + "' has a malformed nbf");
    }
    if (nbf != null && nbf.toInstant().isAfter(now.plus(skew))) {
      return new Refused(
          new Verification.Rejected(
              Reason.INVALID_TOKEN, "token of issuer '" + name + "' is not valid yet"),
          false);
    }
    Date iat = claims.getIssueTime();
    if (iat == null && claims.getClaim("iat") != null) {
      return refuse("token of issuer '" + name + "' has a malformed iat");
    }
    if (iat != null && iat.toInstant().isAfter(now.plus(skew))) {
      return new Refused(
          new Verification.Rejected(
              Reason.INVALID_TOKEN, "token of issuer '" + name + "' was issued in the future"),
          false);
    }
    List<String> audience = claims.getAudience();
    // "aud": [null] parses to a null element, and List.copyOf's contains throws on null
    if (audience.stream().noneMatch(a -> a != null && issuer.config().audiences().contains(a))) {
      return refuse("token audience is not accepted by issuer '" + name + "'");
    }
    Identity identity =
        issuer
            .config()
            .claims()
            .identity(CredentialType.JWT, claims.getClaims(), exp.toInstant(), name);
    if (identity == null) {
      return refuse("token of issuer '" + name + "' has no usable subject");
    }
    Instant cap = now.plus(maxAge);
    return new Accepted(
        new VerifiedToken(
            new Verification.Verified(identity),
            validUntil,
            validUntil.isBefore(cap) ? validUntil : cap,
            name));
  }

  /**
   * {@code is typed 'JWT'}: the {@code typ} for a rejection detail, quoted only when it reads as a
   * media type (at most 64 characters, {@code type/subtype} or a subtype alone); anything else is
   * not shown, as a detail carries no other text read from the token.
   */
  static String typed(String typ) {
    int slash = typ.indexOf('/');
    boolean plausible =
        typ.length() <= 64
            && (slash < 0
                ? JwtIssuerConfig.isMediaSubtype(typ)
                : JwtIssuerConfig.isMediaSubtype(typ.substring(0, slash))
                    && JwtIssuerConfig.isMediaSubtype(typ.substring(slash + 1)));
    return plausible ? "is typed '" + typ + "'" : "has a typ that is not a media type";
  }

  private boolean signatureVerifies(SignedJWT jwt, List<JWK> candidates) {
    byte[] signingInput = jwt.getSigningInput();
    Base64URL signature = jwt.getSignature();
    int tried = 0;
    for (JWK jwk : candidates) {
      if (tried++ == MAX_CANDIDATE_KEYS) {
        break;
      }
      PublicKey key = AsymmetricJwsVerifiers.publicKey(jwk);
      if (key == null) {
        continue;
      }
      try {
        JWSVerifier verifier = signatures.createJWSVerifier(jwt.getHeader(), key);
        if (verifier.verify(jwt.getHeader(), signingInput, signature)) {
          return true;
        }
      } catch (JOSEException | RuntimeException e) {
        // wrong key type or a malformed signature: this key does not verify it
      }
    }
    return false;
  }

  /**
   * Selects issuer keys for {@code alg}: key type (and curve) implied by the algorithm, a signing
   * use or none, the algorithm or none, the header's {@code kid} if it has one, not revoked; RSA
   * keys of at least 2048 bits (RFC 7518 §3.3).
   */
  static JWKMatcher matcher(JWSAlgorithm alg, @Nullable String kid) {
    JWKMatcher.Builder b =
        new JWKMatcher.Builder().keyUses(KeyUse.SIGNATURE, null).keyID(kid).nonRevokedOnly(true);
    if (JWSAlgorithm.Family.RSA.contains(alg)) {
      b.keyType(KeyType.RSA).algorithms(alg, null).minKeySize(2048);
    } else if (JWSAlgorithm.Family.EC.contains(alg)) {
      b.keyType(KeyType.EC).algorithms(alg, null).curves(Curve.forJWSAlgorithm(alg));
    } else {
      b.keyType(KeyType.OKP)
          .algorithms(JWSAlgorithm.EdDSA, JWSAlgorithm.Ed25519, null)
          .curve(Curve.Ed25519);
    }
    return b.build();
  }

  /**
   * The trusted issuer named {@code iss}, or {@code null}. No iss is no issuer of ours; checked
   * before the lookup: the immutable map throws on a null key, and an exception per request made a
   * flood of iss-less tokens cost several times a verified token's work (loadtest/RESULTS.md,
   * finding 10).
   */
  private @Nullable TrustedIssuer trusted(@Nullable String iss) {
    return iss == null ? null : byIssuer.get(iss);
  }

  /** The payload's {@code iss} if it is a JSON object with a string {@code iss}, else null. */
  private static @Nullable String rawIssuer(SignedJWT jwt) {
    Map<String, Object> payload = jwt.getPayload().toJSONObject();
    return payload != null && payload.get("iss") instanceof String iss ? iss : null;
  }

  private static Refused refuse(String detail) {
    return new Refused(new Verification.Rejected(Reason.INVALID_TOKEN, detail), true);
  }

  /** Three (JWS) or five (JWE) dot-separated parts: the compact serialization of RFC 7515/7516. */
  private static boolean joseShaped(String token) {
    int dots = countDots(token);
    return dots == 2 || dots == 4;
  }

  private static int countDots(String token) {
    int dots = 0;
    for (int i = 0; i < token.length(); i++) {
      if (token.charAt(i) == '.') {
        dots++;
      }
    }
    return dots;
  }

  /** Whether the header says {@code alg: none}; only to give the operator a precise reason. */
  private static boolean unsecured(String token) {
    try {
      int dot = token.indexOf('.');
      return dot > 0
          && com.nimbusds.jose.Header.parse(new Base64URL(token.substring(0, dot)))
              instanceof PlainHeader;
    } catch (ParseException | RuntimeException e) {
      return false;
    }
  }

  @Override
  public String toString() {
    List<String> names = new ArrayList<>();
    byIssuer.values().forEach(t -> names.add(t.config().name()));
    names.sort(null);
    return "JwtVerifier" + names;
  }

  // ---- compiled issuers, outcomes and cache entries ----

  /**
   * A trusted issuer as compiled for one policy.
   *
   * @param config the policy's issuer entry
   * @param algorithms the allow-list, parsed
   * @param keys the shared key source
   */
  record TrustedIssuer(JwtIssuerConfig config, Set<JWSAlgorithm> algorithms, IssuerKeys keys) {
    String iss() {
      return config.issuer().toString();
    }
  }

  /**
   * A verified token in the cache.
   *
   * @param verification what to answer
   * @param validUntil {@code exp + skew}: re-checked on every hit
   * @param cacheUntil when the entry leaves the cache ({@code validUntil}, capped by max age)
   * @param issuerName for rejection details
   */
  record VerifiedToken(
      Verification.Verified verification,
      Instant validUntil,
      Instant cacheUntil,
      String issuerName) {}

  private sealed interface Outcome permits NotMine, Accepted, Refused {}

  private enum NotMine implements Outcome {
    /** A JWS of an issuer the policy does not trust, or of none. */
    FOREIGN,
    /** Not a JWS at all (or a JWE): the same token never parses, so the answer is cached. */
    UNPARSEABLE
  }

  private record Accepted(VerifiedToken token) implements Outcome {}

  private record Refused(Verification.Rejected rejection, boolean cacheable) implements Outcome {}

  /**
   * Cache key: the SHA-256 of the token, scoped to one verifier (policy generation), so that a
   * reload with different audiences never serves an old answer. Holds no part of the token.
   */
  record TokenKey(int scope, long h0, long h1, long h2, long h3) {
    static TokenKey of(int scope, String token) {
      ByteBuffer d = ByteBuffer.wrap(Sha256.of(token));
      return new TokenKey(scope, d.getLong(), d.getLong(), d.getLong(), d.getLong());
    }

    @Override
    public String toString() {
      return "TokenKey[scope=" + scope + "]";
    }
  }
}
