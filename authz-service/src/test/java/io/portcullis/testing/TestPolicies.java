package io.portcullis.testing;

import io.portcullis.authz.Conditions;
import io.portcullis.authz.Effect;
import io.portcullis.authz.Mode;
import io.portcullis.authz.PathPattern;
import io.portcullis.authz.Rule;
import io.portcullis.decision.ResponseOptions;
import io.portcullis.identity.IdentityResolver;
import io.portcullis.limit.FailedAuthRule;
import io.portcullis.limit.LimitDefinition;
import io.portcullis.payload.BodySchema;
import io.portcullis.policy.Policy;
import io.portcullis.request.HttpMethod;
import io.portcullis.segment.Guards;
import io.portcullis.segment.Segment;
import io.portcullis.segment.SegmentMatch;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Set;
import org.jspecify.annotations.Nullable;

/** Builds compiled policies in code for pipeline tests that must not depend on the YAML loader. */
public final class TestPolicies {
  private TestPolicies() {}

  public static Policy policy(IdentityResolver identity, Segment... segments) {
    return policy(identity, null, ResponseOptions.DEFAULT, segments);
  }

  public static Policy policy(
      IdentityResolver identity,
      @Nullable FailedAuthRule protect,
      ResponseOptions response,
      Segment... segments) {
    boolean usesCountry =
        Arrays.stream(segments)
            .anyMatch(
                s ->
                    !s.match().countries().isEmpty()
                        || !s.guards().geoAllow().isEmpty()
                        || !s.guards().geoDeny().isEmpty());
    return new Policy(
        "sha256:test0000000000",
        "test-policy.yaml",
        Instant.parse("2026-11-22T00:00:00Z"),
        identity,
        List.of(segments),
        protect,
        response,
        usesCountry);
  }

  public static SegmentBuilder segment(String name) {
    return new SegmentBuilder(name);
  }

  public static RuleBuilder allow(String name, String... paths) {
    return new RuleBuilder(name, Effect.ALLOW, paths);
  }

  public static RuleBuilder deny(String name, String... paths) {
    return new RuleBuilder(name, Effect.DENY, paths);
  }

  /** Fluent segment builder. */
  public static final class SegmentBuilder {
    private final String name;
    private SegmentMatch match = SegmentMatch.any();
    private Guards guards = Guards.none();
    private final List<Rule> rules = new ArrayList<>();
    private final List<LimitDefinition> limits = new ArrayList<>();
    private Mode mode = Mode.ENFORCE;

    private SegmentBuilder(String name) {
      this.name = name;
    }

    public SegmentBuilder match(SegmentMatch match) {
      this.match = match;
      return this;
    }

    public SegmentBuilder guards(Guards guards) {
      this.guards = guards;
      return this;
    }

    public SegmentBuilder rule(RuleBuilder rule) {
      rules.add(rule.build());
      return this;
    }

    public SegmentBuilder limit(LimitDefinition limit) {
      limits.add(limit);
      return this;
    }

    public SegmentBuilder dryRun() {
      this.mode = Mode.DRY_RUN;
      return this;
    }

    public Segment build() {
      return new Segment(name, match, guards, rules, limits, mode);
    }
  }

  /** Fluent rule builder. */
  public static final class RuleBuilder {
    private final String name;
    private final Effect effect;
    private final List<PathPattern> paths = new ArrayList<>();
    private int methods = HttpMethod.allBits();
    private Conditions conditions = Conditions.none();
    private @Nullable BodySchema schema;
    private final List<LimitDefinition> limits = new ArrayList<>();
    private Mode mode = Mode.ENFORCE;

    private RuleBuilder(String name, Effect effect, String... paths) {
      this.name = name;
      this.effect = effect;
      for (String p : paths) {
        this.paths.add(PathPattern.compile(p));
      }
    }

    public RuleBuilder methods(HttpMethod... methods) {
      this.methods = 0;
      for (HttpMethod m : methods) {
        this.methods |= m.bit();
      }
      return this;
    }

    public RuleBuilder rolesAny(String... roles) {
      conditions =
          new Conditions(
              Set.of(roles), conditions.rolesAll(), conditions.scopesAny(), conditions.clients());
      return this;
    }

    public RuleBuilder rolesAll(String... roles) {
      conditions =
          new Conditions(
              conditions.rolesAny(), Set.of(roles), conditions.scopesAny(), conditions.clients());
      return this;
    }

    public RuleBuilder scopesAny(String... scopes) {
      conditions =
          new Conditions(
              conditions.rolesAny(), conditions.rolesAll(), Set.of(scopes), conditions.clients());
      return this;
    }

    public RuleBuilder clients(String... clients) {
      conditions =
          new Conditions(
              conditions.rolesAny(),
              conditions.rolesAll(),
              conditions.scopesAny(),
              Set.of(clients));
      return this;
    }

    public RuleBuilder bodySchema(BodySchema schema) {
      this.schema = schema;
      return this;
    }

    public RuleBuilder limit(LimitDefinition limit) {
      limits.add(limit);
      return this;
    }

    public RuleBuilder dryRun() {
      this.mode = Mode.DRY_RUN;
      return this;
    }

    public Rule build() {
      return new Rule(name, effect, methods, paths, conditions, schema, limits, mode);
    }
  }
}
