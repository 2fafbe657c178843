package io.portcullis.policy;

import io.portcullis.authz.Conditions;
import io.portcullis.authz.Effect;
import io.portcullis.authz.Rule;
import io.portcullis.identity.CredentialChain;
import io.portcullis.identity.IdentityResolver;
import io.portcullis.identity.IdentityServices;
import io.portcullis.identity.IntrospectionConfig;
import io.portcullis.identity.SpiffePeerVerifier;
import io.portcullis.limit.LimitDefinition;
import io.portcullis.policy.PolicySpec.GuardsSpec;
import io.portcullis.policy.PolicySpec.IdentitySpec;
import io.portcullis.policy.PolicySpec.LimitSpec;
import io.portcullis.policy.PolicySpec.MatchSpec;
import io.portcullis.policy.PolicySpec.RuleSpec;
import io.portcullis.policy.PolicySpec.SegmentSpec;
import io.portcullis.request.HttpMethod;
import io.portcullis.segment.Guards;
import io.portcullis.segment.Segment;
import io.portcullis.segment.SegmentMatch;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;

/**
 * Assembles the runtime {@link Policy} from a valid {@link PolicySpec}: segments, rules, limits
 * with their bucket scopes, and the identity resolver built from the injected {@link
 * IdentityServices}. Runs once per load; everything it builds is immutable.
 */
final class PolicyCompiler {
  private PolicyCompiler() {}

  static Policy compile(
      PolicySpec spec, IdentityServices services, String version, String source, Instant now) {
    List<Segment> segments = new ArrayList<>();
    boolean usesCountry = false;
    for (SegmentSpec s : spec.segments()) {
      segments.add(segment(s));
      usesCountry |=
          !s.match().countries().isEmpty()
              || !s.guards().geoAllow().isEmpty()
              || !s.guards().geoDeny().isEmpty();
    }
    return new Policy(
        version,
        source,
        now,
        identity(spec.identity(), services),
        segments,
        spec.protect(),
        spec.response(),
        usesCountry);
  }

  /**
   * jwt (one verifier for all issuers) before introspection (one per endpoint, in policy order),
   * then API keys, then mTLS peers: the spec's credential precedence.
   */
  static IdentityResolver identity(IdentitySpec id, IdentityServices services) {
    CredentialChain.Builder chain = CredentialChain.builder();
    if (!id.jwt().isEmpty()) {
      chain.bearer(services.jwt(id.jwt()));
    }
    for (IntrospectionConfig endpoint : id.introspection()) {
      chain.introspection(services.introspection(endpoint));
    }
    if (id.apiKeyHeaders() != null) {
      chain.apiKeys(services.apiKeys(), id.apiKeyHeaders());
    }
    if (id.trustDomains() != null) {
      chain.peers(new SpiffePeerVerifier(id.trustDomains()));
    }
    return chain.build();
  }

  private static Segment segment(SegmentSpec s) {
    String scope = "segment/" + s.name();
    List<Rule> rules = new ArrayList<>();
    for (RuleSpec r : s.rules()) {
      rules.add(rule(r, scope + "/rule/" + r.name()));
    }
    return new Segment(
        s.name(), match(s.match()), guards(s.guards()), rules, limits(s.limits(), scope), s.mode());
  }

  private static SegmentMatch match(MatchSpec m) {
    return new SegmentMatch(
        m.credentials(),
        m.principals(),
        m.clients(),
        m.clientTypes(),
        m.rolesAny(),
        m.sourceIps(),
        m.countries(),
        m.context(),
        m.issuers());
  }

  private static Guards guards(GuardsSpec g) {
    if (!g.requireTls()
        && g.networkAllow().isEmpty()
        && g.networkDeny().isEmpty()
        && g.geoAllow().isEmpty()
        && g.geoDeny().isEmpty()) {
      return Guards.none();
    }
    return new Guards(g.requireTls(), g.networkAllow(), g.networkDeny(), g.geoAllow(), g.geoDeny());
  }

  private static Rule rule(RuleSpec r, String scope) {
    int bits = 0;
    if (r.methods().isEmpty()) {
      bits = HttpMethod.allBits();
    } else {
      for (HttpMethod m : r.methods()) {
        bits |= m.bit();
      }
      if (r.effect() == Effect.DENY && (bits & HttpMethod.GET.bit()) != 0) {
        // Servers answer HEAD with their GET handler: a deny of GET must deny HEAD too.
        bits |= HttpMethod.HEAD.bit();
      }
    }
    Conditions conditions =
        r.rolesAny().isEmpty()
                && r.rolesAll().isEmpty()
                && r.scopesAny().isEmpty()
                && r.clients().isEmpty()
            ? Conditions.none()
            : new Conditions(r.rolesAny(), r.rolesAll(), r.scopesAny(), r.clients());
    return new Rule(
        r.name(),
        r.effect(),
        bits,
        r.paths(),
        conditions,
        r.bodySchema(),
        limits(r.limits(), scope),
        r.mode());
  }

  private static List<LimitDefinition> limits(List<LimitSpec> specs, String scope) {
    List<LimitDefinition> out = new ArrayList<>();
    for (LimitSpec l : specs) {
      out.add(new LimitDefinition(l.name(), scope, l.key(), l.kind()));
    }
    return out;
  }
}
