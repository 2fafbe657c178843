package io.portcullis.gateway;

import static org.assertj.core.api.Assertions.assertThat;

import io.portcullis.Portcullis;
import io.portcullis.testing.RecordingUpstream;
import io.portcullis.testing.TestIssuer;
import io.portcullis.testing.TestRuntimeConfigs;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.InstantSource;

/**
 * What the gateway end-to-end tests put behind a gateway: an OIDC issuer, Portcullis in-process on
 * free loopback ports (forward-auth trusting 127.0.0.1) with the policy below, and a recording
 * upstream. The policy's callers:
 *
 * <ul>
 *   <li>a JWT of the issuer ({@code sub} alice, {@code azp} web-app) is {@code staff} and may read
 *       orders;
 *   <li>a JWT with role {@value #OPS_ROLE} is {@code ops}, whose network guard denies loopback —
 *       where every test client runs — so a forged {@code X-Forwarded-For} that the gateway passed
 *       on would turn that deny into an allow;
 *   <li>anonymous callers from 203.0.113.0/24 are {@code lan} and may do anything (again only
 *       reachable by a believed forgery); every other anonymous caller is {@code public} and may
 *       {@code GET /v1/status}.
 * </ul>
 */
final class GatewayBackends implements AutoCloseable {
  static final String OPS_ROLE = "ops";
  static final String LAN_ADDRESS = "203.0.113.7";

  private final TestIssuer issuer;
  private final Portcullis portcullis;
  private final RecordingUpstream upstream;

  private GatewayBackends(TestIssuer issuer, Portcullis portcullis, RecordingUpstream upstream) {
    this.issuer = issuer;
    this.portcullis = portcullis;
    this.upstream = upstream;
  }

  /**
   * Starts all three, keeping Portcullis's state under {@code dir}, and warms Portcullis's key
   * cache (see {@link #warmKeyCache}); closes what started if a later step fails.
   */
  static GatewayBackends start(Path dir) throws Exception {
    TestIssuer issuer = TestIssuer.start(InstantSource.system());
    Portcullis portcullis = null;
    try {
      Path policy = writePolicy(dir, issuer.issuer("main"));
      portcullis = Portcullis.start(TestRuntimeConfigs.loopback(dir, policy), name -> null);
      GatewayBackends backends = new GatewayBackends(issuer, portcullis, RecordingUpstream.start());
      backends.warmKeyCache();
      return backends;
    } catch (Exception | Error e) {
      if (portcullis != null) {
        portcullis.close();
      }
      issuer.close();
      throw e;
    }
  }

  TestIssuer issuer() {
    return issuer;
  }

  Portcullis portcullis() {
    return portcullis;
  }

  RecordingUpstream upstream() {
    return upstream;
  }

  @Override
  public void close() {
    upstream.close();
    portcullis.close();
    issuer.close();
  }

  /**
   * One forward-auth check with a valid token straight to Portcullis: the first JWT check fetches
   * the issuer's discovery document and JWKS and loads the JOSE classes, which on a busy machine
   * can outlast a gateway's authorization timeout (nginx 1 s, Envoy 250 ms) and turn the first
   * allowed request into a 503. A deployment's first minutes do the same.
   */
  private void warmKeyCache() throws Exception {
    HttpResponse<String> r =
        HttpClient.newHttpClient()
            .send(
                HttpRequest.newBuilder(
                        URI.create("http://127.0.0.1:" + portcullis.forwardAuthPort() + "/check"))
                    .header("X-Original-URI", "/v1/orders/1")
                    .header("Authorization", "Bearer " + issuer.token("main").sign())
                    .build(),
                HttpResponse.BodyHandlers.ofString());
    assertThat(r.statusCode()).as("direct check with a valid token: %s", r.body()).isEqualTo(200);
  }

  private static Path writePolicy(Path dir, URI issuer) throws java.io.IOException {
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
              - name: scarce
                methods: [GET]
                paths: ["/v1/scarce"]
                limits: [{ name: scarce, key: [ip], rate: 1/h }]
        response:
          strip_credentials: true
          upstream_headers: true
        """
            .formatted(issuer, OPS_ROLE));
  }
}
