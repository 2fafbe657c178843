package io.portcullis.identity;

import org.jspecify.annotations.Nullable;

/**
 * Verifies bearer tokens: JWT access tokens ({@code JwtVerifier}) or opaque tokens by RFC 7662
 * introspection. Implementations cache verified tokens by a cryptographic hash of the token (never
 * the token itself), so a repeated token costs a hash and a lookup.
 *
 * <p>Thread-safe. A cache hit does no I/O; a miss may block for a bounded time (JWKS refresh,
 * introspection call) and fails closed.
 */
public interface BearerTokenVerifier {

  /**
   * Verifies a token.
   *
   * @param token the token from {@code Authorization: Bearer}; never logged
   * @return the verification, or {@code null} if this verifier does not handle such tokens (for
   *     example a JWT whose issuer it does not trust), so that the next verifier may try
   */
  @Nullable Verification verify(String token);

  /**
   * The verified identity this verifier has cached for {@code token}, without any I/O; {@code null}
   * when it has none. The credential chain asks every introspection endpoint's cache before it
   * calls any endpoint, so one endpoint's outage does not hold up tokens another has vouched for.
   */
  default Verification.@Nullable Verified cachedVerified(String token) {
    return null;
  }
}
