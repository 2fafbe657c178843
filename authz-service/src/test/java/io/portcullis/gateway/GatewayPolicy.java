package io.portcullis.gateway;

import java.io.IOException;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * The policy the gateway end-to-end tests run Portcullis with. Callers:
 *
 * <ul>
 *   <li>a JWT of the test issuer ({@code sub} alice, {@code azp} web-app) is {@code staff} and may
 *       read orders;
 *   <li>a JWT with role {@code ops} is {@code ops}, whose network guard denies loopback — where
 *       every test client runs — so a forged {@code X-Forwarded-For} that the gateway passed on
 *       would turn that deny into an allow;
 *   <li>anonymous callers from 203.0.113.0/24 are {@code lan} and may do anything (again only
 *       reachable by a believed forgery); every other anonymous caller is {@code public} and may
 *       {@code GET /v1/status}.
 * </ul>
 */
final class GatewayPolicy {
  static final String OPS_ROLE = "ops";
  static final String LAN_ADDRESS = "203.0.113.7";

  private GatewayPolicy() {}

  /** Writes the policy trusting {@code issuer} to {@code dir/policy.yaml}; returns its path. */
  static Path write(Path dir, URI issuer) throws IOException {
    return Files.writeString(
        dir.resolve("policy.yaml"),
        """
        version: 1
        identity:
          jwt:
            - name: main
              issuer: %s
              audiences: [orders-api]
              algorithms: [RS256]
              claims: { subject: sub, client: azp, roles: roles, scopes: scope }
        segments:
          - name: ops
            match: { credential: [jwt], roles_any: [%s] }
            network: { deny: [127.0.0.0/8, "::1/128"] }
            rules:
              - { name: anything, paths: ["/**"] }
          - name: staff
            match: { credential: [jwt] }
            rules:
              - { name: orders, methods: [GET], paths: ["/v1/orders", "/v1/orders/*"] }
          - name: lan
            match: { credential: [anonymous], source_ip: [203.0.113.0/24] }
            rules:
              - { name: anything, paths: ["/**"] }
          - name: public
            match: { credential: [anonymous] }
            rules:
              - { name: status, methods: [GET], paths: ["/v1/status"] }
        response:
          strip_credentials: true
          upstream_headers: true
        """
            .formatted(issuer, OPS_ROLE));
  }
}
