package io.portcullis.identity;

import io.portcullis.decision.Reason;
import java.util.List;
import java.util.Objects;
import java.util.function.Function;
import org.jspecify.annotations.Nullable;

/**
 * The {@link IdentityServices} of a running service: verifiers that share JWKS caches, token
 * caches, HTTP clients and the key store across policy reloads.
 */
public final class SharedIdentityServices implements IdentityServices {
  private final JwtVerifiers jwt;
  private final @Nullable Function<IntrospectionConfig, BearerTokenVerifier> introspection;
  private final @Nullable ApiKeyVerifier apiKeys;

  private SharedIdentityServices(Builder b) {
    this.jwt = Objects.requireNonNull(b.jwt, "jwt");
    this.introspection = b.introspection;
    this.apiKeys = b.apiKeys;
  }

  public static Builder builder(JwtVerifiers jwt) {
    return new Builder(jwt);
  }

  @Override
  public BearerTokenVerifier jwt(List<JwtIssuerConfig> issuers) {
    return jwt.forIssuers(issuers);
  }

  @Override
  public BearerTokenVerifier introspection(IntrospectionConfig endpoint) {
    if (introspection == null) {
      return token ->
          Verification.rejected(
              Reason.IDENTITY_UNAVAILABLE, "introspection is not available in this service");
    }
    return introspection.apply(endpoint);
  }

  @Override
  public ApiKeyVerifier apiKeys() {
    if (apiKeys == null) {
      return key ->
          Verification.rejected(Reason.IDENTITY_UNAVAILABLE, "no key store in this service");
    }
    return apiKeys;
  }

  /** Builds {@link SharedIdentityServices}; not thread-safe. */
  public static final class Builder {
    private final JwtVerifiers jwt;
    private @Nullable Function<IntrospectionConfig, BearerTokenVerifier> introspection;
    private @Nullable ApiKeyVerifier apiKeys;

    private Builder(JwtVerifiers jwt) {
      this.jwt = jwt;
    }

    public Builder introspection(Function<IntrospectionConfig, BearerTokenVerifier> factory) {
      this.introspection = factory;
      return this;
    }

    public Builder apiKeys(ApiKeyVerifier verifier) {
      this.apiKeys = verifier;
      return this;
    }

    public SharedIdentityServices build() {
      return new SharedIdentityServices(this);
    }
  }
}
