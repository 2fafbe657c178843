package io.portcullis.identity;

import java.time.Instant;
import java.util.Objects;
import java.util.Set;
import org.jspecify.annotations.Nullable;

/**
 * A verified caller (spec "Identity attributes"). Immutable; safe to cache and share.
 *
 * @param credential how the caller proved itself
 * @param principal JWT {@code sub}, API key id, SPIFFE ID, or {@code anonymous}
 * @param client the customer/application ({@code azp}, the key's client), or {@code null}
 * @param clientType e.g. {@code partner}, or {@code null}
 * @param roles granted roles
 * @param scopes granted OAuth scopes
 * @param apiKeyId the API key's public id when an API key was presented and verified, else {@code
 *     null}; also when another credential (a JWT, an introspected token) gives the principal, so
 *     that limits keyed on {@code api_key} count the key whichever credential wins
 * @param segmentHint a key store's segment hint, else {@code null}
 * @param expiresAt when the credential stops being valid (token {@code exp}, key expiry), or {@code
 *     null}
 */
public record Identity(
    CredentialType credential,
    String principal,
    @Nullable String client,
    @Nullable String clientType,
    Set<String> roles,
    Set<String> scopes,
    @Nullable String apiKeyId,
    @Nullable String segmentHint,
    @Nullable Instant expiresAt,
    @Nullable String issuer) {

  private static final Identity ANONYMOUS =
      new Identity(
          CredentialType.ANONYMOUS,
          "anonymous",
          null,
          null,
          Set.of(),
          Set.of(),
          null,
          null,
          null,
          null);

  public Identity {
    Objects.requireNonNull(credential, "credential");
    Objects.requireNonNull(principal, "principal");
    roles = Set.copyOf(roles);
    scopes = Set.copyOf(scopes);
  }

  /** The caller who presented no credential at all. */
  public static Identity anonymous() {
    return ANONYMOUS;
  }

  /**
   * This identity with the key id of an API key the same request presented and that verified: the
   * principal, credential type, client, roles and scopes stay this identity's (spec: the principal
   * comes from the first credential in precedence order); only the {@code api_key} attribute is
   * added. Returns {@code this} when the id is already the same.
   */
  public Identity withApiKeyId(@Nullable String keyId) {
    if (Objects.equals(keyId, apiKeyId)) {
      return this;
    }
    return new Identity(
        credential,
        principal,
        client,
        clientType,
        roles,
        scopes,
        keyId,
        segmentHint,
        expiresAt,
        issuer);
  }

  public static Builder builder(CredentialType credential, String principal) {
    return new Builder(credential, principal);
  }

  /** Builds an {@link Identity}; not thread-safe. */
  public static final class Builder {
    private final CredentialType credential;
    private final String principal;
    private @Nullable String client;
    private @Nullable String clientType;
    private Set<String> roles = Set.of();
    private Set<String> scopes = Set.of();
    private @Nullable String apiKeyId;
    private @Nullable String segmentHint;
    private @Nullable Instant expiresAt;
    private @Nullable String issuer;

    private Builder(CredentialType credential, String principal) {
      this.credential = credential;
      this.principal = principal;
    }

    public Builder client(@Nullable String client) {
      this.client = client;
      return this;
    }

    public Builder clientType(@Nullable String clientType) {
      this.clientType = clientType;
      return this;
    }

    public Builder roles(Set<String> roles) {
      this.roles = roles;
      return this;
    }

    public Builder scopes(Set<String> scopes) {
      this.scopes = scopes;
      return this;
    }

    public Builder apiKeyId(@Nullable String apiKeyId) {
      this.apiKeyId = apiKeyId;
      return this;
    }

    public Builder segmentHint(@Nullable String segmentHint) {
      this.segmentHint = segmentHint;
      return this;
    }

    public Builder expiresAt(@Nullable Instant expiresAt) {
      this.expiresAt = expiresAt;
      return this;
    }

    public Builder issuer(@Nullable String issuer) {
      this.issuer = issuer;
      return this;
    }

    public Identity build() {
      return new Identity(
          credential,
          principal,
          client,
          clientType,
          roles,
          scopes,
          apiKeyId,
          segmentHint,
          expiresAt,
          issuer);
    }
  }
}
