package io.portcullis.identity;

import java.util.Objects;
import org.jspecify.annotations.Nullable;

/**
 * Where an issuer's tokens keep the identity attributes: dotted paths into the JWT claims (or the
 * introspection response), e.g. {@code realm_access.roles}. A path that is absent in a token yields
 * no value; roles and scopes accept a string (space-separated) or an array of strings.
 *
 * @param subject the principal (default {@code sub})
 * @param client the client (default {@code azp}; {@code client_id} is used when the path is absent)
 * @param roles roles, or {@code null} for none
 * @param scopes scopes (default {@code scope}), or {@code null}
 * @param clientType client type, or {@code null}
 */
public record ClaimMapping(
    String subject,
    String client,
    @Nullable String roles,
    @Nullable String scopes,
    @Nullable String clientType) {

  public static final ClaimMapping DEFAULT = new ClaimMapping("sub", "azp", null, "scope", null);

  public ClaimMapping {
    Objects.requireNonNull(subject, "subject");
    Objects.requireNonNull(client, "client");
  }
}
