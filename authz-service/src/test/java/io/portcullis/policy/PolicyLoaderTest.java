package io.portcullis.policy;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assertions.assertTimeoutPreemptively;

import io.portcullis.authz.Conditions;
import io.portcullis.authz.Effect;
import io.portcullis.authz.Mode;
import io.portcullis.authz.Rule;
import io.portcullis.decision.ResponseOptions;
import io.portcullis.identity.ApiKeyVerifier;
import io.portcullis.identity.BearerTokenVerifier;
import io.portcullis.identity.ClaimMapping;
import io.portcullis.identity.CredentialType;
import io.portcullis.identity.IdentityServices;
import io.portcullis.identity.IntrospectionConfig;
import io.portcullis.identity.JwtIssuerConfig;
import io.portcullis.identity.Verification;
import io.portcullis.limit.LimitDefinition;
import io.portcullis.limit.LimitKey;
import io.portcullis.limit.LimitKind;
import io.portcullis.limit.QuotaWindow;
import io.portcullis.request.HttpMethod;
import io.portcullis.request.RequestAttributes;
import io.portcullis.segment.Segment;
import java.io.IOException;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.time.InstantSource;
import java.time.ZoneId;
import java.time.ZoneOffset;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.function.Function;
import org.jspecify.annotations.Nullable;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class PolicyLoaderTest {
  private static final Instant T0 = Instant.parse("2026-11-22T10:00:00Z");

  @TempDir Path dir;

  private Map<String, String> env = Map.of();

  private PolicyLoader loader(IdentityServices services) {
    Function<String, @Nullable String> lookup = env::get;
    return PolicyLoader.create(services, InstantSource.fixed(T0), lookup);
  }

  private Path write(String name, String text) throws IOException {
    Path p = dir.resolve(name);
    Files.createDirectories(p.getParent());
    Files.writeString(p, text);
    return p;
  }

  private LoadResult load(String yaml) throws IOException {
    return loader(IdentityServices.offline()).load(write("policy.yaml", yaml));
  }

  private Policy loaded(String yaml) throws IOException {
    LoadResult r = load(yaml);
    assertThat(r).as("%s", r).isInstanceOf(LoadResult.Loaded.class);
    return ((LoadResult.Loaded) r).policy();
  }

  private List<PolicyError> errors(String yaml) throws IOException {
    LoadResult r = load(yaml);
    assertThat(r).isInstanceOf(LoadResult.Invalid.class);
    return ((LoadResult.Invalid) r).errors();
  }

  /** "line:column field" of each problem, for compact assertions. */
  private static List<String> where(List<PolicyError> errors) {
    return errors.stream().map(e -> e.line() + ":" + e.column() + " " + e.field()).toList();
  }

  private static final String MINIMAL =
      """
      version: 1
      segments:
        - name: public
          rules:
            - { name: status, paths: ["/v1/status"] }
      """;

  // ------------------------------------------------------------------ the example

  @Test
  void example_loadsWithZeroErrorsAndWarnings() {
    env = Map.of("LEGACY_INTROSPECTION_SECRET", "example-secret");
    Path example = Path.of("..", "examples", "policy.yaml");
    LoadResult r = loader(IdentityServices.offline()).load(example);

    assertThat(r).as("%s", r).isInstanceOf(LoadResult.Loaded.class);
    LoadResult.Loaded loaded = (LoadResult.Loaded) r;
    assertThat(loaded.warnings()).isEmpty();
    Policy p = loaded.policy();
    assertThat(p.version()).matches("sha256:[0-9a-f]{16}");
    assertThat(p.source()).isEqualTo(example.toString());
    assertThat(p.loadedAt()).isEqualTo(T0);
    assertThat(p.segments())
        .extracting(Segment::name)
        .containsExactly("internal-services", "partners", "staging-testers", "public");
    Rule createOrder = p.segments().get(1).rules().get(1);
    assertThat(createOrder.bodySchema()).isNotNull();
    assertThat(createOrder.bodySchema().source()).isEqualTo("schemas/order.json");
    assertThat(p.usesCountry()).isTrue();
    assertThat(p.protect()).isNotNull();
    assertThat(p.identity().credentialHeaders())
        .containsExactlyInAnyOrder("authorization", "x-api-key");
  }

  @Test
  void example_withoutItsSecretInTheEnvironment_loadsWithTheDevelopmentDefault() {
    LoadResult r =
        loader(IdentityServices.offline()).load(Path.of("..", "examples", "policy.yaml"));
    assertThat(r).as("%s", r).isInstanceOf(LoadResult.Loaded.class);
  }

  // ------------------------------------------------------------------ all errors at once

  @Test
  void load_fileWithSeveralProblems_reportsAllOfThem() {
    List<PolicyError> errors =
        PolicyLoaderErrorsTest.errorsOf(PolicyLoaderErrorsTest.policy("multiple_errors.yaml"));
    assertThat(where(errors))
        .containsExactly(
            "5:15 identity.jwt[0].issuer",
            "6:18 identity.jwt[0].audiences",
            "7:20 identity.jwt[0].algorithms[0]",
            "11:19 segments[0].match.source_ip[0]",
            "12:17 segments[0].match.country[0]",
            "15:19 segments[0].rules[0].methods[0]",
            "16:17 segments[0].rules[0].paths[0]",
            "18:45 segments[0].rules[0].limits[0].rate",
            "19:11 segments[1].name",
            "20:18 segments[1].require_tls",
            "22:9 segments[1].rules[0].paths",
            "22:22 segments[1].rules[0].path",
            "24:38 protect.failed_auth.threshold",
            "24:64 protect.failed_auth.block_for",
            "26:22 response.strip_credentials");
    assertThat(errors).allMatch(PolicyError::isError);
  }

  // ------------------------------------------------------------------ compilation

  @Test
  void compile_buildsSegmentsRulesLimitsGuardsAndModes() throws IOException {
    Policy p =
        loaded(
            """
            version: 1
            segments:
              - name: partners
                match:
                  credential: [api_key, jwt]
                  client_type: [partner]
                  principal: ["spiffe://x/*"]
                  client: [acme]
                  roles_any: [r1]
                  source_ip: [10.0.0.0/8]
                  country: [NO, DE]
                  context: { environment: production }
                require_tls: true
                network: { allow: [10.0.0.0/8], deny: [10.9.0.0/16] }
                geo: { allow: [NO, DE], deny: [KP] }
                mode: dry-run
                rules:
                  - name: read
                    methods: [GET, HEAD]
                    paths: ["/v1/orders", "/v1/orders/*"]
                    roles_any: [orders.read]
                    roles_all: [a, b]
                    scopes_any: ["orders:read"]
                    clients: [acme]
                  - name: everything
                    methods: ["*"]
                    paths: ["/**"]
                    mode: dry-run
                    limits:
                      - { name: writes, key: [client, "header:X-Tenant"], rate: 10/m }
                  - name: no-admin
                    effect: deny
                    paths: ["/admin/**"]
                limits:
                  - { name: per-key, key: [api_key], rate: 100/s, burst: 200 }
                  - { name: daily, key: [client], quota: 1000/day }
                  - { name: monthly, key: [client, route], quota: 5/month, timezone: Europe/Berlin }
              - name: public
                rules:
                  - { name: status, paths: ["/v1/status"] }
            protect:
              failed_auth: { key: "header:X-Forwarded-User", threshold: 5, window: 30s, block_for: 1h }
            """);

    assertThat(p.segments()).hasSize(2);
    Segment s = p.segments().get(0);
    assertThat(s.name()).isEqualTo("partners");
    assertThat(s.mode()).isEqualTo(Mode.DRY_RUN);
    assertThat(s.match().credentials())
        .containsExactlyInAnyOrder(CredentialType.API_KEY, CredentialType.JWT);
    assertThat(s.match().clientTypes()).containsExactly("partner");
    assertThat(s.match().principals()).extracting(Object::toString).containsExactly("spiffe://x/*");
    assertThat(s.match().countries()).containsExactlyInAnyOrder("NO", "DE");
    assertThat(s.match().context()).isEqualTo(Map.of("environment", "production"));
    assertThat(s.match().sourceIps().blocks()).containsExactly("10.0.0.0/8");
    assertThat(s.guards().requireTls()).isTrue();
    assertThat(s.guards().networkAllow().blocks()).containsExactly("10.0.0.0/8");
    assertThat(s.guards().networkDeny().blocks()).containsExactly("10.9.0.0/16");
    assertThat(s.guards().geoAllow()).containsExactlyInAnyOrder("NO", "DE");
    assertThat(s.guards().geoDeny()).containsExactly("KP");

    Rule read = s.rules().get(0);
    assertThat(read.effect()).isEqualTo(Effect.ALLOW);
    assertThat(read.methodBits()).isEqualTo(HttpMethod.GET.bit() | HttpMethod.HEAD.bit());
    assertThat(read.paths())
        .extracting(Object::toString)
        .containsExactly("/v1/orders", "/v1/orders/*");
    assertThat(read.conditions())
        .isEqualTo(
            new Conditions(
                java.util.Set.of("orders.read"),
                java.util.Set.of("a", "b"),
                java.util.Set.of("orders:read"),
                java.util.Set.of("acme")));
    assertThat(read.mode()).isEqualTo(Mode.ENFORCE);
    assertThat(read.bodySchema()).isNull();

    Rule everything = s.rules().get(1);
    assertThat(everything.methodBits()).isEqualTo(HttpMethod.allBits());
    assertThat(everything.mode()).isEqualTo(Mode.DRY_RUN);
    assertThat(everything.conditions()).isEqualTo(Conditions.none());
    assertThat(everything.limits())
        .containsExactly(
            new LimitDefinition(
                "writes",
                "segment/partners/rule/everything",
                List.of(LimitKey.Attribute.CLIENT, new LimitKey.Header("x-tenant")),
                new LimitKind.Rate(10, Duration.ofMinutes(1), 10)));

    Rule noAdmin = s.rules().get(2);
    assertThat(noAdmin.effect()).isEqualTo(Effect.DENY);
    assertThat(noAdmin.methodBits())
        .as("no methods = every method")
        .isEqualTo(HttpMethod.allBits());

    assertThat(s.limits())
        .containsExactly(
            new LimitDefinition(
                "per-key",
                "segment/partners",
                List.of(LimitKey.Attribute.API_KEY),
                new LimitKind.Rate(100, Duration.ofSeconds(1), 200)),
            new LimitDefinition(
                "daily",
                "segment/partners",
                List.of(LimitKey.Attribute.CLIENT),
                new LimitKind.Quota(1000, QuotaWindow.DAY, ZoneOffset.UTC)),
            new LimitDefinition(
                "monthly",
                "segment/partners",
                List.of(LimitKey.Attribute.CLIENT, LimitKey.Attribute.ROUTE),
                new LimitKind.Quota(5, QuotaWindow.MONTH, ZoneId.of("Europe/Berlin"))));

    Segment pub = p.segments().get(1);
    assertThat(pub.match().isEmpty()).isTrue();
    assertThat(pub.mode()).isEqualTo(Mode.ENFORCE);
    assertThat(pub.guards()).isEqualTo(io.portcullis.segment.Guards.none());

    assertThat(p.protect().key()).isEqualTo("header:x-forwarded-user");
    assertThat(p.protect().threshold()).isEqualTo(5);
    assertThat(p.protect().window()).isEqualTo(Duration.ofSeconds(30));
    assertThat(p.protect().blockFor()).isEqualTo(Duration.ofHours(1));
    assertThat(p.response()).isEqualTo(ResponseOptions.DEFAULT);
    assertThat(p.usesCountry()).isTrue();
  }

  @Test
  void compile_minimalPolicy_hasDefaultsAndNoCountryLookups() throws IOException {
    Policy p = loaded(MINIMAL);
    assertThat(p.usesCountry()).isFalse();
    assertThat(p.protect()).isNull();
    assertThat(p.response()).isEqualTo(new ResponseOptions(true, true));
    assertThat(p.identity().credentialHeaders()).containsExactly("authorization");
    // Without `mtls:` a peer certificate is not a credential: the caller stays anonymous.
    Verification v =
        p.identity()
            .resolve(
                RequestAttributes.builder()
                    .method("GET")
                    .path("/")
                    .sourcePrincipal("spiffe://prod.example.com/sa/web")
                    .build());
    assertThat(v).isInstanceOf(Verification.Verified.class);
    assertThat(((Verification.Verified) v).identity().credential())
        .isEqualTo(CredentialType.ANONYMOUS);
  }

  @Test
  void compile_geoGuardOnly_usesCountry() throws IOException {
    Policy p =
        loaded(
            """
            version: 1
            segments:
              - name: public
                geo: { deny: [KP] }
                rules:
                  - { name: status, paths: ["/v1/status"] }
            """);
    assertThat(p.usesCountry()).isTrue();
  }

  @Test
  void compile_responseSection_isRead() throws IOException {
    Policy p =
        loaded(MINIMAL + "response: { strip_credentials: false, upstream_headers: false }\n");
    assertThat(p.response()).isEqualTo(new ResponseOptions(false, false));
  }

  /** Records what the loader asks of the identity services. */
  private static final class RecordingServices implements IdentityServices {
    final List<List<JwtIssuerConfig>> jwtCalls = new ArrayList<>();
    final List<IntrospectionConfig> introspectionCalls = new ArrayList<>();
    int apiKeyCalls;

    @Override
    public BearerTokenVerifier jwt(List<JwtIssuerConfig> issuers) {
      jwtCalls.add(issuers);
      return token -> null;
    }

    @Override
    public BearerTokenVerifier introspection(IntrospectionConfig endpoint) {
      introspectionCalls.add(endpoint);
      return token -> null;
    }

    @Override
    public ApiKeyVerifier apiKeys() {
      apiKeyCalls++;
      return IdentityServices.offline().apiKeys();
    }
  }

  @Test
  void compile_identity_asksServicesOncePerIssuerSetAndPerEndpoint() throws IOException {
    env = Map.of("A_SECRET", "s3cr3t-a", "B_SECRET", "s3cr3t-b");
    RecordingServices services = new RecordingServices();
    LoadResult r =
        loader(services)
            .load(
                write(
                    "policy.yaml",
                    """
                    version: 1
                    identity:
                      jwt:
                        - name: corp
                          issuer: https://idp.example.com/realms/main
                          audiences: [orders-api]
                        - name: dev
                          issuer: http://127.0.0.1:8080/realms/dev
                          jwks_uri: http://localhost:8080/jwks
                          audiences: [orders-api, admin-api]
                          algorithms: [PS256, EdDSA]
                          token_types: [application/AT+JWT, at+jwt]
                          clock_skew: 5m
                          claims: { subject: user.id, roles: realm_access.roles, client_type: ct }
                      introspection:
                        - name: legacy
                          endpoint: https://auth.example.com/oauth2/introspect
                          client_id: portcullis
                          client_secret: ${A_SECRET}
                        - name: other
                          endpoint: http://[::1]:9000/introspect
                          client_id: portcullis
                          client_secret: ${B_SECRET}
                          cache_ttl: 500ms
                          max_concurrent_requests: 8
                      api_keys:
                        headers: [X-API-Key, x-partner-key]
                      mtls:
                        trust_domains: [prod.example.com]
                    segments:
                      - name: all
                        rules:
                          - { name: status, paths: ["/v1/status"] }
                    """));
    assertThat(r).as("%s", r).isInstanceOf(LoadResult.Loaded.class);
    Policy p = ((LoadResult.Loaded) r).policy();

    assertThat(services.jwtCalls).hasSize(1);
    List<JwtIssuerConfig> issuers = services.jwtCalls.get(0);
    assertThat(issuers)
        .containsExactly(
            new JwtIssuerConfig(
                "corp",
                URI.create("https://idp.example.com/realms/main"),
                null,
                List.of("orders-api"),
                java.util.Set.of("RS256", "ES256"),
                Duration.ofSeconds(30),
                ClaimMapping.DEFAULT),
            new JwtIssuerConfig(
                "dev",
                URI.create("http://127.0.0.1:8080/realms/dev"),
                URI.create("http://localhost:8080/jwks"),
                List.of("orders-api", "admin-api"),
                java.util.Set.of("PS256", "EdDSA"),
                java.util.Set.of("at+jwt"),
                Duration.ofMinutes(5),
                new ClaimMapping("user.id", "azp", "realm_access.roles", "scope", "ct")));

    assertThat(services.introspectionCalls)
        .extracting(IntrospectionConfig::name)
        .containsExactly("legacy", "other");
    IntrospectionConfig legacy = services.introspectionCalls.get(0);
    assertThat(legacy.clientSecret().reveal()).isEqualTo("s3cr3t-a");
    assertThat(legacy.cacheTtl()).isEqualTo(Duration.ofSeconds(60));
    assertThat(legacy.toString()).doesNotContain("s3cr3t-a");
    assertThat(services.introspectionCalls.get(1).cacheTtl()).isEqualTo(Duration.ofMillis(500));
    assertThat(legacy.maxConcurrentRequests()).as("default").isEqualTo(64);
    assertThat(services.introspectionCalls.get(1).maxConcurrentRequests()).isEqualTo(8);

    assertThat(services.apiKeyCalls).isEqualTo(1);
    assertThat(p.identity().credentialHeaders())
        .containsExactlyInAnyOrder("authorization", "x-api-key", "x-partner-key");

    Verification trusted =
        p.identity()
            .resolve(
                RequestAttributes.builder()
                    .method("GET")
                    .path("/")
                    .sourcePrincipal("spiffe://prod.example.com/ns/a/sa/b")
                    .build());
    assertThat(trusted).isInstanceOf(Verification.Verified.class);
    assertThat(((Verification.Verified) trusted).identity().credential())
        .isEqualTo(CredentialType.MTLS);
    Verification untrusted =
        p.identity()
            .resolve(
                RequestAttributes.builder()
                    .method("GET")
                    .path("/")
                    .sourcePrincipal("spiffe://evil.example.com/ns/a/sa/b")
                    .build());
    assertThat(untrusted).isInstanceOf(Verification.Rejected.class);
  }

  @Test
  void trustDomains_acceptEveryNameTheSpiffeStandardAllows_notOnlyDnsNames() throws IOException {
    // SPIFFE-ID 2.1: [a-z0-9.-_]; an underscore or a leading '-' is not a DNS label, but a valid
    // trust domain, and the verifier accepts it.
    Policy p =
        loaded(
            MINIMAL
                + "identity: { mtls: { trust_domains: [prod_eu.example.com, -edge.local] } }\n");

    for (String id : List.of("spiffe://prod_eu.example.com/ns/a", "spiffe://-edge.local/sa/b")) {
      Verification v =
          p.identity()
              .resolve(
                  RequestAttributes.builder().method("GET").path("/").sourcePrincipal(id).build());
      assertThat(v).as(id).isInstanceOf(Verification.Verified.class);
    }
  }

  @Test
  void compile_apiKeysWithoutHeaders_defaultsToXApiKey() throws IOException {
    Policy p = loaded(MINIMAL + "identity: { api_keys: {} }\n");
    assertThat(p.identity().credentialHeaders())
        .containsExactlyInAnyOrder("authorization", "x-api-key");
  }

  @Test
  void urls_httpOnlyOnLoopback() throws IOException {
    String template =
        """
        version: 1
        identity:
          jwt:
            - { name: a, issuer: "%s", audiences: [x] }
        segments:
          - name: all
            rules:
              - { name: status, paths: ["/v1/status"] }
        """;
    for (String ok :
        List.of(
            "https://idp.example.com",
            "http://localhost:8080/realms/x",
            "http://127.0.0.1/x",
            "http://127.9.9.9:1/x",
            "http://[::1]:8080/x")) {
      assertThat(load(template.formatted(ok))).as(ok).isInstanceOf(LoadResult.Loaded.class);
    }
    for (String bad :
        List.of(
            "http://idp.example.com",
            "http://127.example.com/x",
            "http://10.0.0.1/x",
            "ftp://idp.example.com",
            "idp.example.com",
            "https://user:pw@idp.example.com",
            "https://idp.example.com/#x")) {
      assertThat(errors(template.formatted(bad)))
          .as(bad)
          .singleElement()
          .satisfies(e -> assertThat(e.field()).isEqualTo("identity.jwt[0].issuer"));
    }
  }

  // ------------------------------------------------------------------ version

  @Test
  void version_changesWithThePolicyAndWithEveryReferencedSchemaFile() throws IOException {
    String policy =
        """
        version: 1
        segments:
          - name: all
            rules:
              - { name: create, methods: [POST], paths: ["/v1/orders"], body_schema: schemas/order.json }
        """;
    write(
        "schemas/order.json",
        "{ \"type\": \"object\", \"properties\": { \"line\": { \"$ref\": \"line.json\" } } }");
    write("schemas/line.json", "{ \"type\": \"object\" }");
    String v1 = loaded(policy).version();
    assertThat(loaded(policy).version()).as("same bytes, same version").isEqualTo(v1);

    write(
        "schemas/order.json",
        "{ \"type\": \"object\", \"properties\": { \"line\": { \"$ref\": \"line.json\" } }, \"required\": [\"line\"] }");
    String v2 = loaded(policy).version();
    assertThat(v2).isNotEqualTo(v1);

    write("schemas/line.json", "{ \"type\": \"object\", \"required\": [\"sku\"] }");
    String v3 = loaded(policy).version();
    assertThat(v3).isNotEqualTo(v2);

    String v4 = loaded(policy + "# a comment changes the bytes\n").version();
    assertThat(v4).isNotEqualTo(v3).matches("sha256:[0-9a-f]{16}");
  }

  // ------------------------------------------------------------------ environment

  @Test
  void env_substitutesEscapesAndRetypesPlainScalars() throws IOException {
    env = Map.of("THRESHOLD", "7", "ZONE", "production", "PREFIX", "/v1");
    Policy p =
        loaded(
            """
            version: 1
            segments:
              - name: public
                match:
                  context: { environment: "${ZONE}", literal: "$${ZONE}", mixed: "a-${ZONE}-${ZONE}" }
                rules:
                  - { name: status, paths: ["${PREFIX}/status"] }
            protect:
              failed_auth:
                threshold: ${THRESHOLD}
                window: 1m
                block_for: 1m
            """);
    assertThat(p.segments().get(0).match().context())
        .containsEntry("environment", "production")
        .containsEntry("literal", "${ZONE}")
        .containsEntry("mixed", "a-production-production");
    assertThat(p.segments().get(0).rules().get(0).paths())
        .extracting(Object::toString)
        .containsExactly("/v1/status");
    assertThat(p.protect().threshold()).isEqualTo(7);
    assertThat(p.protect().key()).isEqualTo("ip");
  }

  @Test
  void denyRuleOnGet_alsoDeniesHead_becauseServersAnswerHeadWithTheGetHandler() throws IOException {
    Policy p =
        loaded(
            """
            version: 1
            segments:
              - name: all
                rules:
                  - { name: no-secrets, effect: deny, methods: [GET], paths: ["/v1/secrets/**"] }
                  - { name: read, methods: [GET], paths: ["/v1/**"] }
                limits: [{ name: per-ip, key: [ip], rate: 5/s }]
            """);
    assertThat(p.segments().get(0).rules().get(0).methodBits() & HttpMethod.HEAD.bit()).isNotZero();
    assertThat(p.segments().get(0).rules().get(1).methodBits() & HttpMethod.HEAD.bit())
        .as("allow rules mean exactly what they list")
        .isZero();
  }

  @Test
  void matchIssuer_mustNameAConfiguredIssuer() throws IOException {
    List<PolicyError> errors =
        errors(
            """
            version: 1
            identity:
              jwt:
                - { name: corp, issuer: "https://idp.example.com", audiences: [api] }
            segments:
              - name: corp
                match: { issuer: [corp, partner] }
                rules:
                  - { name: read, paths: ["/v1/**"] }
            """);
    assertThat(errors)
        .singleElement()
        .satisfies(
            e -> {
              assertThat(e.field()).isEqualTo("segments[0].match.issuer[1]");
              assertThat(e.message()).contains("'partner' is not the name", "[corp]");
            });
  }

  @Test
  void env_defaultValue_usedWhenUnsetOrEmpty_neverWhenSet() throws IOException {
    env = Map.of("SET", "from-env", "EMPTY", "");
    Policy p =
        loaded(
            """
            version: 1
            segments:
              - name: public
                match:
                  context: { a: "${SET:-dflt}", b: "${UNSET:-dflt}", c: "${EMPTY:-dflt}", d: "${UNSET:-}" }
                rules:
                  - { name: status, paths: ["/v1/status"] }
            """);
    assertThat(p.segments().get(0).match().context())
        .containsEntry("a", "from-env")
        .containsEntry("b", "dflt")
        .containsEntry("c", "dflt")
        .containsEntry("d", "");
  }

  @Test
  void env_badReference_isAnErrorAtTheScalar() throws IOException {
    List<PolicyError> errors =
        errors(
            """
            version: 1
            segments:
              - name: public
                match: { context: { a: "${1BAD}", b: "${UNCLOSED" } }
                rules:
                  - { name: status, paths: ["/v1/status"] }
            """);
    assertThat(where(errors))
        .containsExactly("4:28 segments[0].match.context.a", "4:42 segments[0].match.context.b");
    assertThat(errors)
        .allSatisfy(e -> assertThat(e.message()).contains("invalid variable reference"));
  }

  @Test
  void env_nestedReferenceInADefault_isAnErrorAtTheScalar_setOrNot() throws IOException {
    // It read as the literal text "${DEV_SECRET}" (A unset) or as A's value and a "}" (A set).
    env = Map.of("DEV_SECRET", "dev", "SET", "from-env");
    List<PolicyError> errors =
        errors(
            """
            version: 1
            segments:
              - name: public
                match: { context: { a: "${SECRET:-${DEV_SECRET}}", b: "${SET:-${DEV_SECRET}}" } }
                rules:
                  - { name: status, paths: ["/v1/status"] }
            """);
    assertThat(where(errors))
        .containsExactly("4:28 segments[0].match.context.a", "4:59 segments[0].match.context.b");
    assertThat(errors)
        .allSatisfy(
            e ->
                assertThat(e.message())
                    .isEqualTo(
                        "nested ${...} in a default is not supported: write the default"
                            + " literally, or set the variable"));
  }

  // ------------------------------------------------------------------ YAML

  @Test
  void yaml_norwayStaysAString() throws IOException {
    Policy p =
        loaded(
            """
            version: 1
            segments:
              - name: nordics
                match: { country: [NO, SE] }
                rules:
                  - { name: all, paths: ["/**"] }
            """);
    assertThat(p.segments().get(0).match().countries()).containsExactlyInAnyOrder("NO", "SE");
  }

  @Test
  void yaml_anchorsWithinLimits_areExpanded() throws IOException {
    Policy p =
        loaded(
            """
            version: 1
            segments:
              - name: a
                match: { client: [a] }
                rules: &rules
                  - { name: status, paths: ["/v1/status"] }
              - name: b
                match: { client: [b] }
                rules: *rules
            """);
    assertThat(p.segments().get(1).rules()).extracting(Rule::name).containsExactly("status");
  }

  @Test
  void yaml_versionAsString_isATypeError() throws IOException {
    assertThat(errors(MINIMAL.replace("version: 1", "version: \"1\"")))
        .singleElement()
        .satisfies(e -> assertThat(e.message()).isEqualTo("expected the integer 1, got a string"));
  }

  @Test
  void yaml_missingVersionAndSegments_areBothReported() throws IOException {
    assertThat(where(errors("response: {}\n"))).containsExactly("1:1 version", "1:1 segments");
  }

  @Test
  void yaml_recursiveAlias_isAnErrorNotACrash() throws IOException {
    List<PolicyError> errors = errors("version: 1\nsegments: &s [*s]\n");
    assertThat(errors).isNotEmpty();
    assertThat(errors.get(0).message()).isEqualTo("recursive alias");
  }

  @Test
  void yaml_aliasBombWithinTheAliasLimit_stopsAtTheNodeLimit() throws IOException {
    // 10 levels of 5 aliases each: 50 aliases (allowed) that would expand to 5^10 nodes.
    StringBuilder yaml = new StringBuilder("version: 1\nl0: &l0 [a, a, a, a, a]\n");
    for (int i = 1; i <= 10; i++) {
      String prev = "*l" + (i - 1);
      yaml.append("l")
          .append(i)
          .append(": &l")
          .append(i)
          .append(" [")
          .append(String.join(", ", java.util.Collections.nCopies(5, prev)))
          .append("]\n");
    }
    yaml.append("segments: []\n");
    assertThat(errors(yaml.toString()))
        .singleElement()
        .satisfies(
            e -> assertThat(e.message()).isEqualTo("more than 100000 nodes (aliases expanded)"));
  }

  @Test
  void yaml_aliasesToALongString_stopAtTheTextBudget_fastAndWithOneError() throws IOException {
    // One 50 KB string and 30,000 aliases to it: the alias limit counts only aliases to
    // collections, so this read as 1.5 GB of method names, each quoted in its own error (at the
    // 1 MiB file cap, 600 KB and 99,000 aliases: tens of gigabytes, an OutOfMemoryError).
    String methods = "[&m \"" + "x".repeat(50_000) + "\"" + ", *m".repeat(30_000) + "]";
    String yaml = MINIMAL.replace("{ name: status,", "{ name: status, methods: " + methods + ",");
    List<PolicyError> errors = assertTimeoutPreemptively(Duration.ofSeconds(2), () -> errors(yaml));
    assertThat(errors)
        .singleElement()
        .satisfies(
            e -> {
              // 21 copies of the string exceed the budget of max(4 x 170 KB, 1 MiB) characters.
              assertThat(e.field()).isEqualTo("segments[0].rules[0].methods[20]");
              assertThat(e.message())
                  .isEqualTo(
                      "more than "
                          + YamlTree.MIN_TEXT_BUDGET
                          + " characters of text (aliases expanded): at most four times the"
                          + " document's size");
            });
  }

  @Test
  void limits_longTimezone_isReportedFastWithTheValueCut() throws IOException {
    // The "did you mean" distance to each of ~600 zone ids cost length x length (a 1 MB value:
    // tens of seconds); a long value gets no suggestion, and the error quotes 64 characters.
    String yaml =
        MINIMAL.replace(
            "{ name: status, paths: [\"/v1/status\"] }",
            "{ name: status, paths: [\"/v1/status\"], limits: [{ name: daily, key: [client],"
                + " quota: 100/day, timezone: \""
                + "x".repeat(100_000)
                + "\" }] }");
    List<PolicyError> errors = assertTimeoutPreemptively(Duration.ofSeconds(2), () -> errors(yaml));
    assertThat(errors)
        .singleElement()
        .satisfies(
            e -> {
              assertThat(e.field()).isEqualTo("segments[0].rules[0].limits[0].timezone");
              assertThat(e.message())
                  .isEqualTo(
                      "unknown time zone '"
                          + "x".repeat(64)
                          + "...'; expected an IANA zone id such as Europe/Berlin or UTC");
            });
  }

  @Test
  void limits_misspeltTimezone_stillGetsASuggestion() throws IOException {
    String yaml =
        MINIMAL.replace(
            "{ name: status, paths: [\"/v1/status\"] }",
            "{ name: status, paths: [\"/v1/status\"], limits: [{ name: daily, key: [client],"
                + " quota: 100/day, timezone: Europe/Berln }] }");
    assertThat(errors(yaml))
        .singleElement()
        .satisfies(e -> assertThat(e.message()).endsWith("; did you mean 'Europe/Berlin'?"));
  }

  @Test
  void yaml_deepNesting_isRefusedBeforeComposing() throws IOException {
    String deep = "version: 1\nsegments: " + "[".repeat(10_000) + "]".repeat(10_000) + "\n";
    assertThat(errors(deep))
        .singleElement()
        .satisfies(e -> assertThat(e.message()).contains("nesting deeper than 64 levels"));
  }

  @Test
  void yaml_customTag_isRejected() throws IOException {
    assertThat(errors(MINIMAL + "protect: !!binary aGVsbG8=\n"))
        .anySatisfy(e -> assertThat(e.message()).contains("unsupported tag"));
  }

  @Test
  void file_largerThanOneMebibyte_isRefusedUnread() throws IOException {
    Path big = write("big.yaml", MINIMAL + "#" + "x".repeat(PolicyLoader.MAX_FILE_BYTES) + "\n");
    LoadResult r = loader(IdentityServices.offline()).load(big);
    assertThat(((LoadResult.Invalid) r).errors())
        .singleElement()
        .satisfies(
            e -> {
              assertThat(e.message()).contains("larger than 1 MiB");
              assertThat(e.line()).isZero();
              assertThat(e.format()).isEqualTo(big + ": the policy file is larger than 1 MiB");
            });
  }

  @Test
  void file_aNamedPipeOrADirectory_isRefusedNotWaitedFor() throws IOException {
    PolicyLoader l = loader(IdentityServices.offline());
    Path pipe = LivePolicyTest.fifo(dir.resolve("policy-pipe.yaml"));
    Path folder = java.nio.file.Files.createDirectories(dir.resolve("policy-dir.yaml"));

    for (Path p : List.of(pipe, folder)) {
      LoadResult r =
          org.junit.jupiter.api.Assertions.assertTimeoutPreemptively(
              java.time.Duration.ofSeconds(5), () -> l.load(p));
      assertThat(((LoadResult.Invalid) r).errors().get(0).message())
          .as(p.toString())
          .contains("not a regular file");
    }
  }

  @Test
  void file_missingEmptyOrNotUtf8_isInvalid() throws IOException {
    PolicyLoader l = loader(IdentityServices.offline());
    assertThat(((LoadResult.Invalid) l.load(dir.resolve("nope.yaml"))).errors().get(0).message())
        .contains("does not exist");
    assertThat(
            ((LoadResult.Invalid) l.load(write("empty.yaml", "# nothing\n")))
                .errors()
                .get(0)
                .message())
        .contains("empty");
    Path latin1 = dir.resolve("latin1.yaml");
    Files.write(latin1, "version: 1 # caf\u00e9\n".getBytes(StandardCharsets.ISO_8859_1));
    assertThat(((LoadResult.Invalid) l.load(latin1)).errors().get(0).message()).contains("UTF-8");
  }

  // ------------------------------------------------------------------ warnings

  @Test
  void warnings_segmentWithoutRules_loadsWithAWarning() throws IOException {
    LoadResult r =
        load(
            """
            version: 1
            segments:
              - name: public
                match: { credential: [anonymous] }
                rules:
                  - { name: status, paths: ["/v1/status"], limits: [{ name: ip, key: [ip], rate: 5/s }] }
              - name: blocked
                match: { client: [evil] }
            """);
    assertThat(r).isInstanceOf(LoadResult.Loaded.class);
    assertThat(((LoadResult.Loaded) r).warnings())
        .singleElement()
        .satisfies(
            w -> {
              assertThat(w.severity()).isEqualTo(PolicyError.Severity.WARNING);
              assertThat(w.field()).isEqualTo("segments[1].rules");
              assertThat(w.line()).isEqualTo(7);
              assertThat(w.format())
                  .contains(":7:5: warning: segments[1].rules: segment has no rules");
            });
  }

  // ------------------------------------------------------------------ unreachable segments

  private List<String> shadowErrors(String firstMatch, String secondMatch) throws IOException {
    LoadResult r =
        load(
            """
            version: 1
            segments:
              - name: first
                match: %s
                rules:
                  - { name: all, paths: ["/**"] }
              - name: second
                match: %s
                rules:
                  - { name: all, paths: ["/**"] }
            """
                .formatted(firstMatch, secondMatch));
    return r instanceof LoadResult.Invalid i
        ? i.errors().stream().map(PolicyError::message).toList()
        : List.of();
  }

  @Test
  void shadowing_isReportedOnlyWhenTheEarlierMatchIsWeakerOrEqual() throws IOException {
    String unreachable = "segment 'second' is unreachable: segment 'first' (line 3)";
    // Shadowed.
    assertThat(shadowErrors("{}", "{ client: [a] }"))
        .singleElement()
        .asString()
        .contains(unreachable);
    assertThat(shadowErrors("{ client: [a, b] }", "{ client: [a] }"))
        .singleElement()
        .asString()
        .contains(unreachable);
    assertThat(shadowErrors("{ client: [a] }", "{ client: [a] }"))
        .singleElement()
        .asString()
        .contains(unreachable);
    assertThat(
            shadowErrors("{ source_ip: [10.0.0.0/8] }", "{ source_ip: [10.1.0.0/16, 10.2.3.4] }"))
        .singleElement()
        .asString()
        .contains(unreachable);
    assertThat(shadowErrors("{ source_ip: [\"fd00::/8\"] }", "{ source_ip: [\"fd12::/16\"] }"))
        .singleElement()
        .asString()
        .contains(unreachable);
    assertThat(shadowErrors("{ context: { env: prod } }", "{ context: { env: prod, zone: a } }"))
        .singleElement()
        .asString()
        .contains(unreachable);
    assertThat(
            shadowErrors(
                "{ principal: [\"spiffe://x/*\"] }",
                "{ principal: [\"spiffe://x/*\"], client: [a] }"))
        .singleElement()
        .asString()
        .contains(unreachable);
    assertThat(
            shadowErrors(
                "{ credential: [jwt, api_key] }",
                "{ credential: [jwt], roles_any: [x], country: [DE] }"))
        .singleElement()
        .asString()
        .contains(unreachable);
    // Not shadowed: the second segment matches something the first does not.
    assertThat(shadowErrors("{ client: [a] }", "{ client: [a, b] }")).isEmpty();
    assertThat(shadowErrors("{ client: [a] }", "{}")).isEmpty();
    assertThat(shadowErrors("{ client: [a] }", "{ client_type: [a] }")).isEmpty();
    assertThat(shadowErrors("{ source_ip: [10.1.0.0/16] }", "{ source_ip: [10.0.0.0/8] }"))
        .isEmpty();
    assertThat(shadowErrors("{ source_ip: [10.0.0.0/8] }", "{ source_ip: [\"fd00::/8\"] }"))
        .isEmpty();
    assertThat(shadowErrors("{ context: { env: prod, zone: a } }", "{ context: { env: prod } }"))
        .isEmpty();
    assertThat(shadowErrors("{ context: { env: prod } }", "{ context: { env: staging } }"))
        .isEmpty();
    // Principal globs are compared as text only: not sure, so not reported.
    assertThat(
            shadowErrors("{ principal: [\"spiffe://x/**\"] }", "{ principal: [\"spiffe://x/a\"] }"))
        .isEmpty();
  }

  @Test
  void match_withNoValue_isTheEmptyMatch_andMatchesEveryRequest() throws IOException {
    // policy.md: "An empty or absent `match` matches every request". `match:` alone is YAML null.
    for (String empty : List.of("", " ~", " null", " {}")) {
      Policy p =
          loaded(
              """
              version: 1
              segments:
                - name: everyone
                  match:%s
                  rules:
                    - { name: all, paths: ["/**"] }
              """
                  .formatted(empty));
      Segment s = p.segments().get(0);
      assertThat(s.match().isEmpty()).as("match:%s", empty).isTrue();
    }
    // And it shadows a later segment just as `match: {}` does.
    assertThat(shadowErrors("", "{ client: [a] }"))
        .singleElement()
        .asString()
        .contains("segment 'second' is unreachable: segment 'first' (line 3)");
  }

  @Test
  void shadowing_isNotGuessedFromAMatchThatHadErrors() throws IOException {
    // The first match's only condition is invalid; leaving it out must not make it "match all".
    assertThat(shadowErrors("{ source_ip: [10.0.0.1/8] }", "{ client: [a] }"))
        .singleElement()
        .asString()
        .contains("host bits set");
  }
}
