package io.portcullis.identity;

import java.net.URI;
import java.time.Duration;
import java.util.Objects;

/**
 * One RFC 7662 introspection endpoint ({@code identity.introspection[]} of the policy).
 *
 * @param name the endpoint's name in the policy
 * @param endpoint the introspection URL
 * @param clientId Portcullis's client id at the authorization server
 * @param clientSecret its secret (client_secret_basic); never logged ({@link Secret})
 * @param cacheTtl how long an active result is cached at most (also never past the token's exp)
 * @param claims where the identity attributes are in the introspection response
 * @param maxConcurrentRequests how many introspection calls may be outstanding at this endpoint at
 *     once; a token that would need one more is answered {@code identity_unavailable} without a
 *     call ({@code max_concurrent_requests}, an extension of policy.md)
 */
public record IntrospectionConfig(
    String name,
    URI endpoint,
    String clientId,
    Secret clientSecret,
    Duration cacheTtl,
    ClaimMapping claims,
    int maxConcurrentRequests) {

  public IntrospectionConfig {
    Objects.requireNonNull(name, "name");
    Objects.requireNonNull(endpoint, "endpoint");
    Objects.requireNonNull(clientId, "clientId");
    Objects.requireNonNull(clientSecret, "clientSecret");
    Objects.requireNonNull(cacheTtl, "cacheTtl");
    Objects.requireNonNull(claims, "claims");
  }
}
