package io.portcullis.identity;

import java.net.URI;
import java.time.Duration;
import java.util.List;
import java.util.Locale;
import java.util.Objects;
import java.util.Set;
import org.jspecify.annotations.Nullable;

/**
 * One trusted JWT issuer ({@code identity.jwt[]} of the policy), validated by the policy loader.
 *
 * @param name the issuer's name in the policy
 * @param issuer must equal the token's {@code iss}
 * @param jwksUri where the signing keys are; {@code null} means OIDC discovery on {@code issuer}
 * @param audiences the token's {@code aud} must contain one of these
 * @param algorithms JWS algorithms accepted (asymmetric only: never {@code none}, never HMAC)
 * @param tokenTypes if not empty, the token's JOSE {@code typ} must be one of these (as {@link
 *     #tokenType} writes them, e.g. {@code at+jwt}); empty accepts any {@code typ} (or none) that
 *     is not {@linkplain #OTHER_JWT_TYPES another kind of JWT}
 * @param clockSkew tolerance for {@code exp}, {@code nbf} and {@code iat}
 * @param claims where the identity attributes are
 */
public record JwtIssuerConfig(
    String name,
    URI issuer,
    @Nullable URI jwksUri,
    List<String> audiences,
    Set<String> algorithms,
    Set<String> tokenTypes,
    Duration clockSkew,
    ClaimMapping claims) {

  /**
   * {@code typ} values (as {@link #tokenType} writes them) of JWTs that are never access tokens:
   * refused whatever {@code tokenTypes} says (RFC 8725 §3.11).
   */
  public static final Set<String> OTHER_JWT_TYPES =
      Set.of("logout+jwt", "secevent+jwt", "dpop+jwt", "id_token+jwt", "jwk-set+jwt");

  public JwtIssuerConfig {
    Objects.requireNonNull(name, "name");
    Objects.requireNonNull(issuer, "issuer");
    audiences = List.copyOf(audiences);
    algorithms = Set.copyOf(algorithms);
    tokenTypes = Set.copyOf(tokenTypes);
    Objects.requireNonNull(clockSkew, "clockSkew");
    Objects.requireNonNull(claims, "claims");
  }

  /** An issuer that accepts any {@code typ} an access token may have (no {@code token_types}). */
  public JwtIssuerConfig(
      String name,
      URI issuer,
      @Nullable URI jwksUri,
      List<String> audiences,
      Set<String> algorithms,
      Duration clockSkew,
      ClaimMapping claims) {
    this(name, issuer, jwksUri, audiences, algorithms, Set.of(), clockSkew, claims);
  }

  /**
   * Whether {@code s} is an RFC 6838 §4.2 restricted name, as the subtype of a media type is
   * ({@code at+jwt}): 1 to 127 letters, digits and {@code ! # $ & - ^ _ . +}, the first a letter or
   * a digit.
   */
  public static boolean isMediaSubtype(String s) {
    if (s.isEmpty() || s.length() > 127 || !Character.isLetterOrDigit(s.charAt(0))) {
      return false;
    }
    for (int i = 0; i < s.length(); i++) {
      char c = s.charAt(i);
      if (!((c >= 'a' && c <= 'z')
          || (c >= 'A' && c <= 'Z')
          || (c >= '0' && c <= '9')
          || "!#$&-^_.+".indexOf(c) >= 0)) {
        return false;
      }
    }
    return true;
  }

  /**
   * A JOSE {@code typ} as it is compared: lower case, without the {@code application/} prefix that
   * RFC 7515 §4.1.9 lets a {@code typ} leave out ({@code application/AT+JWT} is {@code at+jwt}).
   */
  public static String tokenType(String typ) {
    String t = typ.toLowerCase(Locale.ROOT);
    return t.startsWith("application/") ? t.substring("application/".length()) : t;
  }
}
