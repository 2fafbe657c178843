package io.portcullis.identity;

import io.portcullis.decision.Reason;
import io.portcullis.request.RequestAttributes;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Objects;
import java.util.Set;
import org.jspecify.annotations.Nullable;

/**
 * The {@link IdentityResolver} of a policy: extracts the credentials a request presents and
 * verifies each with the verifier the policy configures.
 *
 * <ul>
 *   <li>{@code Authorization: Bearer <token>}: a JWT (tried first, when JWT issuers are configured)
 *       or an opaque token (introspection: each endpoint in policy order until one vouches for it;
 *       without a voucher, {@code identity_unavailable} if an endpoint could not answer, else the
 *       last endpoint's {@code inactive_token}). A bearer token no verifier handles is {@code
 *       invalid_token}; so is a bearer token that starts like a Portcullis API key ({@link
 *       ApiKeyVerifier#KEY_PREFIX}): an API key sent with the wrong scheme is never passed to a
 *       token verifier, so that its secret never reaches an introspection endpoint.
 *   <li>{@code Authorization: ApiKey <key>} or one of the policy's API-key headers: an API key.
 *       Several different keys in one request (also a repeated header) are {@code invalid_token};
 *       so is {@code Authorization: ApiKey} under a policy without API keys, like a bearer token
 *       under a policy without token verifiers.
 *   <li>Repeated {@code Authorization} headers (joined with ",") that hide a Bearer or ApiKey
 *       credential behind another one are {@code invalid_token}.
 *   <li>Envoy's {@code source.principal}: the mTLS peer, when the policy configures {@code mtls};
 *       otherwise the peer certificate is not a credential.
 *   <li>Other {@code Authorization} schemes (Basic, Digest) are not Portcullis credentials: they
 *       pass through to the upstream untouched.
 *   <li>Tokens in the query string are never read.
 * </ul>
 *
 * <p>Every presented credential must verify. The identity is the first present in the order jwt,
 * introspection, api_key, mtls (spec decision step 3), with one addition: a verified API key's id
 * ({@link Identity#apiKeyId()}) is kept when a bearer token gives the principal, so that limits
 * keyed on {@code api_key} still count the key. Thread-safe.
 */
public final class CredentialChain implements IdentityResolver {
  public static final String AUTHORIZATION = "authorization";
  private static final String BEARER = "Bearer";
  private static final String API_KEY = "ApiKey";
  private static final Verification API_KEY_AS_BEARER =
      Verification.rejected(
          Reason.INVALID_TOKEN, "an API key sent as a bearer token; send it as 'ApiKey <key>'");

  private final List<BearerTokenVerifier> bearerVerifiers;
  private final List<BearerTokenVerifier> introspection;
  private final @Nullable ApiKeyVerifier apiKeys;
  private final List<String> apiKeyHeaders;
  private final @Nullable PeerVerifier peers;
  private final Set<String> credentialHeaders;

  private CredentialChain(Builder b) {
    this.bearerVerifiers = List.copyOf(b.bearerVerifiers);
    this.introspection = List.copyOf(b.introspection);
    this.apiKeys = b.apiKeys;
    this.apiKeyHeaders = b.apiKeys == null ? List.of() : List.copyOf(b.apiKeyHeaders);
    this.peers = b.peers;
    Set<String> headers = new LinkedHashSet<>();
    headers.add(AUTHORIZATION);
    headers.addAll(apiKeyHeaders);
    this.credentialHeaders = Set.copyOf(headers);
  }

  public static Builder builder() {
    return new Builder();
  }

  @Override
  public Set<String> credentialHeaders() {
    return credentialHeaders;
  }

  @Override
  public Verification resolve(RequestAttributes request) {
    return resolve(request, true);
  }

  @Override
  public Verification resolve(RequestAttributes request, boolean countUse) {
    String bearer = null;
    String apiKey = null;
    String authorization = request.header(AUTHORIZATION);
    if (authorization != null) {
      if (smuggledCredential(authorization)) {
        // Repeated Authorization headers arrive joined with "," (RFC 9110 §5.3): a Bearer or
        // ApiKey behind another scheme would otherwise pass to the upstream unverified.
        return Verification.rejected(
            Reason.INVALID_TOKEN, "several credentials in Authorization headers");
      }
      // Leading whitespace is skipped, as isPortcullisCredential does: "  Bearer x" must not pass
      // to the upstream as an anonymous request carrying a token Portcullis never verified.
      int from = schemeStart(authorization);
      int sp = schemeEnd(authorization, from);
      // One copy of the credential, not three (scheme, rest, trimmed rest): a token is ~1 KB and
      // this runs for every request. Bounds trimmed as String.trim does (every char <= ' ').
      int start = sp;
      int end = authorization.length();
      while (start < end && authorization.charAt(start) <= ' ') {
        start++;
      }
      while (end > start && authorization.charAt(end - 1) <= ' ') {
        end--;
      }
      String value = authorization.substring(start, end);
      if (isScheme(authorization, from, sp, BEARER)) {
        if (value.isEmpty()) {
          return Verification.rejected(Reason.INVALID_TOKEN, "empty bearer token");
        }
        bearer = value;
      } else if (isScheme(authorization, from, sp, API_KEY)) {
        if (apiKeys == null) {
          return Verification.rejected(
              Reason.INVALID_TOKEN, "API keys are not accepted by this policy");
        }
        if (value.isEmpty()) {
          return Verification.rejected(Reason.INVALID_TOKEN, "empty API key");
        }
        apiKey = value;
      }
    }
    for (String h : apiKeyHeaders) {
      String v = request.header(h);
      if (v == null) {
        continue;
      }
      // A header sent several times arrives joined with ","; each value is a presented key.
      for (String part : v.split(",", -1)) {
        String presented = part.trim();
        if (presented.isEmpty()) {
          return Verification.rejected(Reason.INVALID_TOKEN, "empty API key in " + h);
        }
        if (apiKey != null && !apiKey.equals(presented)) {
          return Verification.rejected(
              Reason.INVALID_TOKEN, "several different API keys presented");
        }
        apiKey = presented;
      }
    }
    String peer = peers == null ? "" : request.sourcePrincipal();

    Identity first = null;
    // Precedence jwt, introspection (both bearer), api_key, mtls: verify all, keep the first.
    if (bearer != null) {
      Verification v = verifyBearer(bearer);
      if (v instanceof Verification.Rejected) {
        return v;
      }
      first = ((Verification.Verified) v).identity();
    }
    if (apiKey != null) {
      Verification v = Objects.requireNonNull(apiKeys).verify(apiKey, countUse);
      if (v instanceof Verification.Rejected) {
        return v;
      }
      Identity key = ((Verification.Verified) v).identity();
      // A bearer token wins the principal, but the key was presented and verified: the request
      // keeps its api_key attribute, else a limit keyed on api_key would not apply and a caller
      // could escape its per-key limit by adding any valid token to its keyed requests.
      first = first == null ? key : first.withApiKeyId(key.apiKeyId());
    }
    if (!peer.isEmpty()) {
      Verification v = Objects.requireNonNull(peers).verify(peer);
      if (v instanceof Verification.Rejected) {
        return v;
      }
      if (first == null) {
        first = ((Verification.Verified) v).identity();
      }
    }
    return Verification.verified(first == null ? Identity.anonymous() : first);
  }

  /**
   * Whether a joined Authorization value carries a Bearer or ApiKey credential after a comma. Other
   * schemes' parameters (Digest's {@code realm="x", nonce="y"}) are not schemes and do not count.
   */
  private static boolean smuggledCredential(String authorization) {
    int comma = authorization.indexOf(',');
    while (comma >= 0) {
      String rest = authorization.substring(comma + 1).stripLeading();
      String scheme = rest.substring(0, schemeEnd(rest));
      if (scheme.equalsIgnoreCase(BEARER) || scheme.equalsIgnoreCase(API_KEY)) {
        return true;
      }
      comma = authorization.indexOf(',', comma + 1);
    }
    return false;
  }

  /**
   * Whether {@code authorization}'s chars from {@code from} to {@code schemeEnd} are {@code
   * scheme}, any case.
   */
  private static boolean isScheme(String authorization, int from, int schemeEnd, String scheme) {
    return schemeEnd - from == scheme.length()
        && authorization.regionMatches(true, from, scheme, 0, scheme.length());
  }

  /**
   * Where the auth-scheme of an {@code Authorization} value ends: at the first space or tab (RFC
   * 9110 §11.4 allows either around the credentials; upstreams that split on any whitespace would
   * otherwise accept a {@code Bearer<TAB>token} that Portcullis never verified).
   */
  private static int schemeEnd(String authorization) {
    return schemeEnd(authorization, 0);
  }

  /** As {@link #schemeEnd(String)}, for a scheme that starts at {@code from}. */
  private static int schemeEnd(String authorization, int from) {
    for (int i = from; i < authorization.length(); i++) {
      char c = authorization.charAt(i);
      if (c == ' ' || c == '\t') {
        return i;
      }
    }
    return authorization.length();
  }

  /**
   * Whether an {@code Authorization} value carries a credential Portcullis verifies ({@code Bearer}
   * or {@code ApiKey}, any case): such headers are stripped before the upstream under {@code
   * strip_credentials}; other schemes pass through.
   */
  public static boolean isPortcullisCredential(String authorization) {
    // the same parse as resolve's, without copying the (often 1 KB) value: this runs on every allow
    int from = schemeStart(authorization);
    int end = schemeEnd(authorization, from);
    return isScheme(authorization, from, end, BEARER)
        || isScheme(authorization, from, end, API_KEY);
  }

  /** Where the auth-scheme starts: after any leading whitespace (every char <= ' '). */
  private static int schemeStart(String authorization) {
    int from = 0;
    while (from < authorization.length() && authorization.charAt(from) <= ' ') {
      from++;
    }
    return from;
  }

  private Verification verifyBearer(String token) {
    if (token.startsWith(ApiKeyVerifier.KEY_PREFIX)) {
      return API_KEY_AS_BEARER;
    }
    for (BearerTokenVerifier verifier : bearerVerifiers) {
      Verification v = verifier.verify(token);
      if (v != null) {
        return v;
      }
    }
    // First every endpoint's cache (no I/O): a token one endpoint vouched for is not held up by
    // another's outage. Then the endpoints in policy order until one vouches: a token inactive
    // at one endpoint may be another's. An endpoint that cannot answer ends the search with
    // identity_unavailable: the token may be that endpoint's, and a live token of an endpoint
    // that is down must not be sent on to the next one. Without a voucher the last endpoint's
    // inactive_token decides. Any other answer (an active token without a subject, a token too
    // large) is final.
    for (BearerTokenVerifier endpoint : introspection) {
      Verification.Verified cached = endpoint.cachedVerified(token);
      if (cached != null) {
        return cached;
      }
    }
    Verification.Rejected inactive = null;
    for (BearerTokenVerifier endpoint : introspection) {
      switch (endpoint.verify(token)) {
        case null -> {}
        case Verification.Verified v -> {
          return v;
        }
        case Verification.Rejected r when r.reason() == Reason.INACTIVE_TOKEN -> inactive = r;
        case Verification.Rejected r -> {
          return r;
        }
      }
    }
    if (inactive != null) {
      return inactive;
    }
    return Verification.rejected(
        Reason.INVALID_TOKEN,
        bearerVerifiers.isEmpty() && introspection.isEmpty()
            ? "bearer tokens are not accepted by this policy"
            : "token not issued by a trusted issuer");
  }

  @Override
  public String toString() {
    return "CredentialChain[bearer="
        + bearerVerifiers.size()
        + ", introspection="
        + introspection.size()
        + ", apiKeys="
        + (apiKeys != null)
        + ", mtls="
        + (peers != null)
        + "]";
  }

  /** Builds a {@link CredentialChain}; not thread-safe. */
  public static final class Builder {
    private final List<BearerTokenVerifier> bearerVerifiers = new java.util.ArrayList<>();
    private final List<BearerTokenVerifier> introspection = new java.util.ArrayList<>();
    private @Nullable ApiKeyVerifier apiKeys;
    private final List<String> apiKeyHeaders = new java.util.ArrayList<>();
    private @Nullable PeerVerifier peers;

    private Builder() {}

    /**
     * Adds a bearer verifier that decides every token it does not pass on ({@code null}): the JWT
     * verifier. Bearer verifiers are asked before the introspection endpoints, in the order added.
     */
    public Builder bearer(BearerTokenVerifier verifier) {
      bearerVerifiers.add(verifier);
      return this;
    }

    /**
     * Adds an introspection endpoint's verifier. Endpoints are asked in the order added, after the
     * bearer verifiers, until one vouches for the token: {@code inactive_token} moves on to the
     * next; {@code identity_unavailable} (an endpoint that cannot answer, or has all its calls
     * taken) ends the search.
     */
    public Builder introspection(BearerTokenVerifier endpoint) {
      introspection.add(endpoint);
      return this;
    }

    /** Accepts API keys in these headers and in {@code Authorization: ApiKey}. */
    public Builder apiKeys(ApiKeyVerifier verifier, List<String> headers) {
      this.apiKeys = verifier;
      for (String h : headers) {
        apiKeyHeaders.add(h.toLowerCase(Locale.ROOT));
      }
      return this;
    }

    public Builder peers(PeerVerifier verifier) {
      this.peers = verifier;
      return this;
    }

    public CredentialChain build() {
      return new CredentialChain(this);
    }
  }
}
