package io.portcullis.policy;

import inet.ipaddr.IPAddress;
import inet.ipaddr.IPAddressString;
import io.portcullis.authz.Effect;
import io.portcullis.authz.Mode;
import io.portcullis.authz.PathPattern;
import io.portcullis.decision.ResponseOptions;
import io.portcullis.identity.ClaimMapping;
import io.portcullis.identity.CredentialType;
import io.portcullis.identity.IntrospectionConfig;
import io.portcullis.identity.JwtIssuerConfig;
import io.portcullis.identity.Secret;
import io.portcullis.limit.FailedAuthRule;
import io.portcullis.limit.LimitKey;
import io.portcullis.limit.LimitKind;
import io.portcullis.limit.QuotaWindow;
import io.portcullis.net.CidrSet;
import io.portcullis.payload.BodySchema;
import io.portcullis.payload.JsonBodySchema;
import io.portcullis.policy.PolicySpec.GuardsSpec;
import io.portcullis.policy.PolicySpec.IdentitySpec;
import io.portcullis.policy.PolicySpec.LimitSpec;
import io.portcullis.policy.PolicySpec.MatchSpec;
import io.portcullis.policy.PolicySpec.Pos;
import io.portcullis.policy.PolicySpec.RuleSpec;
import io.portcullis.policy.PolicySpec.SegmentSpec;
import io.portcullis.request.HttpMethod;
import io.portcullis.segment.PrincipalPattern;
import java.net.URI;
import java.net.URISyntaxException;
import java.time.Duration;
import java.time.ZoneId;
import java.time.ZoneOffset;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.EnumSet;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.function.Function;
import org.jspecify.annotations.Nullable;

/**
 * Binds the {@link YamlNode} tree of a policy file to a {@link PolicySpec}, validating every value
 * against spec/policy.md and reporting every problem to {@link Diagnostics} with the position and
 * field path of the offending node. Binding never stops early: a bad item is reported and left out,
 * and binding goes on with its siblings. Cross-checks (duplicate names, unreachable segments) run
 * at the end over what bound.
 *
 * <p>One instance per load; not thread-safe.
 */
final class PolicyBinder extends YamlReader {
  static final int SUPPORTED_VERSION = 1;
  static final Duration MAX_CLOCK_SKEW = Duration.ofMinutes(5);
  static final Duration DEFAULT_CLOCK_SKEW = Duration.ofSeconds(30);
  static final Duration DEFAULT_CACHE_TTL = Duration.ofSeconds(60);

  /**
   * Introspection calls outstanding per endpoint at most, unless {@code max_concurrent_requests}
   * says otherwise (an extension of policy.md): enough for an authorization server that answers in
   * 50 ms to verify over 1,000 new tokens a second, few enough that a flood of random tokens is not
   * passed on to it as a flood of calls and connections.
   */
  static final int DEFAULT_MAX_CONCURRENT_REQUESTS = 64;

  static final List<String> DEFAULT_ALGORITHMS = List.of("RS256", "ES256");
  static final List<String> DEFAULT_API_KEY_HEADERS = List.of("x-api-key");
  static final int MAX_NAME_LENGTH = 64;
  static final int QUOTED_MAX = 64;

  static final Set<String> ALGORITHMS =
      new LinkedHashSet<>(
          List.of(
              "RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512",
              "EdDSA"));

  /** ISO 3166-1 alpha-2 codes known to the JDK, plus {@code XK} (Kosovo, used by GeoIP data). */
  static final Set<String> COUNTRIES;

  static {
    Set<String> c = new TreeSet<>(Arrays.asList(Locale.getISOCountries()));
    c.add("XK");
    COUNTRIES = Set.copyOf(c);
  }

  private static final List<String> ROOT_KEYS =
      List.of("version", "identity", "segments", "protect", "response");
  private static final List<String> IDENTITY_KEYS =
      List.of("jwt", "introspection", "api_keys", "mtls");
  private static final List<String> JWT_KEYS =
      List.of(
          "name",
          "issuer",
          "jwks_uri",
          "audiences",
          "algorithms",
          "token_types",
          "clock_skew",
          "claims");
  private static final List<String> CLAIM_KEYS =
      List.of("subject", "client", "roles", "scopes", "client_type");
  private static final List<String> INTROSPECTION_KEYS =
      List.of(
          "name",
          "endpoint",
          "client_id",
          "client_secret",
          "cache_ttl",
          "claims",
          "max_concurrent_requests");
  private static final List<String> SEGMENT_KEYS =
      List.of("name", "match", "require_tls", "network", "geo", "rules", "limits", "mode");
  private static final List<String> MATCH_KEYS =
      List.of(
          "credential",
          "principal",
          "client",
          "client_type",
          "roles_any",
          "source_ip",
          "country",
          "context",
          "issuer");
  private static final List<String> ALLOW_DENY_KEYS = List.of("allow", "deny");
  private static final List<String> RULE_KEYS =
      List.of(
          "name",
          "effect",
          "methods",
          "paths",
          "roles_any",
          "roles_all",
          "scopes_any",
          "clients",
          "body_schema",
          "limits",
          "mode");
  private static final List<String> ALLOW_ONLY_RULE_KEYS =
      List.of("roles_any", "roles_all", "scopes_any", "clients", "body_schema", "limits");
  private static final List<String> LIMIT_KEYS =
      List.of("name", "key", "rate", "burst", "quota", "timezone");
  private static final List<String> PROTECT_KEYS = List.of("failed_auth");
  private static final List<String> FAILED_AUTH_KEYS =
      List.of("key", "threshold", "window", "block_for");
  private static final List<String> RESPONSE_KEYS =
      List.of("strip_credentials", "upstream_headers");

  private final Function<String, JsonBodySchema.Outcome> schemas;

  /** Names of the policy's JWT issuers and introspection endpoints, for {@code match.issuer}. */
  private final Set<String> issuerNames = new TreeSet<>();

  private PolicyBinder(Diagnostics d, Function<String, JsonBodySchema.Outcome> schemas) {
    super(d);
    this.schemas = schemas;
  }

  /**
   * Binds a policy tree.
   *
   * @param schemas compiles a {@code body_schema} path (relative to the policy file)
   * @return what bound; meaningful only when {@code d} has no errors
   */
  static PolicySpec bind(
      YamlNode root, Diagnostics d, Function<String, JsonBodySchema.Outcome> schemas) {
    return new PolicyBinder(d, schemas).root(root);
  }

  // ---------------------------------------------------------------- sections

  private PolicySpec root(YamlNode node) {
    if (!(node instanceof YamlNode.Mapping m)) {
      d.error(
          node,
          "",
          "the policy must be a mapping with version, identity, segments, protect and response;"
              + " got "
              + node.describe());
      return new PolicySpec(IdentitySpec.NONE, List.of(), null, ResponseOptions.DEFAULT);
    }
    Fields f = new Fields(m, "", ROOT_KEYS);
    YamlNode version = f.get("version");
    if (version == null) {
      f.missing("version", "is required (version: 1)");
    } else if (version instanceof YamlNode.Scalar s && !s.broken()) {
      if (s.type() != YamlNode.ScalarType.INT) {
        d.error(s, "version", "expected the integer 1, got " + s.describe());
      } else if (!s.value().equals(String.valueOf(SUPPORTED_VERSION))) {
        d.error(
            s,
            "version",
            "unsupported version "
                + s.value()
                + "; this Portcullis reads version "
                + SUPPORTED_VERSION);
      }
    } else if (!(version instanceof YamlNode.Scalar)) {
      d.error(version, "version", "expected the integer 1, got " + version.describe());
    }
    IdentitySpec identity =
        f.get("identity") == null ? IdentitySpec.NONE : identity(f.get("identity"), "identity");
    identity.jwt().forEach(j -> issuerNames.add(j.name()));
    identity.introspection().forEach(i -> issuerNames.add(i.name()));
    List<SegmentSpec> segments = List.of();
    YamlNode segmentsNode = f.get("segments");
    if (segmentsNode == null) {
      f.missing("segments", "is required (a policy without segments denies every request)");
    } else {
      segments = segments(segmentsNode, "segments");
    }
    FailedAuthRule protect = f.get("protect") == null ? null : protect(f.get("protect"), "protect");
    ResponseOptions response =
        f.get("response") == null ? ResponseOptions.DEFAULT : response(f.get("response"));
    return new PolicySpec(identity, segments, protect, response);
  }

  private IdentitySpec identity(YamlNode node, String path) {
    YamlNode.Mapping m = mapping(node, path);
    if (m == null) {
      return IdentitySpec.NONE;
    }
    Fields f = new Fields(m, path, IDENTITY_KEYS);
    Map<String, Pos> names = new HashMap<>();
    Map<String, Pos> issuers = new HashMap<>();
    List<JwtIssuerConfig> jwt = new ArrayList<>();
    YamlNode jwtNode = f.get("jwt");
    if (jwtNode != null) {
      forEachItem(
          jwtNode,
          f.path("jwt"),
          "a list of JWT issuers",
          (item, p) -> {
            JwtIssuerConfig c = jwtIssuer(item, p, names, issuers);
            if (c != null) {
              jwt.add(c);
            }
          });
    }
    List<IntrospectionConfig> introspection = new ArrayList<>();
    YamlNode introNode = f.get("introspection");
    if (introNode != null) {
      forEachItem(
          introNode,
          f.path("introspection"),
          "a list of introspection endpoints",
          (item, p) -> {
            IntrospectionConfig c = introspectionEndpoint(item, p, names);
            if (c != null) {
              introspection.add(c);
            }
          });
    }
    List<String> apiKeyHeaders = null;
    YamlNode apiKeys = f.get("api_keys");
    if (apiKeys != null) {
      apiKeyHeaders = apiKeys(apiKeys, f.path("api_keys"));
    }
    Set<String> trustDomains = null;
    YamlNode mtls = f.get("mtls");
    if (mtls != null) {
      trustDomains = mtls(mtls, f.path("mtls"));
    }
    return new IdentitySpec(jwt, introspection, apiKeyHeaders, trustDomains);
  }

  private @Nullable JwtIssuerConfig jwtIssuer(
      YamlNode node, String path, Map<String, Pos> names, Map<String, Pos> issuers) {
    YamlNode.Mapping m = mapping(node, path);
    if (m == null) {
      return null;
    }
    int errors = errorCount();
    Fields f = new Fields(m, path, JWT_KEYS);
    String name = requiredName(f, "name", names, "identity provider", "");
    URI issuer = null;
    YamlNode issuerNode = f.get("issuer");
    if (issuerNode == null) {
      f.missing("issuer", "is required (must equal the tokens' iss)");
    } else {
      issuer = url(issuerNode, f.path("issuer"));
      if (issuer != null) {
        unique(issuers, issuer.toString(), issuerNode, f.path("issuer"), "issuer", "");
      }
    }
    URI jwksUri = f.get("jwks_uri") == null ? null : url(f.get("jwks_uri"), f.path("jwks_uri"));
    List<String> audiences = List.of();
    if (f.get("audiences") == null) {
      f.missing("audiences", "is required (the tokens' aud must contain one of them)");
    } else {
      audiences = strings(f.get("audiences"), f.path("audiences"), true);
    }
    Set<String> algorithms = new LinkedHashSet<>(DEFAULT_ALGORITHMS);
    if (f.get("algorithms") != null) {
      algorithms = algorithms(f.get("algorithms"), f.path("algorithms"));
    }
    Set<String> tokenTypes = Set.of();
    if (f.get("token_types") != null) {
      tokenTypes = tokenTypes(f.get("token_types"), f.path("token_types"));
    }
    Duration skew = DEFAULT_CLOCK_SKEW;
    if (f.get("clock_skew") != null) {
      Duration s = duration(f.get("clock_skew"), f.path("clock_skew"));
      if (s != null && s.compareTo(MAX_CLOCK_SKEW) > 0) {
        d.error(f.get("clock_skew"), f.path("clock_skew"), "must be at most 5m");
      } else if (s != null) {
        skew = s;
      }
    }
    ClaimMapping claims =
        f.get("claims") == null ? ClaimMapping.DEFAULT : claims(f.get("claims"), f.path("claims"));
    if (errorCount() > errors || name == null || issuer == null) {
      return null;
    }
    return new JwtIssuerConfig(
        name, issuer, jwksUri, audiences, algorithms, tokenTypes, skew, claims);
  }

  /**
   * {@code token_types}: JOSE {@code typ} values, each a media subtype with or without {@code
   * application/} ({@code at+jwt}, {@code application/at+jwt}), compared case-insensitively.
   */
  private Set<String> tokenTypes(YamlNode node, String path) {
    Set<String> out = new LinkedHashSet<>();
    List<YamlNode> items = items(node, path, "a list of token types");
    if (items == null) {
      return out;
    }
    if (items.isEmpty()) {
      d.error(
          node,
          path,
          "must not be empty (omit it to accept any typ an access token may have, or list"
              + " at+jwt)");
    }
    for (int i = 0; i < items.size(); i++) {
      String p = path + "[" + i + "]";
      String typ = string(items.get(i), p);
      if (typ == null) {
        continue;
      }
      String type = JwtIssuerConfig.tokenType(typ);
      if (!JwtIssuerConfig.isMediaSubtype(type)) {
        d.error(
            items.get(i),
            p,
            quoted(typ)
                + " is not a JWT type: write the media type of the tokens' typ header, such as"
                + " at+jwt or application/at+jwt");
      } else if (JwtIssuerConfig.OTHER_JWT_TYPES.contains(type)) {
        d.error(
            items.get(i),
            p,
            quoted(typ)
                + " is the type of another kind of JWT, never accepted as an access token;"
                + " access tokens are typed at+jwt (RFC 9068)");
      } else {
        out.add(type);
      }
    }
    return out;
  }

  private Set<String> algorithms(YamlNode node, String path) {
    Set<String> out = new LinkedHashSet<>();
    List<YamlNode> items = items(node, path, "a list of algorithms");
    if (items == null) {
      return out;
    }
    if (items.isEmpty()) {
      d.error(node, path, "must not be empty (omit it for the default [RS256, ES256])");
    }
    for (int i = 0; i < items.size(); i++) {
      String p = path + "[" + i + "]";
      String alg = string(items.get(i), p);
      if (alg == null) {
        continue;
      }
      if (alg.equalsIgnoreCase("none")) {
        d.error(
            items.get(i),
            p,
            "'none' is never accepted: an unsigned token would let anyone claim any identity");
      } else if (alg.toUpperCase(Locale.ROOT).startsWith("HS")) {
        d.error(
            items.get(i),
            p,
            quoted(alg)
                + " is not accepted: HMAC algorithms use a shared secret, and with a public"
                + " JWKS they open key-confusion attacks (a token MACed with the public key);"
                + " use an asymmetric algorithm such as RS256, ES256 or EdDSA");
      } else if (!ALGORITHMS.contains(alg)) {
        d.error(
            items.get(i),
            p,
            "unknown algorithm "
                + quoted(alg)
                + "; expected one of "
                + String.join(", ", ALGORITHMS)
                + Suggestions.hint(alg, ALGORITHMS));
      } else {
        out.add(alg);
      }
    }
    return out;
  }

  private ClaimMapping claims(YamlNode node, String path) {
    YamlNode.Mapping m = mapping(node, path);
    if (m == null) {
      return ClaimMapping.DEFAULT;
    }
    Fields f = new Fields(m, path, CLAIM_KEYS);
    String subject = claimPath(f, "subject", ClaimMapping.DEFAULT.subject());
    String client = claimPath(f, "client", ClaimMapping.DEFAULT.client());
    String roles = claimPath(f, "roles", ClaimMapping.DEFAULT.roles());
    String scopes = claimPath(f, "scopes", ClaimMapping.DEFAULT.scopes());
    String clientType = claimPath(f, "client_type", ClaimMapping.DEFAULT.clientType());
    return new ClaimMapping(
        subject == null ? ClaimMapping.DEFAULT.subject() : subject,
        client == null ? ClaimMapping.DEFAULT.client() : client,
        roles,
        scopes,
        clientType);
  }

  private @Nullable String claimPath(Fields f, String key, @Nullable String dflt) {
    YamlNode n = f.get(key);
    if (n == null) {
      return dflt;
    }
    String s = string(n, f.path(key));
    if (s == null) {
      return dflt;
    }
    if (s.isEmpty() || s.startsWith(".") || s.endsWith(".") || s.contains("..")) {
      d.error(n, f.path(key), "expected a dotted claim path such as realm_access.roles");
      return dflt;
    }
    return s;
  }

  private @Nullable IntrospectionConfig introspectionEndpoint(
      YamlNode node, String path, Map<String, Pos> names) {
    YamlNode.Mapping m = mapping(node, path);
    if (m == null) {
      return null;
    }
    int errors = errorCount();
    Fields f = new Fields(m, path, INTROSPECTION_KEYS);
    String name = requiredName(f, "name", names, "identity provider", "");
    URI endpoint = null;
    if (f.get("endpoint") == null) {
      f.missing("endpoint", "is required");
    } else {
      endpoint = url(f.get("endpoint"), f.path("endpoint"));
    }
    String clientId = requiredString(f, "client_id");
    String clientSecret = null;
    if (f.get("client_secret") == null) {
      f.missing("client_secret", "is required (use ${NAME} to read it from the environment)");
    } else {
      // Never echo the value: it is a secret.
      clientSecret = string(f.get("client_secret"), f.path("client_secret"));
      if (clientSecret != null && clientSecret.isEmpty()) {
        d.error(f.get("client_secret"), f.path("client_secret"), "must not be empty");
      }
    }
    Duration ttl = DEFAULT_CACHE_TTL;
    if (f.get("cache_ttl") != null) {
      Duration t = duration(f.get("cache_ttl"), f.path("cache_ttl"));
      ttl = t == null ? ttl : t;
    }
    ClaimMapping claims =
        f.get("claims") == null ? ClaimMapping.DEFAULT : claims(f.get("claims"), f.path("claims"));
    int maxConcurrent = DEFAULT_MAX_CONCURRENT_REQUESTS;
    YamlNode maxNode = f.get("max_concurrent_requests");
    if (maxNode != null) {
      Long n = positiveInteger(maxNode, f.path("max_concurrent_requests"));
      if (n != null && n > Integer.MAX_VALUE) {
        d.error(maxNode, f.path("max_concurrent_requests"), "is too large");
      } else if (n != null) {
        maxConcurrent = n.intValue();
      }
    }
    if (errorCount() > errors
        || name == null
        || endpoint == null
        || clientId == null
        || clientSecret == null) {
      return null;
    }
    return new IntrospectionConfig(
        name, endpoint, clientId, Secret.of(clientSecret), ttl, claims, maxConcurrent);
  }

  private @Nullable List<String> apiKeys(YamlNode node, String path) {
    YamlNode.Mapping m = mapping(node, path);
    if (m == null) {
      return null;
    }
    Fields f = new Fields(m, path, List.of("headers"));
    YamlNode headersNode = f.get("headers");
    if (headersNode == null) {
      return DEFAULT_API_KEY_HEADERS;
    }
    List<String> out = new ArrayList<>();
    List<YamlNode> items = items(headersNode, f.path("headers"), "a list of header names");
    if (items == null) {
      return out;
    }
    for (int i = 0; i < items.size(); i++) {
      String p = f.path("headers") + "[" + i + "]";
      String h = string(items.get(i), p);
      if (h == null) {
        continue;
      }
      String lower = h.toLowerCase(Locale.ROOT);
      if (!isHeaderName(h)) {
        d.error(items.get(i), p, quoted(h) + " is not a valid header name");
      } else if (lower.equals("authorization")) {
        d.error(
            items.get(i),
            p,
            "'authorization' cannot be an API-key header: 'Authorization: ApiKey <key>' is"
                + " always accepted, and bearer tokens use the same header");
      } else if (!out.contains(lower)) {
        out.add(lower);
      }
    }
    return out;
  }

  private @Nullable Set<String> mtls(YamlNode node, String path) {
    YamlNode.Mapping m = mapping(node, path);
    if (m == null) {
      return null;
    }
    Fields f = new Fields(m, path, List.of("trust_domains"));
    YamlNode domains = f.get("trust_domains");
    if (domains == null) {
      f.missing("trust_domains", "is required (the SPIFFE trust domains to accept)");
      return null;
    }
    Set<String> out = new LinkedHashSet<>();
    List<YamlNode> items = items(domains, f.path("trust_domains"), "a list of trust domains");
    if (items == null) {
      return out;
    }
    if (items.isEmpty()) {
      d.error(domains, f.path("trust_domains"), "must not be empty");
    }
    for (int i = 0; i < items.size(); i++) {
      String p = f.path("trust_domains") + "[" + i + "]";
      String s = string(items.get(i), p);
      if (s == null) {
        continue;
      }
      String why = trustDomainProblem(s);
      if (why != null) {
        d.error(items.get(i), p, quoted(s) + " is not a valid trust domain: " + why);
      } else {
        out.add(s);
      }
    }
    return out;
  }

  // ---------------------------------------------------------------- segments

  private List<SegmentSpec> segments(YamlNode node, String path) {
    List<SegmentSpec> out = new ArrayList<>();
    List<Boolean> matchComplete = new ArrayList<>();
    List<YamlNode> nodes = new ArrayList<>();
    List<Integer> indexes = new ArrayList<>();
    Map<String, Pos> names = new HashMap<>();
    List<YamlNode> items = items(node, path, "a list of segments");
    if (items == null) {
      return out;
    }
    if (items.isEmpty()) {
      d.error(node, path, "must not be empty (a policy without segments denies every request)");
    }
    for (int i = 0; i < items.size(); i++) {
      String p = path + "[" + i + "]";
      YamlNode item = items.get(i);
      boolean[] complete = {true};
      SegmentSpec s = segment(item, p, names, complete);
      if (s != null) {
        out.add(s);
        matchComplete.add(complete[0]);
        nodes.add(item);
        indexes.add(i);
      }
    }
    // Unreachable segments: only between segments whose match bound without error, so that a
    // condition left out by an error never makes a segment look weaker than it is.
    for (int b = 0; b < out.size(); b++) {
      if (!matchComplete.get(b)) {
        continue;
      }
      for (int a = 0; a < b; a++) {
        if (matchComplete.get(a)
            && SegmentShadowing.covers(out.get(a).match(), out.get(b).match())) {
          SegmentSpec sa = out.get(a);
          d.error(
              nodes.get(b),
              path + "[" + indexes.get(b) + "]",
              "segment '"
                  + out.get(b).name()
                  + "' is unreachable: segment '"
                  + sa.name()
                  + "' (line "
                  + sa.at().line()
                  + ") comes first and matches every request it matches");
          break;
        }
      }
    }
    return out;
  }

  private @Nullable SegmentSpec segment(
      YamlNode node, String path, Map<String, Pos> names, boolean[] matchComplete) {
    YamlNode.Mapping m = mapping(node, path);
    if (m == null) {
      return null;
    }
    Fields f = new Fields(m, path, SEGMENT_KEYS);
    String name = requiredName(f, "name", names, "segment", "");
    MatchSpec match = emptyMatch();
    YamlNode matchNode = f.get("match");
    // `match:` with no value is YAML null: policy.md says an empty or absent match matches every
    // request, and a key written without conditions is the empty one, like `match: {}`.
    if (matchNode != null && !isNull(matchNode)) {
      int before = errorCount();
      match = match(matchNode, f.path("match"));
      matchComplete[0] = errorCount() == before;
    }
    boolean requireTls = false;
    if (f.get("require_tls") != null) {
      Boolean b = bool(f.get("require_tls"), f.path("require_tls"));
      requireTls = b != null && b;
    }
    CidrSet networkAllow = CidrSet.empty();
    CidrSet networkDeny = CidrSet.empty();
    YamlNode network = f.get("network");
    if (network != null) {
      YamlNode.Mapping nm = mapping(network, f.path("network"));
      if (nm != null) {
        Fields nf = new Fields(nm, f.path("network"), ALLOW_DENY_KEYS);
        networkAllow = cidrs(nf, "allow");
        networkDeny = cidrs(nf, "deny");
      }
    }
    Set<String> geoAllow = Set.of();
    Set<String> geoDeny = Set.of();
    YamlNode geo = f.get("geo");
    if (geo != null) {
      YamlNode.Mapping gm = mapping(geo, f.path("geo"));
      if (gm != null) {
        Fields gf = new Fields(gm, f.path("geo"), ALLOW_DENY_KEYS);
        geoAllow = countries(gf, "allow");
        geoDeny = countries(gf, "deny");
      }
    }
    List<RuleSpec> rules = new ArrayList<>();
    YamlNode rulesNode = f.get("rules");
    if (rulesNode == null) {
      d.warning(
          m,
          f.path("rules"),
          "segment has no rules: every request in it is denied with no_matching_rule");
    } else {
      Map<String, Pos> ruleNames = new HashMap<>();
      String where = name == null ? "" : " in segment " + quoted(name);
      forEachItem(
          rulesNode,
          f.path("rules"),
          "a list of rules",
          (item, p) -> {
            RuleSpec r = rule(item, p, ruleNames, where);
            if (r != null) {
              rules.add(r);
            }
          });
    }
    List<LimitSpec> limits =
        f.get("limits") == null ? List.of() : limits(f.get("limits"), f.path("limits"));
    Mode mode = f.get("mode") == null ? Mode.ENFORCE : mode(f.get("mode"), f.path("mode"));
    if (name == null) {
      return null;
    }
    return new SegmentSpec(
        name,
        Pos.of(m),
        match,
        new GuardsSpec(requireTls, networkAllow, networkDeny, geoAllow, geoDeny),
        rules,
        limits,
        mode);
  }

  /** The message for a credential type that is not one of {@link CredentialType}'s. */
  static String unknownCredential(String value) {
    List<String> known =
        Arrays.stream(CredentialType.values()).map(CredentialType::wireName).toList();
    return "unknown credential type "
        + quoted(value)
        + "; expected one of "
        + String.join(", ", known)
        + Suggestions.hint(value, known);
  }

  private static MatchSpec emptyMatch() {
    return new MatchSpec(
        Set.of(),
        List.of(),
        Set.of(),
        Set.of(),
        Set.of(),
        CidrSet.empty(),
        Set.of(),
        Map.of(),
        Set.of());
  }

  private MatchSpec match(YamlNode node, String path) {
    YamlNode.Mapping m = mapping(node, path);
    if (m == null) {
      return emptyMatch();
    }
    Fields f = new Fields(m, path, MATCH_KEYS);
    Set<CredentialType> credentials = EnumSet.noneOf(CredentialType.class);
    if (f.get("credential") != null) {
      for (Item it : nonEmptyStrings(f, "credential")) {
        CredentialType t = CredentialType.parse(it.value);
        if (t == null) {
          d.error(it.node, it.path, unknownCredential(it.value));
        } else {
          credentials.add(t);
        }
      }
    }
    List<PrincipalPattern> principals = new ArrayList<>();
    if (f.get("principal") != null) {
      for (Item it : nonEmptyStrings(f, "principal")) {
        try {
          principals.add(PrincipalPattern.compile(it.value));
        } catch (IllegalArgumentException e) {
          d.error(it.node, it.path, e.getMessage());
        }
      }
    }
    Set<String> clients = stringSet(f, "client");
    Set<String> clientTypes = stringSet(f, "client_type");
    Set<String> rolesAny = stringSet(f, "roles_any");
    CidrSet sourceIps = cidrs(f, "source_ip");
    Set<String> countries = countries(f, "country");
    Map<String, String> context = new LinkedHashMap<>();
    YamlNode ctx = f.get("context");
    if (ctx != null) {
      YamlNode.Mapping cm = mapping(ctx, f.path("context"));
      if (cm != null) {
        if (cm.entries().isEmpty()) {
          d.error(cm, f.path("context"), "must not be empty (omit it to impose no condition)");
        }
        for (YamlNode.Entry e : cm.entries()) {
          String p = f.path("context") + "." + e.key().value();
          String v = string(e.value(), p);
          if (v != null) {
            context.put(e.key().value(), v);
          }
        }
      }
    }
    Set<String> issuers = new LinkedHashSet<>();
    if (f.get("issuer") != null) {
      for (Item it : nonEmptyStrings(f, "issuer")) {
        if (issuerNames.contains(it.value)) {
          issuers.add(it.value);
        } else {
          d.error(
              it.node,
              it.path,
              quoted(it.value)
                  + " is not the name of an identity.jwt issuer or identity.introspection"
                  + " endpoint"
                  + (issuerNames.isEmpty() ? "" : "; expected one of " + issuerNames));
        }
      }
    }
    return new MatchSpec(
        credentials,
        principals,
        clients,
        clientTypes,
        rolesAny,
        sourceIps,
        countries,
        context,
        issuers);
  }

  // ---------------------------------------------------------------- rules

  private @Nullable RuleSpec rule(
      YamlNode node, String path, Map<String, Pos> names, String where) {
    YamlNode.Mapping m = mapping(node, path);
    if (m == null) {
      return null;
    }
    Fields f = new Fields(m, path, RULE_KEYS);
    String name = requiredName(f, "name", names, "rule", where);
    Effect effect = Effect.ALLOW;
    YamlNode effectNode = f.get("effect");
    if (effectNode != null) {
      String e = string(effectNode, f.path("effect"));
      if ("allow".equals(e)) {
        effect = Effect.ALLOW;
      } else if ("deny".equals(e)) {
        effect = Effect.DENY;
      } else if (e != null) {
        d.error(
            effectNode,
            f.path("effect"),
            "expected allow or deny, got "
                + quoted(e)
                + Suggestions.hint(e, List.of("allow", "deny")));
      }
    }
    Set<HttpMethod> methods = EnumSet.noneOf(HttpMethod.class);
    YamlNode methodsNode = f.get("methods");
    if (methodsNode != null) {
      methods = methods(methodsNode, f.path("methods"));
    }
    List<PathPattern> paths = new ArrayList<>();
    List<Pos> pathPositions = new ArrayList<>();
    if (f.get("paths") == null) {
      f.missing("paths", "is required (e.g. paths: [\"/v1/orders/*\"])");
    } else {
      for (Item it : nonEmptyStrings(f, "paths")) {
        try {
          paths.add(PathPattern.compile(it.value));
          pathPositions.add(Pos.of(it.node));
        } catch (IllegalArgumentException e) {
          d.error(it.node, it.path, e.getMessage());
        }
      }
    }
    if (effect == Effect.DENY) {
      for (String k : ALLOW_ONLY_RULE_KEYS) {
        YamlNode.Scalar key = f.key(k);
        if (key != null) {
          d.error(
              key,
              f.path(k),
              quoted(k)
                  + " has no effect on a deny rule: a deny rule applies to every caller whose"
                  + " method and path match");
        }
      }
    }
    Set<String> rolesAny = stringSet(f, "roles_any");
    Set<String> rolesAll = stringSet(f, "roles_all");
    Set<String> scopesAny = stringSet(f, "scopes_any");
    Set<String> clients = stringSet(f, "clients");
    BodySchema bodySchema = null;
    YamlNode schemaNode = f.get("body_schema");
    if (schemaNode != null) {
      String rel = string(schemaNode, f.path("body_schema"));
      if (rel != null) {
        switch (schemas.apply(rel)) {
          case JsonBodySchema.Outcome.Compiled c -> bodySchema = c.schema();
          case JsonBodySchema.Outcome.Failed failed ->
              d.error(schemaNode, f.path("body_schema"), failed.problem());
        }
      }
    }
    List<LimitSpec> limits =
        f.get("limits") == null ? List.of() : limits(f.get("limits"), f.path("limits"));
    Mode mode = f.get("mode") == null ? Mode.ENFORCE : mode(f.get("mode"), f.path("mode"));
    if (name == null) {
      return null;
    }
    return new RuleSpec(
        name,
        Pos.of(m),
        effect,
        methods,
        paths,
        pathPositions,
        rolesAny,
        rolesAll,
        scopesAny,
        clients,
        bodySchema,
        limits,
        mode);
  }

  private Set<HttpMethod> methods(YamlNode node, String path) {
    Set<HttpMethod> out = EnumSet.noneOf(HttpMethod.class);
    List<YamlNode> items = items(node, path, "a list of methods");
    if (items == null) {
      return out;
    }
    if (items.isEmpty()) {
      d.error(node, path, "must not be empty (omit it, or write [\"*\"], for every method)");
      return out;
    }
    boolean star = false;
    List<String> known = Arrays.stream(HttpMethod.values()).map(Enum::name).toList();
    for (int i = 0; i < items.size(); i++) {
      String p = path + "[" + i + "]";
      String s = string(items.get(i), p);
      if (s == null) {
        continue;
      }
      if (s.equals("*")) {
        star = true;
        continue;
      }
      HttpMethod method = HttpMethod.parse(s);
      if (method == null) {
        String upper = s.toUpperCase(Locale.ROOT);
        d.error(
            items.get(i),
            p,
            "unknown method "
                + quoted(s)
                + (HttpMethod.parse(upper) != null
                    ? "; methods are case-sensitive: did you mean " + quoted(upper) + "?"
                    : "; expected one of " + String.join(", ", known) + " or \"*\""));
      } else {
        out.add(method);
      }
    }
    if (star && items.size() > 1) {
      d.error(node, path, "\"*\" means every method and must stand alone");
    }
    return star ? EnumSet.noneOf(HttpMethod.class) : out;
  }

  // ---------------------------------------------------------------- limits

  private List<LimitSpec> limits(YamlNode node, String path) {
    List<LimitSpec> out = new ArrayList<>();
    Map<String, Pos> names = new HashMap<>();
    forEachItem(
        node,
        path,
        "a list of limits",
        (item, p) -> {
          LimitSpec l = limit(item, p, names);
          if (l != null) {
            out.add(l);
          }
        });
    return out;
  }

  private @Nullable LimitSpec limit(YamlNode node, String path, Map<String, Pos> names) {
    YamlNode.Mapping m = mapping(node, path);
    if (m == null) {
      return null;
    }
    int errors = errorCount();
    Fields f = new Fields(m, path, LIMIT_KEYS);
    String name = requiredName(f, "name", names, "limit", "");
    List<LimitKey> key = new ArrayList<>();
    if (f.get("key") == null) {
      f.missing("key", "is required (e.g. key: [client])");
    } else {
      Set<String> seen = new LinkedHashSet<>();
      for (Item it : nonEmptyStrings(f, "key")) {
        LimitKey k = limitKey(it);
        if (k != null && !seen.add(k.keyName())) {
          d.error(it.node, it.path, quoted(it.value) + " appears twice");
        } else if (k != null) {
          key.add(k);
        }
      }
    }
    YamlNode rate = f.get("rate");
    YamlNode quota = f.get("quota");
    LimitKind kind = null;
    if (rate != null && quota != null) {
      d.error(
          f.key("quota"),
          f.path("quota"),
          "a limit has either rate or quota, not both (declare two limits)");
    } else if (rate == null && quota == null) {
      d.error(m, path, "needs either rate: N/s|m|h or quota: N/minute|hour|day|month");
    } else if (rate != null) {
      YamlNode.Scalar tz = f.key("timezone");
      if (tz != null) {
        d.error(tz, f.path("timezone"), "timezone applies only to quota limits");
      }
      kind = rate(rate, f.path("rate"), f);
    } else {
      YamlNode.Scalar burst = f.key("burst");
      if (burst != null) {
        d.error(burst, f.path("burst"), "burst applies only to rate limits");
      }
      kind = quota(quota, f.path("quota"), f);
    }
    if (errorCount() > errors || name == null || kind == null) {
      return null;
    }
    return new LimitSpec(name, Pos.of(m), key, kind);
  }

  private @Nullable LimitKey limitKey(Item it) {
    List<String> known = List.of("principal", "api_key", "client", "ip", "segment", "route");
    if (it.value.startsWith("header:")) {
      String h = it.value.substring("header:".length());
      if (!isHeaderName(h)) {
        d.error(it.node, it.path, quoted(h) + " is not a valid header name");
        return null;
      }
    }
    LimitKey k = LimitKey.parse(it.value);
    if (k == null) {
      d.error(
          it.node,
          it.path,
          "unknown key attribute "
              + quoted(it.value)
              + "; expected one of "
              + String.join(", ", known)
              + ", header:<name>"
              + Suggestions.hint(it.value, known));
    }
    return k;
  }

  private LimitKind.@Nullable Rate rate(YamlNode node, String path, Fields f) {
    String s = string(node, path);
    if (s == null) {
      return null;
    }
    int slash = s.indexOf('/');
    Long n = slash < 0 ? null : positiveLong(s.substring(0, slash));
    Duration period =
        slash < 0
            ? null
            : switch (s.substring(slash + 1)) {
              case "s" -> Duration.ofSeconds(1);
              case "m" -> Duration.ofMinutes(1);
              case "h" -> Duration.ofHours(1);
              default -> null;
            };
    if (n == null || period == null) {
      d.error(
          node,
          path,
          "expected a rate N/s, N/m or N/h with N a positive integer (e.g. 10/s), got "
              + quoted(s));
      return null;
    }
    long burst = n;
    YamlNode burstNode = f.get("burst");
    if (burstNode != null) {
      Long b = positiveInteger(burstNode, f.path("burst"));
      if (b == null) {
        return null;
      }
      burst = b;
    }
    return new LimitKind.Rate(n, period, burst);
  }

  private LimitKind.@Nullable Quota quota(YamlNode node, String path, Fields f) {
    String s = string(node, path);
    if (s == null) {
      return null;
    }
    int slash = s.indexOf('/');
    Long n = slash < 0 ? null : positiveLong(s.substring(0, slash));
    QuotaWindow window =
        slash < 0
            ? null
            : switch (s.substring(slash + 1)) {
              case "minute" -> QuotaWindow.MINUTE;
              case "hour" -> QuotaWindow.HOUR;
              case "day" -> QuotaWindow.DAY;
              case "month" -> QuotaWindow.MONTH;
              default -> null;
            };
    if (n == null || window == null) {
      d.error(
          node,
          path,
          "expected a quota N/minute, N/hour, N/day or N/month with N a positive integer"
              + " (e.g. 100000/day), got "
              + quoted(s));
      return null;
    }
    ZoneId zone = ZoneOffset.UTC;
    YamlNode tzNode = f.get("timezone");
    if (tzNode != null) {
      String tz = string(tzNode, f.path("timezone"));
      if (tz == null) {
        return null;
      }
      if (!ZoneId.getAvailableZoneIds().contains(tz)) {
        d.error(
            tzNode,
            f.path("timezone"),
            "unknown time zone "
                + quoted(tz)
                + "; expected an IANA zone id such as Europe/Berlin or UTC"
                + Suggestions.hint(tz, ZoneId.getAvailableZoneIds()));
        return null;
      }
      zone = ZoneId.of(tz);
    }
    return new LimitKind.Quota(n, window, zone);
  }

  // ---------------------------------------------------------------- protect, response

  private @Nullable FailedAuthRule protect(YamlNode node, String path) {
    YamlNode.Mapping m = mapping(node, path);
    if (m == null) {
      return null;
    }
    Fields f = new Fields(m, path, PROTECT_KEYS);
    YamlNode fa = f.get("failed_auth");
    if (fa == null) {
      return null;
    }
    String p = f.path("failed_auth");
    YamlNode.Mapping fm = mapping(fa, p);
    if (fm == null) {
      return null;
    }
    int errors = errorCount();
    Fields ff = new Fields(fm, p, FAILED_AUTH_KEYS);
    String key = "ip";
    YamlNode keyNode = ff.get("key");
    if (keyNode != null) {
      String k = string(keyNode, ff.path("key"));
      if (k != null) {
        if (k.equals("ip")) {
          key = k;
        } else if (k.startsWith("header:") && isHeaderName(k.substring("header:".length()))) {
          key = "header:" + k.substring("header:".length()).toLowerCase(Locale.ROOT);
        } else {
          d.error(
              keyNode,
              ff.path("key"),
              "expected ip or header:<name> (identity is not known yet when a source is"
                  + " blocked), got "
                  + quoted(k));
        }
      }
    }
    Long threshold = null;
    if (ff.get("threshold") == null) {
      ff.missing("threshold", "is required (failed attempts within window)");
    } else {
      threshold = positiveInteger(ff.get("threshold"), ff.path("threshold"));
      if (threshold != null && threshold > Integer.MAX_VALUE) {
        d.error(ff.get("threshold"), ff.path("threshold"), "is too large");
        threshold = null;
      }
    }
    Duration window = requiredDuration(ff, "window");
    Duration blockFor = requiredDuration(ff, "block_for");
    if (errorCount() > errors || threshold == null || window == null || blockFor == null) {
      return null;
    }
    return new FailedAuthRule(key, threshold.intValue(), window, blockFor);
  }

  private ResponseOptions response(YamlNode node) {
    YamlNode.Mapping m = mapping(node, "response");
    if (m == null) {
      return ResponseOptions.DEFAULT;
    }
    Fields f = new Fields(m, "response", RESPONSE_KEYS);
    boolean strip = ResponseOptions.DEFAULT.stripCredentials();
    boolean upstream = ResponseOptions.DEFAULT.upstreamHeaders();
    if (f.get("strip_credentials") != null) {
      Boolean b = bool(f.get("strip_credentials"), f.path("strip_credentials"));
      strip = b == null ? strip : b;
    }
    if (f.get("upstream_headers") != null) {
      Boolean b = bool(f.get("upstream_headers"), f.path("upstream_headers"));
      upstream = b == null ? upstream : b;
    }
    return new ResponseOptions(strip, upstream);
  }

  // ---------------------------------------------------------------- values

  private Mode mode(YamlNode node, String path) {
    String s = string(node, path);
    if (s == null) {
      return Mode.ENFORCE;
    }
    for (Mode m : Mode.values()) {
      if (m.wireName().equals(s)) {
        return m;
      }
    }
    d.error(
        node,
        path,
        "expected enforce or dry-run, got "
            + quoted(s)
            + Suggestions.hint(s, List.of("enforce", "dry-run")));
    return Mode.ENFORCE;
  }

  private CidrSet cidrs(Fields f, String key) {
    if (f.get(key) == null) {
      return CidrSet.empty();
    }
    List<String> ok = new ArrayList<>();
    for (Item it : nonEmptyStrings(f, key)) {
      try {
        CidrSet.validate(it.value);
        ok.add(it.value);
      } catch (IllegalArgumentException e) {
        d.error(it.node, it.path, e.getMessage());
      }
    }
    return CidrSet.parse(ok);
  }

  private Set<String> countries(Fields f, String key) {
    if (f.get(key) == null) {
      return Set.of();
    }
    Set<String> out = new LinkedHashSet<>();
    for (Item it : nonEmptyStrings(f, key)) {
      String problem = countryProblem(it.value);
      if (problem == null) {
        out.add(it.value);
      } else {
        d.error(it.node, it.path, problem);
      }
    }
    return out;
  }

  /** Why {@code value} is not an upper-case ISO 3166-1 alpha-2 code, or {@code null}. */
  static @Nullable String countryProblem(String value) {
    if (COUNTRIES.contains(value)) {
      return null;
    }
    String upper = value.toUpperCase(Locale.ROOT);
    if (COUNTRIES.contains(upper)) {
      return "country codes are upper-case ISO 3166-1 alpha-2: did you mean " + quoted(upper) + "?";
    }
    return quoted(value) + " is not an ISO 3166-1 alpha-2 country code (e.g. DE, US, KP)";
  }

  private Set<String> stringSet(Fields f, String key) {
    if (f.get(key) == null) {
      return Set.of();
    }
    Set<String> out = new LinkedHashSet<>();
    for (Item it : nonEmptyStrings(f, key)) {
      out.add(it.value);
    }
    return out;
  }

  /** A validated string item of a list, with its node and field path. */
  private record Item(String value, YamlNode node, String path) {}

  /**
   * The string items of a list field that must not be empty when present (an empty list would
   * silently impose no condition). Bad items are reported and skipped.
   */
  private List<Item> nonEmptyStrings(Fields f, String key) {
    YamlNode node = f.get(key);
    String path = f.path(key);
    List<Item> out = new ArrayList<>();
    List<YamlNode> items = items(node, path, "a list of strings");
    if (items == null) {
      return out;
    }
    if (items.isEmpty()) {
      d.error(node, path, "must not be empty (omit it to impose no condition)");
    }
    for (int i = 0; i < items.size(); i++) {
      String p = path + "[" + i + "]";
      String s = string(items.get(i), p);
      if (s == null) {
        continue;
      }
      if (s.isEmpty()) {
        d.error(items.get(i), p, "must not be empty");
        continue;
      }
      out.add(new Item(s, items.get(i), p));
    }
    return out;
  }

  private @Nullable String requiredString(Fields f, String key) {
    YamlNode n = f.get(key);
    if (n == null) {
      f.missing(key, "is required");
      return null;
    }
    String s = string(n, f.path(key));
    if (s != null && s.isEmpty()) {
      d.error(n, f.path(key), "must not be empty");
      return null;
    }
    return s;
  }

  /**
   * A required name: letters, digits, {@code .}, {@code _}, {@code -}, starting with a letter or
   * digit, at most {@value #MAX_NAME_LENGTH} characters (names appear in headers, metrics, audit
   * records and limit scopes such as {@code segment/<name>/rule/<name>}); unique among {@code
   * seen}.
   */
  private @Nullable String requiredName(
      Fields f, String key, Map<String, Pos> seen, String what, String where) {
    String s = requiredString(f, key);
    if (s == null) {
      return null;
    }
    YamlNode n = f.get(key);
    if (!isName(s)) {
      d.error(
          n,
          f.path(key),
          quoted(s)
              + " is not a valid name: use letters, digits, '.', '_' and '-' (starting with a"
              + " letter or digit), at most "
              + MAX_NAME_LENGTH
              + " characters");
      return null;
    }
    unique(seen, s, n, f.path(key), what + " name", where);
    return s;
  }

  private void unique(
      Map<String, Pos> seen, String value, YamlNode n, String path, String what, String where) {
    Pos first = seen.putIfAbsent(value, Pos.of(n));
    if (first != null) {
      d.error(
          n,
          path,
          "duplicate "
              + what
              + " "
              + quoted(value)
              + where
              + " (first defined at line "
              + first.line()
              + ")");
    }
  }

  private static boolean isName(String s) {
    if (s.isEmpty() || s.length() > MAX_NAME_LENGTH || !isAlnum(s.charAt(0))) {
      return false;
    }
    for (int i = 1; i < s.length(); i++) {
      char c = s.charAt(i);
      if (!(isAlnum(c) || c == '.' || c == '_' || c == '-')) {
        return false;
      }
    }
    return true;
  }

  private static boolean isAlnum(char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
  }

  /** RFC 9110 §5.1: a field name is a token. */
  static boolean isHeaderName(String s) {
    if (s.isEmpty()) {
      return false;
    }
    for (int i = 0; i < s.length(); i++) {
      char c = s.charAt(i);
      if (!(isAlnum(c) || "!#$%&'*+-.^_`|~".indexOf(c) >= 0)) {
        return false;
      }
    }
    return true;
  }

  /**
   * Why {@code s} is not a SPIFFE trust domain name (SPIFFE-ID §2.1: lower-case letters, digits,
   * {@code .}, {@code -} and {@code _}, at most 255 bytes; no scheme, port or path), or {@code
   * null} if it is one. Not a DNS check: the standard says a trust domain must not be treated
   * differently for being a valid DNS name or not, and the verifier accepts exactly these names.
   */
  static @Nullable String trustDomainProblem(String s) {
    if (s.isEmpty() || s.length() > 255) {
      return "a trust domain has 1 to 255 characters";
    }
    if (s.startsWith("spiffe:")) {
      return "give the trust domain alone, without 'spiffe://'";
    }
    if (!s.equals(s.toLowerCase(Locale.ROOT))) {
      return "SPIFFE trust domains are lower-case";
    }
    for (int i = 0; i < s.length(); i++) {
      char c = s.charAt(i);
      if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '-' || c == '_')) {
        return "only lower-case letters, digits, '.', '-' and '_' are allowed";
      }
    }
    return null;
  }

  /**
   * An absolute {@code https://} URL, or {@code http://} on a loopback host (127.0.0.0/8, ::1,
   * localhost).
   */
  private @Nullable URI url(YamlNode node, String path) {
    String s = string(node, path);
    if (s == null) {
      return null;
    }
    URI u;
    try {
      u = new URI(s);
    } catch (URISyntaxException e) {
      d.error(node, path, quoted(s) + " is not a valid URL: " + e.getReason());
      return null;
    }
    if (!u.isAbsolute() || u.getHost() == null || u.isOpaque()) {
      d.error(node, path, quoted(s) + " must be an absolute https:// URL with a host");
      return null;
    }
    String scheme = u.getScheme().toLowerCase(Locale.ROOT);
    if (u.getRawUserInfo() != null) {
      d.error(node, path, "the URL must not contain user info");
      return null;
    }
    if (u.getRawFragment() != null) {
      d.error(node, path, quoted(s) + " must not have a fragment");
      return null;
    }
    if (scheme.equals("https")) {
      return u;
    }
    if (scheme.equals("http") && isLoopback(u.getHost())) {
      return u;
    }
    d.error(
        node,
        path,
        quoted(s)
            + " must be an https:// URL (http:// is allowed only on loopback: 127.0.0.0/8, ::1,"
            + " localhost)");
    return null;
  }

  static boolean isLoopback(String host) {
    if (host.equalsIgnoreCase("localhost")) {
      return true;
    }
    String h =
        host.startsWith("[") && host.endsWith("]") ? host.substring(1, host.length() - 1) : host;
    IPAddressString literal = new IPAddressString(h);
    if (!literal.isIPAddress()) {
      return false;
    }
    IPAddress a = literal.getAddress();
    return a != null && a.isLoopback();
  }

  /** A YAML null ({@code key:}, {@code key: ~}, {@code key: null}), not one that failed. */
  private static boolean isNull(YamlNode node) {
    return node instanceof YamlNode.Scalar s && !s.broken() && s.type() == YamlNode.ScalarType.NULL;
  }

  private int errorCount() {
    return d.errorCount();
  }

  /**
   * A user's value for an error message, in single quotes and cut to {@value #QUOTED_MAX}
   * characters: a value can be a megabyte long, and a file can hold thousands of errors.
   */
  private static String quoted(String value) {
    if (value.length() <= QUOTED_MAX) {
      return "'" + value + "'";
    }
    int end = Character.isHighSurrogate(value.charAt(QUOTED_MAX - 1)) ? QUOTED_MAX - 1 : QUOTED_MAX;
    return "'" + value.substring(0, end) + "...'";
  }
}
