package io.portcullis.identity;

import java.time.Instant;
import java.util.Collection;
import java.util.LinkedHashSet;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.regex.Pattern;
import org.jspecify.annotations.Nullable;

/**
 * Where an issuer's tokens keep the identity attributes: dotted paths into the JWT claims (or the
 * introspection response), e.g. {@code realm_access.roles}. A path that is absent in a token yields
 * no value. Scopes accept a space-separated string or an array of strings; roles accept a string,
 * which is one role (not split: spec {@code roles: ... # string or array}, only scopes are
 * space-separated, and splitting would grant {@code admin} to a token whose role is {@code "orders
 * admin"}), or an array of strings. A claim whose own name contains dots (namespaced claims such as
 * {@code https://example.com/roles}) is found by its full name first.
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

  /** Used when the mapped client path is absent (RFC 8693 / RFC 9068 {@code client_id}). */
  public static final String CLIENT_ID_CLAIM = "client_id";

  public ClaimMapping {
    Objects.requireNonNull(subject, "subject");
    Objects.requireNonNull(client, "client");
  }

  /**
   * Maps verified claims (a JWT claims set or an introspection response) to an identity.
   *
   * @param credential how the claims were verified
   * @param claims JSON claims: strings, numbers, booleans, lists and nested maps
   * @param expiresAt the credential's expiry, or {@code null}
   * @param issuer the policy name of the JWT issuer or introspection endpoint that vouched for the
   *     claims: segments match on it ({@code match.issuer})
   * @return the identity, or {@code null} if the claims name no usable subject (absent, not a
   *     string, blank, or holding a control character): such a credential must be rejected, never
   *     made anonymous. A client or client type with a control character counts as absent. Subject
   *     and client travel to the upstream as header values (x-portcullis-principal, -client): a CR
   *     or LF there would let an issuer's claim inject headers through a proxy that does not
   *     validate mutations.
   */
  public @Nullable Identity identity(
      CredentialType credential,
      Map<String, ?> claims,
      @Nullable Instant expiresAt,
      String issuer) {
    String principal = text(resolve(claims, subject));
    if (principal == null) {
      return null;
    }
    String clientValue = text(resolve(claims, client));
    if (clientValue == null) {
      clientValue = text(claims.get(CLIENT_ID_CLAIM));
    }
    return Identity.builder(credential, principal)
        .client(clientValue)
        .clientType(clientType == null ? null : text(resolve(claims, clientType)))
        .roles(roles == null ? Set.of() : roles(resolve(claims, roles)))
        .scopes(scopes == null ? Set.of() : words(resolve(claims, scopes)))
        .expiresAt(expiresAt)
        .issuer(issuer)
        .build();
  }

  /**
   * The value at a dotted path ({@code realm_access.roles}), or {@code null} if any step is absent
   * or not an object. A top-level claim named by the whole path wins over the nested reading.
   */
  public static @Nullable Object resolve(Map<String, ?> claims, String path) {
    Object direct = claims.get(path);
    if (direct != null || path.indexOf('.') < 0) {
      return direct;
    }
    Object node = claims;
    for (String step : path.split("\\.", -1)) {
      if (!(node instanceof Map<?, ?> map)) {
        return null;
      }
      node = map.get(step);
      if (node == null) {
        return null;
      }
    }
    return node;
  }

  private static @Nullable String text(@Nullable Object value) {
    return value instanceof String s && !s.isBlank() && !hasControl(s) ? s : null;
  }

  private static boolean hasControl(String s) {
    for (int i = 0; i < s.length(); i++) {
      char c = s.charAt(i);
      if (c < 0x20 || c == 0x7f) {
        return true;
      }
    }
    return false;
  }

  private static final Pattern WHITESPACE = Pattern.compile("\\s+");

  /** Scopes: a space-separated string or an array of strings; anything else is no value. */
  private static Set<String> words(@Nullable Object value) {
    if (value instanceof String s) {
      Set<String> out = new LinkedHashSet<>();
      for (String w : WHITESPACE.split(s.trim())) {
        if (!w.isEmpty()) {
          out.add(w);
        }
      }
      return out;
    }
    return strings(value);
  }

  /**
   * Roles: a string is one role, exactly as given like an array's strings (not trimmed: {@code "
   * admin"} is not the role {@code admin}, the fail-closed reading); a blank string is no role; an
   * array of strings is its strings; anything else is no value.
   */
  private static Set<String> roles(@Nullable Object value) {
    if (value instanceof String s) {
      return s.isBlank() ? Set.of() : Set.of(s);
    }
    return strings(value);
  }

  /** The non-blank strings of an array, else (not an array) none. */
  private static Set<String> strings(@Nullable Object value) {
    Set<String> out = new LinkedHashSet<>();
    if (value instanceof Collection<?> list) {
      for (Object o : list) {
        if (o instanceof String w && !w.isBlank()) {
          out.add(w);
        }
      }
    }
    return out;
  }
}
