package io.portcullis.policy;

import io.portcullis.authz.Effect;
import io.portcullis.authz.Mode;
import io.portcullis.authz.PathPattern;
import io.portcullis.decision.ResponseOptions;
import io.portcullis.identity.CredentialType;
import io.portcullis.identity.IntrospectionConfig;
import io.portcullis.identity.JwtIssuerConfig;
import io.portcullis.limit.FailedAuthRule;
import io.portcullis.limit.LimitKey;
import io.portcullis.limit.LimitKind;
import io.portcullis.net.CidrSet;
import io.portcullis.payload.BodySchema;
import io.portcullis.request.HttpMethod;
import io.portcullis.segment.PrincipalPattern;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.jspecify.annotations.Nullable;

/**
 * A policy file after binding: every value validated and its leaves (patterns, CIDR sets, limits,
 * schemas) compiled, with the positions that cross-checks and lint need. {@link PolicyCompiler}
 * assembles the runtime {@link Policy} from it. Only what bound without error is present.
 */
record PolicySpec(
    IdentitySpec identity,
    List<SegmentSpec> segments,
    @Nullable FailedAuthRule protect,
    ResponseOptions response) {

  /** A node's position, for messages that point elsewhere ("shadowed by ... (line 4)"). */
  record Pos(int line, int column) {
    static Pos of(YamlNode n) {
      return new Pos(n.line(), n.column());
    }
  }

  /**
   * {@code identity:}.
   *
   * @param apiKeyHeaders {@code null} when API keys are not accepted
   * @param trustDomains {@code null} when mTLS peers are not credentials
   */
  record IdentitySpec(
      List<JwtIssuerConfig> jwt,
      List<IntrospectionConfig> introspection,
      @Nullable List<String> apiKeyHeaders,
      @Nullable Set<String> trustDomains) {
    static final IdentitySpec NONE = new IdentitySpec(List.of(), List.of(), null, null);
  }

  record SegmentSpec(
      String name,
      Pos at,
      MatchSpec match,
      GuardsSpec guards,
      List<RuleSpec> rules,
      List<LimitSpec> limits,
      Mode mode) {}

  /** {@code match:}; an empty collection means the condition is absent. */
  record MatchSpec(
      Set<CredentialType> credentials,
      List<PrincipalPattern> principals,
      Set<String> clients,
      Set<String> clientTypes,
      Set<String> rolesAny,
      CidrSet sourceIps,
      Set<String> countries,
      Map<String, String> context,
      Set<String> issuers) {}

  record GuardsSpec(
      boolean requireTls,
      CidrSet networkAllow,
      CidrSet networkDeny,
      Set<String> geoAllow,
      Set<String> geoDeny) {}

  /**
   * A rule.
   *
   * @param methods empty for every method
   * @param pathPositions where each of {@code paths} is written, index by index
   */
  record RuleSpec(
      String name,
      Pos at,
      Effect effect,
      Set<HttpMethod> methods,
      List<PathPattern> paths,
      List<Pos> pathPositions,
      Set<String> rolesAny,
      Set<String> rolesAll,
      Set<String> scopesAny,
      Set<String> clients,
      @Nullable BodySchema bodySchema,
      List<LimitSpec> limits,
      Mode mode) {}

  record LimitSpec(String name, Pos at, List<LimitKey> key, LimitKind kind) {}
}
