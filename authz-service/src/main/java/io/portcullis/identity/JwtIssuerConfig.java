package io.portcullis.identity;

import java.net.URI;
import java.time.Duration;
import java.util.List;
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
 * @param clockSkew tolerance for {@code exp}, {@code nbf} and {@code iat}
 * @param claims where the identity attributes are
 */
public record JwtIssuerConfig(
    String name,
    URI issuer,
    @Nullable URI jwksUri,
    List<String> audiences,
    Set<String> algorithms,
    Duration clockSkew,
    ClaimMapping claims) {

  public JwtIssuerConfig {
    Objects.requireNonNull(name, "name");
    Objects.requireNonNull(issuer, "issuer");
    audiences = List.copyOf(audiences);
    algorithms = Set.copyOf(algorithms);
    Objects.requireNonNull(clockSkew, "clockSkew");
    Objects.requireNonNull(claims, "claims");
  }
}
