package io.portcullis.loadtest;

import com.nimbusds.jose.JWSAlgorithm;
import io.envoyproxy.envoy.extensions.common.ratelimit.v3.RateLimitDescriptor;
import io.envoyproxy.envoy.service.auth.v3.CheckRequest;
import io.envoyproxy.envoy.service.ratelimit.v3.RateLimitRequest;
import java.net.URI;
import java.net.http.HttpRequest;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import java.util.Set;
import java.util.stream.IntStream;
import org.jspecify.annotations.Nullable;

/**
 * The scenarios of the suite, each with its own generated policy and a realistic request mix. Every
 * probe states the answers it accepts; see {@link Mix}.
 */
final class Scenarios {
  static final int SEGMENTS = 20;
  static final int RULES_PER_SEGMENT = 10;
  static final int CACHED_TOKENS = 1000;
  static final int CONNECTIONS = 4;

  private final BenchmarkFixtures fixtures;
  private final String runId;
  private List<CheckRequest> cachedJwtChecks;

  Scenarios(BenchmarkFixtures fixtures, String runId) {
    this.fixtures = fixtures;
    this.runId = runId;
  }

  static final Set<String> ALLOW = Set.of("allow");

  private static List<String> portcullis(Path policy, Path dir, String... extra) {
    List<String> a =
        new ArrayList<>(List.of("--mode", "portcullis", "--policy", policy.toString()));
    a.add("--data-dir");
    a.add(dir.resolve("data").toString());
    a.addAll(List.of(extra));
    return a;
  }

  /**
   * 1000 distinct cached tokens over 20 segments; each request is allowed by a rule of its token's
   * segment (paths vary), so every decision walks segments and rules.
   */
  synchronized List<CheckRequest> cachedJwtChecks() {
    if (cachedJwtChecks == null) {
      cachedJwtChecks =
          IntStream.range(0, CACHED_TOKENS)
              .parallel()
              .mapToObj(
                  i ->
                      Checks.get("/v1/svc-" + (i % (RULES_PER_SEGMENT - 1)) + "/items/" + i)
                          .bearer(fixtures.token("user-" + i, List.of("team-" + (i % SEGMENTS))))
                          .source("10.1." + (i / 250) + "." + (i % 250))
                          .build())
              .toList();
    }
    return cachedJwtChecks;
  }

  private List<Mix.Probe<CheckRequest>> cachedJwtProbes() {
    return cachedJwtChecks().stream().map(c -> new Mix.Probe<>("allow", c, ALLOW)).toList();
  }

  /** The floor: an empty ext_authz server answering the cached-JWT requests with OK. */
  Scenario empty() {
    return new Scenario(
        "empty-server",
        "Empty ext_authz server on the same grpc-java stack (GrpcServer, virtual threads), always"
            + " OK; same requests as cached-jwt",
        dir -> List.of("--mode", "empty", "--data-dir", dir.resolve("data").toString()),
        (server, rate, total) ->
            GrpcTarget.check(
                    "empty-server", server.grpcPort(), CONNECTIONS, Mix.cycle(cachedJwtProbes()))
                .connect());
  }

  Scenario cachedJwt() {
    return new Scenario(
        "cached-jwt",
        "Cached JWT: 1000 distinct RS256 tokens over a policy of 20 segments x 10 rules; all"
            + " allowed",
        dir -> portcullis(fixtures.writePolicy(dir, SEGMENTS, RULES_PER_SEGMENT), dir),
        (server, rate, total) ->
            GrpcTarget.check(
                    "cached-jwt", server.grpcPort(), CONNECTIONS, Mix.cycle(cachedJwtProbes()))
                .connect());
  }

  /**
   * Every request carries a token the service has never seen (a unique {@code jti}), half RS256 and
   * half ES256, so each decision verifies a signature. Tokens are minted before the run (minting an
   * RS256 token costs more than verifying it).
   */
  Scenario coldJwt() {
    return new Scenario(
        "cold-jwt",
        "Cold JWT: a never-seen token per request (50% RS256, 50% ES256): signature verification"
            + " every time",
        dir -> portcullis(fixtures.writePolicy(dir, SEGMENTS, RULES_PER_SEGMENT), dir),
        (server, rate, total) -> {
          int n = (int) Math.ceil(rate * total.toNanos() / 1e9 * 1.05) + 100;
          List<Mix.Probe<CheckRequest>> probes =
              IntStream.range(0, n)
                  .parallel()
                  .mapToObj(
                      i -> {
                        JWSAlgorithm alg = i % 2 == 0 ? JWSAlgorithm.RS256 : JWSAlgorithm.ES256;
                        String token =
                            fixtures.token(
                                alg,
                                "cold-" + i,
                                List.of("team-" + (i % SEGMENTS)),
                                runId + "-" + rate + "-" + i);
                        return new Mix.Probe<>(
                            "allow:" + alg,
                            Checks.get("/v1/svc-" + (i % (RULES_PER_SEGMENT - 1)) + "/items/" + i)
                                .bearer(token)
                                .build(),
                            ALLOW);
                      })
                  .toList();
          return GrpcTarget.check("cold-jwt", server.grpcPort(), CONNECTIONS, Mix.unique(probes))
              .connect();
        });
  }

  /**
   * Forged tokens that cost a signature check: each request carries a real RS256 token of the bench
   * issuer with one more claim ({@code jti}, unique per request) and the original signature, so the
   * signature fails and no cache ever answers. From 100,000 addresses, under a policy without
   * {@code protect}: the cost of refusing a credential-stuffing flood that gets past per-source
   * blocking (RESULTS finding 10).
   */
  Scenario forgedJwt() {
    return new Scenario(
        "forged-jwt",
        "Forged JWTs: a real token with a unique jti added and its old signature; every request a"
            + " failed RS256 signature check",
        dir -> portcullis(fixtures.writePolicy(dir, SEGMENTS, RULES_PER_SEGMENT), dir),
        (server, rate, total) -> {
          String real = fixtures.token(JWSAlgorithm.RS256, "forged", List.of("team-0"), null);
          String[] parts = real.split("\\.");
          String claims =
              new String(Base64.getUrlDecoder().decode(parts[1]), StandardCharsets.UTF_8);
          int n = (int) Math.ceil(rate * total.toNanos() / 1e9 * 1.05) + 100;
          List<Mix.Probe<CheckRequest>> probes = new ArrayList<>(n);
          for (int i = 0; i < n; i++) {
            String payload =
                Base64.getUrlEncoder()
                    .withoutPadding()
                    .encodeToString(
                        ("{\"jti\":\"forged-"
                                + runId
                                + "-"
                                + rate
                                + "-"
                                + i
                                + "\","
                                + claims.substring(1))
                            .getBytes(StandardCharsets.UTF_8));
            probes.add(
                new Mix.Probe<>(
                    "invalid_token",
                    Checks.get("/v1/svc-0/items/" + i)
                        .source("10." + (i >> 16 & 255) + "." + (i >> 8 & 255) + "." + (i & 255))
                        .bearer(parts[0] + "." + payload + "." + parts[2])
                        .build(),
                    Set.of("invalid_token")));
          }
          return GrpcTarget.check("forged-jwt", server.grpcPort(), CONNECTIONS, Mix.unique(probes))
              .connect();
        });
  }

  static final int API_KEYS = 1000;

  /**
   * API keys in {@code x-api-key} against a segment keyed by {@code api_key}, with a per-key limit
   * checked on every request. The {@value #API_KEYS} keys are issued in the started service through
   * its admin API ({@link AdminKeys}), so they are in its key store and every request is allowed.
   * The limit (100,000/s per key) is never reached, also not by h2load, which repeats one key: what
   * is measured is the cost of verifying the key and checking its limit, not of denying.
   */
  Scenario apiKey() {
    return new Scenario(
        "api-key",
        "API keys (x-api-key, 1000 keys issued through the admin API) with a per-key limit; all"
            + " allowed",
        dir -> {
          Path policy = dir.resolve("api-key-policy.yaml");
          Files.writeString(
              policy,
              """
              version: 1
              identity:
                api_keys: { headers: [x-api-key] }
              segments:
                - name: partners
                  match: { credential: [api_key] }
                  rules:
                    - { name: read-orders, methods: [GET], paths: ["/v1/orders", "/v1/orders/*"] }
                  limits:
                    - { name: per-key, key: [api_key], rate: 100000/s, burst: 100000 }
              """);
          return portcullis(policy, dir);
        },
        (server, rate, total) -> {
          long started = System.nanoTime();
          List<String> keys =
              AdminKeys.issue(
                  server.adminPort(), TargetServer.ADMIN_TOKEN, "loadtest-" + runId, API_KEYS);
          System.out.printf(
              "api-key: issued %d keys through the admin API in %.1f s%n",
              keys.size(), (System.nanoTime() - started) / 1e9);
          List<Mix.Probe<CheckRequest>> probes = new ArrayList<>();
          for (int i = 0; i < keys.size(); i++) {
            probes.add(
                new Mix.Probe<>(
                    "allow",
                    Checks.get("/v1/orders/" + i).header("x-api-key", keys.get(i)).build(),
                    ALLOW));
          }
          return GrpcTarget.check("api-key", server.grpcPort(), CONNECTIONS, Mix.cycle(probes))
              .connect();
        });
  }

  private static final String ANONYMOUS_SEGMENT =
      """
        - name: public
          match: { credential: [anonymous] }
          rules:
            - { name: status, methods: [GET], paths: ["/v1/status", "/v1/catalog/**"] }
          limits:
            - { name: per-ip, key: [ip], rate: 50/s, burst: 100 }
      """;

  /** 95% from 20,000 addresses well within their limit, 5% from one address far over it. */
  private static Mix<CheckRequest> anonymousMix() {
    return Mix.weighted(List.of(anonymousSpread(), anonymousHot()), new int[] {95, 5});
  }

  private static List<Mix.Probe<CheckRequest>> anonymousSpread() {
    List<Mix.Probe<CheckRequest>> spread = new ArrayList<>();
    for (int i = 0; i < 20_000; i++) {
      spread.add(
          new Mix.Probe<>(
              "allow",
              Checks.get("/v1/catalog/items/" + i)
                  .source("10." + (i >> 16 & 255) + "." + (i >> 8 & 255) + "." + (i & 255))
                  .build(),
              ALLOW));
    }
    return spread;
  }

  private static List<Mix.Probe<CheckRequest>> anonymousHot() {
    return List.of(
        new Mix.Probe<>(
            "hot-ip",
            Checks.get("/v1/status").source("198.18.0.1").build(),
            Set.of("allow", "rate_limited")));
  }

  Scenario anonymousPerIp() {
    return new Scenario(
        "anonymous-ip",
        "Anonymous callers, per-IP GCRA limit in memory: 95% from 20k IPs (allowed), 5% from one"
            + " IP over its limit (429)",
        dir -> {
          Path policy = dir.resolve("anonymous-policy.yaml");
          Files.writeString(policy, "version: 1\nsegments:\n" + ANONYMOUS_SEGMENT);
          return portcullis(policy, dir);
        },
        (server, rate, total) ->
            GrpcTarget.check("anonymous-ip", server.grpcPort(), CONNECTIONS, anonymousMix())
                .connect());
  }

  private String jwtIdentity() {
    return """
        identity:
          jwt:
            - name: bench
              issuer: %s
              jwks_uri: %s
              audiences: [%s]
              algorithms: [RS256, ES256]
              claims: { subject: sub, client: azp, roles: roles, scopes: scope }
        """
        .formatted(fixtures.issuer(), fixtures.jwksUri(), BenchmarkFixtures.AUDIENCE);
  }

  /**
   * Limits shared through the real Redis at 127.0.0.1:6379 (key prefix unique to the run; rate keys
   * expire by themselves once their bucket is full again): per-principal for JWT callers, per-IP
   * for anonymous ones.
   */
  Scenario redisLimits(String redisAddress) {
    return new Scenario(
        "redis-limits",
        "Redis-backed limits (one EVALSHA per decision): 50% cached JWT with a per-principal limit,"
            + " 45% anonymous per-IP, 5% one IP over its limit",
        dir -> {
          Path policy = dir.resolve("redis-policy.yaml");
          Files.writeString(
              policy,
              "version: 1\n"
                  + jwtIdentity()
                  + """
                  segments:
                    - name: users
                      match: { credential: [jwt] }
                      rules:
                        - { name: orders, methods: [GET], paths: ["/v1/orders/**"] }
                      limits:
                        - { name: per-user, key: [principal], rate: 1000/s, burst: 1000 }
                  """
                  + ANONYMOUS_SEGMENT);
          return portcullis(
              policy, dir, "--redis-prefix", "pc-loadtest-" + runId, "--redis", redisAddress);
        },
        (server, rate, total) -> {
          List<Mix.Probe<CheckRequest>> jwt = new ArrayList<>();
          List<CheckRequest> tokens = cachedJwtChecks();
          for (int i = 0; i < tokens.size(); i++) {
            String auth =
                tokens
                    .get(i)
                    .getAttributes()
                    .getRequest()
                    .getHttp()
                    .getHeadersOrThrow("authorization");
            jwt.add(
                new Mix.Probe<>(
                    "allow",
                    Checks.get("/v1/orders/" + i).header("authorization", auth).build(),
                    ALLOW));
          }
          return GrpcTarget.check(
                  "redis-limits",
                  server.grpcPort(),
                  CONNECTIONS,
                  Mix.weighted(
                      List.of(jwt, anonymousSpread(), anonymousHot()), new int[] {50, 45, 5}))
              .connect();
        });
  }

  private String mixedPolicy() {
    return "version: 1\n"
        + jwtIdentity()
        + """
        segments:
          - name: staff
            match: { credential: [jwt], roles_any: [staff] }
            rules:
              - { name: orders-read, methods: [GET], paths: ["/v1/orders", "/v1/orders/*"] }
              - { name: orders-write, methods: [POST], paths: ["/v1/orders"], scopes_any: ["orders:admin"] }
              - { name: no-admin, effect: deny, paths: ["/v1/admin/**"] }
            limits:
              - { name: per-user, key: [principal], rate: 1000/s, burst: 2000 }
          - name: web
            match: { credential: [jwt], roles_any: [web] }
            require_tls: true
            rules:
              - { name: me, methods: [GET], paths: ["/v1/me"] }
          - name: public
            match: { credential: [anonymous] }
            network: { deny: [198.51.100.0/24] }
            rules:
              - { name: status, methods: [GET], paths: ["/v1/status"] }
              - name: ping
                methods: [GET]
                paths: ["/v1/ping"]
                limits: [{ name: ping-rate, key: [ip], rate: 1/m, burst: 1 }]
        """;
  }

  private static Mix.Probe<CheckRequest> deny(String reason, CheckRequest r) {
    return new Mix.Probe<>("deny:" + reason, r, Set.of(reason));
  }

  /**
   * 70% allowed (staff orders, web /v1/me, anonymous status) and 30% denied across ten reasons;
   * every answer is checked against its expected reason.
   */
  Scenario mixed() {
    return new Scenario(
        "mixed",
        "Mixed: 70% allow / 30% deny across invalid_token, no_segment, denied_by_rule,"
            + " no_matching_rule, insufficient_permissions, tls_required, ip_denied,"
            + " malformed_request, rate_limited",
        dir -> {
          Path policy = dir.resolve("mixed-policy.yaml");
          Files.writeString(policy, mixedPolicy());
          return portcullis(policy, dir);
        },
        (server, rate, total) -> {
          int n = 200;
          List<String> staff =
              IntStream.range(0, n)
                  .parallel()
                  .mapToObj(i -> fixtures.token("staff-" + i, List.of("staff")))
                  .toList();
          List<String> web =
              IntStream.range(0, n)
                  .parallel()
                  .mapToObj(i -> fixtures.token("web-" + i, List.of("web")))
                  .toList();
          List<String> nobody =
              IntStream.range(0, 20)
                  .mapToObj(i -> fixtures.token("x-" + i, List.of("guest")))
                  .toList();
          List<List<Mix.Probe<CheckRequest>>> classes = new ArrayList<>();
          List<Integer> weights = new ArrayList<>();
          // allow: 70
          classes.add(
              IntStream.range(0, n)
                  .mapToObj(
                      i ->
                          new Mix.Probe<>(
                              "allow",
                              Checks.get("/v1/orders/" + i).bearer(staff.get(i)).build(),
                              ALLOW))
                  .toList());
          weights.add(40);
          classes.add(
              IntStream.range(0, n)
                  .mapToObj(
                      i ->
                          new Mix.Probe<>(
                              "allow", Checks.get("/v1/me").bearer(web.get(i)).build(), ALLOW))
                  .toList());
          weights.add(15);
          classes.add(
              IntStream.range(0, 5000)
                  .mapToObj(
                      i ->
                          new Mix.Probe<>(
                              "allow",
                              Checks.get("/v1/status")
                                  .source("10.2." + (i / 250) + "." + (i % 250))
                                  .build(),
                              ALLOW))
                  .toList());
          weights.add(15);
          // deny: 30
          classes.add(
              IntStream.range(0, 20)
                  .mapToObj(
                      i -> {
                        String t = staff.get(i);
                        String forged = t.substring(0, t.length() - 6) + "AAAAAA";
                        return deny(
                            "invalid_token", Checks.get("/v1/orders/1").bearer(forged).build());
                      })
                  .toList());
          weights.add(5);
          classes.add(
              nobody.stream()
                  .map(t -> deny("no_segment", Checks.get("/v1/orders/1").bearer(t).build()))
                  .toList());
          weights.add(4);
          classes.add(
              staff.stream()
                  .map(t -> deny("denied_by_rule", Checks.get("/v1/admin/users").bearer(t).build()))
                  .toList());
          weights.add(4);
          classes.add(
              staff.stream()
                  .map(t -> deny("no_matching_rule", Checks.get("/v1/invoices").bearer(t).build()))
                  .toList());
          weights.add(4);
          classes.add(
              staff.stream()
                  .map(
                      t ->
                          deny(
                              "insufficient_permissions",
                              Checks.request("POST", "/v1/orders").bearer(t).build()))
                  .toList());
          weights.add(3);
          classes.add(
              web.stream()
                  .map(
                      t ->
                          deny(
                              "tls_required",
                              Checks.get("/v1/me").scheme("http").bearer(t).build()))
                  .toList());
          weights.add(3);
          classes.add(
              IntStream.range(1, 200)
                  .mapToObj(
                      i ->
                          deny(
                              "ip_denied",
                              Checks.get("/v1/status").source("198.51.100." + i).build()))
                  .toList());
          weights.add(3);
          classes.add(
              staff.stream()
                  .map(
                      t ->
                          deny(
                              "malformed_request",
                              Checks.get("/v1/orders/%2e%2e%2Fadmin").bearer(t).build()))
                  .toList());
          weights.add(2);
          classes.add(
              List.of(
                  new Mix.Probe<>(
                      "deny:rate_limited",
                      Checks.get("/v1/ping").source("192.0.2.10").build(),
                      Set.of("rate_limited", "allow"))));
          weights.add(2);
          int[] w = weights.stream().mapToInt(Integer::intValue).toArray();
          return GrpcTarget.check("mixed", server.grpcPort(), CONNECTIONS, Mix.weighted(classes, w))
              .connect();
        });
  }

  /**
   * Forward-auth over HTTP/1.1 as APISIX or Traefik send it (X-Forwarded-* from a trusted proxy),
   * mixed policy: 80% allowed (200), 10% no_matching_rule (403), 10% forged token (401).
   */
  Scenario forwardAuth() {
    return new Scenario(
        "forward-auth",
        "HTTP forward-auth (X-Forwarded-* from a trusted proxy, HTTP/1.1 keep-alive): 80% 200,"
            + " 10% 403, 10% 401",
        dir -> {
          Path policy = dir.resolve("forward-auth-policy.yaml");
          Files.writeString(policy, mixedPolicy());
          return portcullis(policy, dir);
        },
        (server, rate, total) -> {
          URI uri = URI.create("http://127.0.0.1:" + server.httpPort() + "/check");
          List<HttpRequest> allow = new ArrayList<>();
          List<HttpRequest> noRule = new ArrayList<>();
          List<HttpRequest> forged = new ArrayList<>();
          for (int i = 0; i < 200; i++) {
            String t = fixtures.token("fa-" + i, List.of("staff"));
            allow.add(forwarded(uri, "/v1/orders/" + i, t, i));
            noRule.add(forwarded(uri, "/v1/invoices/" + i, t, i));
            forged.add(
                forwarded(uri, "/v1/orders/" + i, t.substring(0, t.length() - 6) + "AAAAAA", i));
          }
          List<List<Mix.Probe<HttpRequest>>> classes =
              List.of(
                  allow.stream().map(r -> new Mix.Probe<>("allow", r, ALLOW)).toList(),
                  noRule.stream().map(r -> new Mix.Probe<>("deny:403", r, Set.of("403"))).toList(),
                  forged.stream().map(r -> new Mix.Probe<>("deny:401", r, Set.of("401"))).toList());
          return new HttpTarget("forward-auth", 2, Mix.weighted(classes, new int[] {80, 10, 10}));
        });
  }

  private static HttpRequest forwarded(URI check, String path, String token, int i) {
    return HttpRequest.newBuilder(check)
        .GET()
        .timeout(Duration.ofSeconds(5))
        .header("x-forwarded-method", "GET")
        .header("x-forwarded-uri", path)
        .header("x-forwarded-host", "api.example.com")
        .header("x-forwarded-proto", "https")
        .header("x-forwarded-for", "10.3." + (i / 250) + "." + (i % 250))
        .header("authorization", "Bearer " + token)
        .build();
  }

  /**
   * A credential-stuffing flood against {@code protect.failed_auth} in Redis: every request carries
   * the same forged token (an RS256 header, no {@code iss}, so no issuer of ours: rejected without
   * a signature check, and not cached), each from one of 100,000 addresses, so no address reaches
   * the threshold of 20 a minute below 33,000 requests/s and every request is a 401 that the
   * protection counts in Redis.
   */
  Scenario authFlood(String redisAddress) {
    return new Scenario(
        "auth-flood",
        "401 flood: forged tokens from 100k addresses, protect.failed_auth counting in Redis",
        dir -> {
          Path policy = dir.resolve("auth-flood-policy.yaml");
          Files.writeString(
              policy,
              "version: 1\n"
                  + jwtIdentity()
                  + """
                  segments:
                    - name: users
                      match: { credential: [jwt] }
                      rules:
                        - { name: orders, methods: [GET], paths: ["/v1/orders/**"] }
                  protect:
                    failed_auth: { key: ip, threshold: 20, window: 1m, block_for: 10m }
                  """);
          return portcullis(
              policy, dir, "--redis-prefix", "pc-loadtest-flood-" + runId, "--redis", redisAddress);
        },
        (server, rate, total) -> {
          String forged = "eyJhbGciOiJSUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiJ4In0.AAAA";
          List<Mix.Probe<CheckRequest>> probes = new ArrayList<>();
          for (int i = 0; i < 100_000; i++) {
            probes.add(
                new Mix.Probe<>(
                    "invalid_token",
                    Checks.get("/v1/orders/" + i)
                        .source("10." + (i >> 16 & 255) + "." + (i >> 8 & 255) + "." + (i & 255))
                        .bearer(forged)
                        .build(),
                    Set.of("invalid_token")));
          }
          return GrpcTarget.check("auth-flood", server.grpcPort(), CONNECTIONS, Mix.cycle(probes))
              .connect();
        });
  }

  /**
   * Envoy's rate limit service (envoyproxy/ratelimit configuration, in-memory counters): 95% {@code
   * remote_address} descriptors from 20k addresses (OK), 5% one search path over its per-minute
   * limit.
   */
  Scenario rls() {
    return rls(null);
  }

  /**
   * {@link #rls()} with the counters in Redis ({@code INCRBY} and {@code PEXPIRE} per descriptor,
   * pipelines shared by concurrent requests), as several Portcullis instances behind one Envoy
   * fleet keep them.
   */
  Scenario rlsRedis(String redisAddress) {
    return rls(redisAddress);
  }

  private Scenario rls(@Nullable String redisAddress) {
    return new Scenario(
        redisAddress == null ? "rls" : "rls-redis",
        "Envoy RLS ShouldRateLimit (envoyproxy/ratelimit config, "
            + (redisAddress == null ? "in memory" : "counters in Redis")
            + "): 95% per-address descriptors (OK), 5% one descriptor over its limit",
        dir -> {
          Path policy = dir.resolve("rls-policy.yaml");
          Files.writeString(policy, "version: 1\nsegments:\n" + ANONYMOUS_SEGMENT);
          Path rlsDir = Files.createDirectories(dir.resolve("ratelimit"));
          Files.writeString(
              rlsDir.resolve("edge.yaml"),
              """
              domain: edge
              descriptors:
                - key: remote_address
                  rate_limit: { unit: second, requests_per_unit: 1000 }
                - key: path
                  value: /v1/search
                  rate_limit: { unit: minute, requests_per_unit: 100 }
              """);
          return redisAddress == null
              ? portcullis(policy, dir, "--rls-dir", rlsDir.toString())
              : portcullis(
                  policy,
                  dir,
                  "--rls-dir",
                  rlsDir.toString(),
                  "--redis-prefix",
                  "pc-loadtest-rls-" + runId,
                  "--redis",
                  redisAddress);
        },
        (server, rate, total) -> {
          List<Mix.Probe<RateLimitRequest>> spread = new ArrayList<>();
          for (int i = 0; i < 20_000; i++) {
            spread.add(
                new Mix.Probe<>(
                    "OK",
                    rlsRequest("remote_address", "10.4." + (i >> 8 & 255) + "." + (i & 255)),
                    Set.of("OK")));
          }
          List<Mix.Probe<RateLimitRequest>> hot =
              List.of(
                  new Mix.Probe<>(
                      "OVER_LIMIT", rlsRequest("path", "/v1/search"), Set.of("OK", "OVER_LIMIT")));
          return GrpcTarget.rls(
                  redisAddress == null ? "rls" : "rls-redis",
                  server.grpcPort(),
                  CONNECTIONS,
                  Mix.weighted(List.of(spread, hot), new int[] {95, 5}))
              .connect();
        });
  }

  private static RateLimitRequest rlsRequest(String key, String value) {
    return RateLimitRequest.newBuilder()
        .setDomain("edge")
        .addDescriptors(
            RateLimitDescriptor.newBuilder()
                .addEntries(RateLimitDescriptor.Entry.newBuilder().setKey(key).setValue(value)))
        .setHitsAddend(1)
        .build();
  }
}
