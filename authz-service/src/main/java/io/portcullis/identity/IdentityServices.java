package io.portcullis.identity;

import java.util.List;

/**
 * Makes the credential verifiers a policy asks for. The service passes one that shares JWKS caches,
 * the key store and HTTP clients across policy reloads; {@code policy check} and policy tests pass
 * {@link #offline()}, which never touches the network.
 */
public interface IdentityServices {

  /** One verifier for all the policy's JWT issuers (a token is parsed once, then routed by iss). */
  BearerTokenVerifier jwt(List<JwtIssuerConfig> issuers);

  /** A verifier for one introspection endpoint. */
  BearerTokenVerifier introspection(IntrospectionConfig endpoint);

  /** The API-key verifier backed by the key store. */
  ApiKeyVerifier apiKeys();

  /**
   * Verifiers that reject every credential without I/O ({@code invalid_token} / {@code
   * unknown_key}): for validating and testing policies offline.
   */
  static IdentityServices offline() {
    return new IdentityServices() {
      @Override
      public BearerTokenVerifier jwt(List<JwtIssuerConfig> issuers) {
        return token ->
            Verification.rejected(
                io.portcullis.decision.Reason.INVALID_TOKEN, "offline: tokens are not verified");
      }

      @Override
      public BearerTokenVerifier introspection(IntrospectionConfig endpoint) {
        return token ->
            Verification.rejected(
                io.portcullis.decision.Reason.INVALID_TOKEN, "offline: tokens are not verified");
      }

      @Override
      public ApiKeyVerifier apiKeys() {
        return key ->
            Verification.rejected(
                io.portcullis.decision.Reason.UNKNOWN_KEY, "offline: keys are not verified");
      }
    };
  }
}
