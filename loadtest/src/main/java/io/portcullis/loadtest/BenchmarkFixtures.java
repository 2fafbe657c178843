package io.portcullis.loadtest;

import com.nimbusds.jose.JOSEException;
import com.nimbusds.jose.JWSAlgorithm;
import com.nimbusds.jose.JWSHeader;
import com.nimbusds.jose.JWSSigner;
import com.nimbusds.jose.crypto.ECDSASigner;
import com.nimbusds.jose.crypto.RSASSASigner;
import com.nimbusds.jose.jwk.Curve;
import com.nimbusds.jose.jwk.ECKey;
import com.nimbusds.jose.jwk.JWKSet;
import com.nimbusds.jose.jwk.RSAKey;
import com.nimbusds.jose.jwk.gen.ECKeyGenerator;
import com.nimbusds.jose.jwk.gen.RSAKeyGenerator;
import com.nimbusds.jwt.JWTClaimsSet;
import com.nimbusds.jwt.SignedJWT;
import com.sun.net.httpserver.HttpServer;
import java.io.IOException;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.Date;
import java.util.List;
import org.jspecify.annotations.Nullable;

/**
 * What the benchmarks and the load generator need: a local JWKS endpoint with an RSA (RS256) and an
 * EC P-256 (ES256) key, tokens signed by either, and a generated policy of many segments and rules
 * whose last rule of the last segment is the one a benchmark token reaches (the worst case for
 * first-match scans).
 */
public final class BenchmarkFixtures implements AutoCloseable {
  public static final String AUDIENCE = "orders-api";

  private final HttpServer jwks;
  private final RSAKey key;
  private final ECKey ecKey;
  private final JWSSigner rsaSigner;
  private final JWSSigner ecSigner;

  private BenchmarkFixtures(HttpServer jwks, RSAKey key, ECKey ecKey) throws JOSEException {
    this.jwks = jwks;
    this.key = key;
    this.ecKey = ecKey;
    this.rsaSigner = new RSASSASigner(key);
    this.ecSigner = new ECDSASigner(ecKey);
  }

  /** Starts a JWKS endpoint on a free loopback port. */
  public static BenchmarkFixtures start() throws IOException, JOSEException {
    RSAKey key = new RSAKeyGenerator(2048).keyID("bench-1").generate();
    ECKey ecKey = new ECKeyGenerator(Curve.P_256).keyID("bench-ec-1").generate();
    byte[] body =
        new JWKSet(List.of(key.toPublicJWK(), ecKey.toPublicJWK()))
            .toString()
            .getBytes(StandardCharsets.UTF_8);
    HttpServer server = HttpServer.create(new InetSocketAddress("127.0.0.1", 0), 0);
    server.createContext(
        "/jwks",
        exchange -> {
          exchange.getResponseHeaders().add("Content-Type", "application/json");
          exchange.sendResponseHeaders(200, body.length);
          try (OutputStream out = exchange.getResponseBody()) {
            out.write(body);
          }
        });
    server.start();
    return new BenchmarkFixtures(server, key, ecKey);
  }

  public String issuer() {
    return "http://127.0.0.1:" + jwks.getAddress().getPort() + "/issuer";
  }

  public String jwksUri() {
    return "http://127.0.0.1:" + jwks.getAddress().getPort() + "/jwks";
  }

  /** An RS256 token valid for an hour with the given roles. */
  public String token(String subject, List<String> roles) {
    return token(JWSAlgorithm.RS256, subject, roles, null);
  }

  /**
   * A token signed with {@code alg} (RS256 or ES256) valid for an hour; a non-null {@code jti}
   * makes it unique, so a verifier's token cache cannot have seen it.
   */
  public String token(JWSAlgorithm alg, String subject, List<String> roles, @Nullable String jti) {
    Instant now = Instant.now();
    JWTClaimsSet claims =
        new JWTClaimsSet.Builder()
            .jwtID(jti)
            .issuer(issuer())
            .subject(subject)
            .audience(AUDIENCE)
            .claim("azp", "bench-client")
            .claim("roles", roles)
            .claim("scope", "orders:read orders:write")
            .issueTime(Date.from(now))
            .notBeforeTime(Date.from(now))
            .expirationTime(Date.from(now.plus(Duration.ofHours(1))))
            .build();
    boolean ec = JWSAlgorithm.ES256.equals(alg);
    if (!ec && !JWSAlgorithm.RS256.equals(alg)) {
      throw new IllegalArgumentException("only RS256 and ES256: " + alg);
    }
    SignedJWT jwt =
        new SignedJWT(
            new JWSHeader.Builder(alg).keyID(ec ? ecKey.getKeyID() : key.getKeyID()).build(),
            claims);
    try {
      jwt.sign(ec ? ecSigner : rsaSigner);
    } catch (JOSEException e) {
      throw new IllegalStateException(e);
    }
    return jwt.serialize();
  }

  /**
   * Writes a policy of {@code segments} segments with {@code rulesPerSegment} rules each. Segment
   * {@code i} matches JWT callers with role {@code team-i}; rule {@code j} allows GET on {@code
   * /v1/svc-j/**} for role {@code team-i}, and each segment has one deny rule. A caller with role
   * {@code team-<segments-1>} calling {@code /v1/svc-<rulesPerSegment-1>/items/42} walks every
   * segment and every rule before it is allowed.
   */
  public Path writePolicy(Path dir, int segments, int rulesPerSegment) throws IOException {
    StringBuilder y = new StringBuilder();
    y.append("version: 1\nidentity:\n  jwt:\n    - name: bench\n")
        .append("      issuer: ")
        .append(issuer())
        .append('\n')
        .append("      jwks_uri: ")
        .append(jwksUri())
        .append('\n')
        .append("      audiences: [")
        .append(AUDIENCE)
        .append("]\n")
        .append("      algorithms: [RS256, ES256]\n")
        .append("      claims: { subject: sub, client: azp, roles: roles, scopes: scope }\n")
        .append("segments:\n");
    for (int s = 0; s < segments; s++) {
      y.append("  - name: seg-")
          .append(s)
          .append('\n')
          .append("    match: { credential: [jwt], roles_any: [team-")
          .append(s)
          .append("] }\n")
          .append("    rules:\n")
          .append("      - { name: no-admin, effect: deny, paths: [\"/v1/admin/**\"] }\n");
      for (int r = 0; r < rulesPerSegment - 1; r++) {
        y.append("      - { name: svc-")
            .append(r)
            .append(", methods: [GET, HEAD], paths: [\"/v1/svc-")
            .append(r)
            .append("/**\"], roles_any: [team-")
            .append(s)
            .append("] }\n");
      }
    }
    Path file = dir.resolve("bench-policy.yaml");
    Files.writeString(file, y.toString());
    return file;
  }

  @Override
  public void close() {
    jwks.stop(0);
  }
}
