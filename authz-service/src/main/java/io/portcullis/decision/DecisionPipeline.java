package io.portcullis.decision;

import io.portcullis.audit.AuditSink;
import io.portcullis.authz.Mode;
import io.portcullis.authz.Rule;
import io.portcullis.authz.RuleEvaluator;
import io.portcullis.authz.RuleOutcome;
import io.portcullis.geo.CountryResolver;
import io.portcullis.identity.CredentialType;
import io.portcullis.identity.Identity;
import io.portcullis.identity.Subject;
import io.portcullis.identity.Verification;
import io.portcullis.limit.FailedAuthRule;
import io.portcullis.limit.LimitDefinition;
import io.portcullis.limit.LimitKey;
import io.portcullis.limit.LimitOutcome;
import io.portcullis.limit.LimitRequest;
import io.portcullis.limit.LimitStatus;
import io.portcullis.limit.RateLimiter;
import io.portcullis.limit.SourceProtection;
import io.portcullis.metrics.DecisionMetrics;
import io.portcullis.payload.BodySchema;
import io.portcullis.policy.Policy;
import io.portcullis.request.HeaderLimits;
import io.portcullis.request.HttpMethod;
import io.portcullis.request.NormalizedPath;
import io.portcullis.request.PathNormalizer;
import io.portcullis.request.RequestAttributes;
import io.portcullis.segment.Segment;
import java.time.Duration;
import java.time.Instant;
import java.time.InstantSource;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.function.LongSupplier;
import java.util.function.Supplier;
import org.jspecify.annotations.Nullable;

/**
 * The decision: one method, {@link #decide(RequestAttributes, DecideOptions)}, that runs the spec's
 * decision order phase by phase and returns a {@link Decision} value. The first failing phase
 * decides; every decision, allow or deny, is audited and counted.
 *
 * <p>Dry-run: a deny from steps 5-8 that belongs to a dry-run segment becomes an allow carrying
 * {@code dry_run_reason}, and nothing later runs (so limits count exactly as they would when
 * enforced). Dry-run rules are handled by {@link RuleEvaluator}; a body or limit failure of a
 * dry-run rule is waived the same way.
 *
 * <p>Thread-safe; allocation is limited to the decision's own values. No blocking I/O unless a
 * credential verifier or the limit backend needs it (cold JWKS, introspection, Redis), each with
 * its own timeout and fail-closed policy.
 */
public final class DecisionPipeline {
  private final Supplier<Policy> policy;
  private final HeaderLimits headerLimits;
  private final SourceProtection protection;
  private final CountryResolver countries;
  private final RateLimiter limiter;
  private final AuditSink audit;
  private final @Nullable DecisionMetrics metrics;
  private final DecisionIds ids;
  private final InstantSource clock;
  private final LongSupplier nanoTime;

  private DecisionPipeline(Builder b) {
    this.policy = Objects.requireNonNull(b.policy, "policy");
    this.headerLimits = b.headerLimits;
    this.protection = b.protection;
    this.countries = b.countries;
    this.limiter = b.limiter;
    this.audit = b.audit;
    this.metrics = b.metrics;
    this.clock = b.clock;
    this.nanoTime = b.nanoTime;
    this.ids = new DecisionIds(b.clock);
  }

  public static Builder builder() {
    return new Builder();
  }

  /** Decides a proxied request: enforce, audit and count. */
  public Decision decide(RequestAttributes request) {
    return decide(request, DecideOptions.enforce());
  }

  /**
   * Decides a proxied request for a caller that needs the answer by {@code answerByNanos} (a {@link
   * System#nanoTime()} value; Envoy's deadline less the way back): the limit backend and {@code
   * protect.failed_auth} wait for a shared store (Redis) at most until then, after which {@code
   * on_backend_failure} decides the limits (and protection counts locally), so the answer arrives
   * while the caller still waits. Enforces, audits and counts, as {@link
   * #decide(RequestAttributes)}.
   */
  public Decision decideBy(RequestAttributes request, long answerByNanos) {
    return decide(request, DecideOptions.enforce(), true, answerByNanos);
  }

  public Decision decide(RequestAttributes request, DecideOptions options) {
    return decide(request, options, false, 0);
  }

  private Decision decide(
      RequestAttributes request, DecideOptions options, boolean bounded, long answerByNanos) {
    Draft d = new Draft(policy.get(), request, options, nanoTime.getAsLong());
    d.bounded = bounded;
    d.answerByNanos = answerByNanos;
    Trace trace = options.trace();

    // phase 1: normalize — method known, headers within limits, path normalizable
    if (request.refusal() != null) {
      return finish(d.deny(Reason.MALFORMED_REQUEST, request.refusal()), Phase.NORMALIZE);
    }
    HttpMethod method = HttpMethod.parse(request.method());
    if (method == null) {
      return finish(d.deny(Reason.MALFORMED_REQUEST, "unknown method"), Phase.NORMALIZE);
    }
    String headerProblem = headerLimits.violation(request.headers());
    if (headerProblem != null) {
      return finish(d.deny(Reason.MALFORMED_REQUEST, headerProblem), Phase.NORMALIZE);
    }
    NormalizedPath path;
    switch (PathNormalizer.normalize(request.path())) {
      case PathNormalizer.Malformed m -> {
        return finish(d.deny(Reason.MALFORMED_REQUEST, m.why()), Phase.NORMALIZE);
      }
      case PathNormalizer.Normalized n -> path = n.path();
    }
    d.path = path.value();
    if (trace.enabled()) {
      trace.note(Phase.NORMALIZE, method + " " + path.value());
    }

    // phase 2: protect — the source is not auto-blocked
    FailedAuthRule protect = d.policy.protect();
    String protectKey = protect == null ? null : protect.keyOf(request);
    if (protectKey != null) {
      Instant until = protection.blockedUntil(protectKey);
      if (until != null) {
        return finish(d.deny(Reason.BLOCKED, "blocked until " + until), Phase.PROTECT);
      }
    }
    if (trace.enabled()) {
      trace.note(Phase.PROTECT, describeProtect(protect, protectKey));
    }

    // phase 3: identify — every presented credential verifies; none at all is anonymous
    Identity identity = options.identity();
    if (identity == null) {
      switch (d.policy.identity().resolve(request, options.consumeLimits())) {
        case Verification.Rejected r -> {
          // Only failures the client caused count (the 401s): an unreachable issuer or key store
          // (identity_unavailable, 503) must not get every caller blocked.
          if (protectKey != null && options.consumeLimits() && r.reason().status() == 401) {
            if (d.bounded) {
              protection.recordFailure(
                  protectKey,
                  protect.threshold(),
                  protect.window(),
                  protect.blockFor(),
                  d.answerByNanos);
            } else {
              protection.recordFailure(
                  protectKey, protect.threshold(), protect.window(), protect.blockFor());
            }
          }
          return finish(d.deny(r.reason(), r.detail()), Phase.IDENTIFY);
        }
        case Verification.Verified v -> identity = v.identity();
      }
    }
    d.identity = identity;
    String country = options.country();
    if (country == null && (d.policy.usesCountry() || options.record())) {
      country = countries.country(request);
    }
    d.country = country;
    Subject subject = new Subject(request, method, path, identity, country);
    if (trace.enabled()) {
      trace.note(
          Phase.IDENTIFY,
          describeIdentity(identity, options.identity() != null)
              + (country == null ? "; country unknown" : "; country " + country));
    }

    // phase 4: segment — the first segment whose match holds
    Segment segment = null;
    for (Segment s : d.policy.segments()) {
      if (trace.enabled()) {
        String why = s.match().mismatch(subject);
        trace.note(Phase.SEGMENT, s.name() + (why == null ? ": matches" : ": " + why));
        if (why == null) {
          segment = s;
          break;
        }
      } else if (s.match().matches(subject)) {
        segment = s;
        break;
      }
    }
    if (segment == null) {
      return finish(d.deny(Reason.NO_SEGMENT, "no segment matches"), Phase.SEGMENT);
    }
    d.segment = segment.name();
    boolean segmentDryRun = segment.mode() == Mode.DRY_RUN;

    // phase 5: guards — require_tls, network, geo
    if (trace.enabled()) {
      segment.guards().describe(subject).forEach(n -> trace.note(Phase.GUARDS, n));
    }
    Reason guard = segment.guards().check(subject);
    if (guard != null) {
      return finish(
          d.denyOrWaive(guard, "segment guard", segmentDryRun ? segment.name() : null),
          Phase.GUARDS);
    }

    // phase 6: rules — deny overrides; the first allow rule whose conditions hold allows
    if (trace.enabled()) {
      if (segment.rules().isEmpty()) {
        trace.note(Phase.RULES, "segment '" + segment.name() + "' has no rules");
      }
      for (Rule r : segment.rules()) {
        trace.note(Phase.RULES, RuleEvaluator.describe(r, subject));
      }
    }
    Rule rule;
    // The allowing rule is a dry-run rule whose own conditions failed: enforced, the request would
    // have been denied here, so nothing later of that rule (its body schema, its own limits) runs.
    boolean conditionsWaived = false;
    switch (RuleEvaluator.evaluate(segment.rules(), subject)) {
      case RuleOutcome.Denied denied -> {
        d.rule = denied.rule() == null ? null : denied.rule().name();
        return finish(
            d.denyOrWaive(denied.reason(), denied.detail(), segmentDryRun ? segment.name() : null),
            Phase.RULES);
      }
      case RuleOutcome.Allowed allowed -> {
        rule = allowed.rule();
        d.rule = rule.name();
        if (allowed.dryRunReason() != null) {
          d.waive(allowed.dryRunReason(), Objects.requireNonNull(allowed.dryRunRule()).name());
          conditionsWaived = allowed.dryRunRule() == rule;
        }
      }
    }
    if (trace.enabled()) {
      trace.note(
          Phase.RULES,
          "rule '"
              + rule.name()
              + "' allows"
              + (d.waivedReason == null
                  ? ""
                  : " (dry-run: '"
                      + d.waivedBy
                      + "' would deny with "
                      + d.waivedReason.code()
                      + ")"));
    }
    boolean ruleDryRun = !segmentDryRun && rule.mode() == Mode.DRY_RUN;

    // phase 7: body — matches the allowing rule's schema. A dry-run segment's deny ends the
    // decision (everything later is the segment's too); a dry-run rule's deny is waived and the
    // request goes on to the segment's enforced limits, which every allowed request must pass.
    boolean bodyWaived = false;
    BodySchema schema = conditionsWaived ? null : rule.bodySchema();
    if (schema == null && trace.enabled()) {
      trace.note(
          Phase.BODY,
          conditionsWaived && rule.bodySchema() != null
              ? "rule '" + rule.name() + "' would have denied already: body not checked"
              : "rule '" + rule.name() + "' has no body_schema: body not checked");
    }
    if (schema != null) {
      Reason bodyReason = null;
      String problem = null;
      if (request.body().partial()) {
        bodyReason = Reason.BODY_TOO_LARGE;
        problem = "body truncated by the proxy";
      } else {
        problem = schema.validate(request.body(), request.header(HeaderNames.CONTENT_TYPE));
        bodyReason = problem == null ? null : Reason.INVALID_BODY;
      }
      if (bodyReason != null && !ruleDryRun) {
        return finish(
            d.denyOrWaive(bodyReason, problem, segmentDryRun ? segment.name() : null), Phase.BODY);
      }
      if (bodyReason != null) {
        d.waive(bodyReason, rule.name());
        bodyWaived = true;
        if (trace.enabled()) {
          trace.note(
              Phase.BODY,
              "would deny "
                  + bodyReason.code()
                  + " (dry-run rule '"
                  + rule.name()
                  + "'): "
                  + problem
                  + "; the segment's limits still apply");
        }
      } else if (trace.enabled()) {
        trace.note(Phase.BODY, "body matches " + schema.source());
      }
    }

    // phase 8: limits — every limit of the segment and the rule has room; a deny consumes nothing.
    // After a waived deny of the rule's conditions or body the rule's own limits are skipped:
    // enforced, that request would have been denied and would have consumed nothing from them.
    boolean ruleLimitsSkipped = bodyWaived || conditionsWaived;
    List<LimitRequest> buckets =
        buckets(segment, rule, ruleLimitsSkipped ? List.of() : rule.limits(), subject);
    if (trace.enabled()) {
      traceLimits(trace, segment, rule, conditionsWaived ? 6 : bodyWaived ? 7 : 0, buckets);
    }
    if (!buckets.isEmpty()) {
      LimitOutcome lo = acquire(d, buckets);
      d.limit = lo.tightest();
      d.degraded = lo.degraded();
      if (!lo.admitted()) {
        LimitDefinition exceeded = lo.exceeded();
        Reason reason = Objects.requireNonNullElse(lo.reason(), Reason.RATE_LIMITED);
        String detail = refusalDetail(lo);
        if (ruleDryRun && exceeded != null && rule.limits().contains(exceeded)) {
          // The dry-run rule's own limit refused. Its deny is waived, but the refusal the limiter
          // reports is only the longest of those it found: the segment's enforced limits are
          // asked on their own, and a refusal there denies.
          List<LimitRequest> enforced = buckets(segment, rule, List.of(), subject);
          LimitOutcome eo = enforced.isEmpty() ? null : acquire(d, enforced);
          if (eo != null) {
            d.limit = eo.tightest();
            d.degraded = eo.degraded();
          }
          if (eo != null && !eo.admitted()) {
            d.retryAfter = eo.retryAfter();
            return finish(
                d.deny(
                    Objects.requireNonNullElse(eo.reason(), Reason.RATE_LIMITED),
                    refusalDetail(eo)),
                Phase.LIMITS);
          }
          d.waive(reason, rule.name());
          return finish(d.allow(), Phase.LIMITS);
        }
        d.retryAfter = lo.retryAfter();
        return finish(
            d.denyOrWaive(reason, detail, segmentDryRun ? segment.name() : null), Phase.LIMITS);
      }
    }

    // phase 9: allow
    return finish(d.allow(), Phase.ALLOW);
  }

  /** The limiter's answer for {@code buckets}, within the caller's deadline if it gave one. */
  private LimitOutcome acquire(Draft d, List<LimitRequest> buckets) {
    boolean consume = d.options.consumeLimits();
    return d.bounded
        ? limiter.acquire(buckets, consume, d.answerByNanos)
        : limiter.acquire(buckets, consume);
  }

  /**
   * The audit detail of a refusal by the limiter: the limit found exhausted, or the limit that
   * could not be checked and why (under {@code on_backend_failure: deny}, or with the in-memory
   * limiter full). Refusals only.
   */
  private static String refusalDetail(LimitOutcome refused) {
    LimitDefinition limit = refused.exceeded();
    String name = "limit '" + (limit == null ? "?" : limit.name()) + "' ";
    return switch (Objects.requireNonNull(refused.refusal(), "a refusal")) {
      case EXHAUSTED -> name + "exhausted";
      case BACKEND_UNAVAILABLE ->
          name + "not checked: rate limit backend unavailable (on_backend_failure: deny)";
      // the memory backend or the local fallback; the record's degraded says which
      case LIMITER_FULL -> name + "not checked: in-memory limiter full";
    };
  }

  // ---------------------------------------------------------------- explain (trace on only)

  private static String describeProtect(
      @Nullable FailedAuthRule protect, @Nullable String protectKey) {
    if (protect == null) {
      return "protect.failed_auth not configured";
    }
    if (protectKey == null) {
      return "no " + protect.key() + " to key on: not checked";
    }
    // Header-keyed sources may carry anything, even a credential: name the header, not the value.
    return (protect.key().equals("ip") ? protectKey : protect.key()) + " is not blocked";
  }

  private static String describeIdentity(Identity id, boolean given) {
    if (id.credential() == CredentialType.ANONYMOUS) {
      return given ? "identity given: anonymous" : "no credential presented: anonymous";
    }
    StringBuilder b =
        new StringBuilder(given ? "identity given, not verified: " : "verified: ")
            .append(id.credential())
            .append(" principal ")
            .append(id.principal());
    if (id.client() != null) {
      b.append(", client ").append(id.client());
    }
    if (id.clientType() != null) {
      b.append(", client_type ").append(id.clientType());
    }
    if (!id.roles().isEmpty()) {
      b.append(", roles ").append(new java.util.TreeSet<>(id.roles()));
    }
    if (!id.scopes().isEmpty()) {
      b.append(", scopes ").append(new java.util.TreeSet<>(id.scopes()));
    }
    if (id.apiKeyId() != null) {
      b.append(", api_key_id ").append(id.apiKeyId());
    }
    return b.toString();
  }

  /**
   * Notes each limit of the segment and the rule: whether it applies and, for those that do, the
   * bucket's state as the limiter reports it without consuming (one look per bucket).
   */
  private void traceLimits(
      Trace trace,
      Segment segment,
      Rule rule,
      int ruleWouldDenyAtStep,
      List<LimitRequest> buckets) {
    if (segment.limits().isEmpty() && rule.limits().isEmpty()) {
      trace.note(
          Phase.LIMITS,
          "no limits on segment '" + segment.name() + "' or rule '" + rule.name() + "'");
      return;
    }
    List<LimitDefinition> all = new ArrayList<>(segment.limits());
    all.addAll(rule.limits());
    for (LimitDefinition limit : all) {
      String name = "limit '" + limit.name() + "' (" + limit.scope() + ", key " + keyNames(limit);
      LimitRequest bucket = null;
      for (LimitRequest b : buckets) {
        if (b.limit() == limit) {
          bucket = b;
        }
      }
      if (bucket == null && ruleWouldDenyAtStep > 0 && rule.limits().contains(limit)) {
        trace.note(
            Phase.LIMITS,
            name
                + "): not counted, its dry-run rule would have denied the request at step "
                + ruleWouldDenyAtStep);
        continue;
      }
      if (bucket == null) {
        trace.note(Phase.LIMITS, name + "): does not apply, the request lacks a key attribute");
        continue;
      }
      LimitOutcome peek = limiter.acquire(List.of(bucket), false);
      LimitStatus st = peek.tightest();
      String state =
          st == null
              ? "no state reported by the limiter"
              : st.remaining() + " of " + st.quota() + " left, full again in " + st.reset();
      LimitOutcome.Refusal refusal = peek.refusal();
      String verdict =
          refusal == null
              ? "has room; " + state
              : switch (refusal) {
                case EXHAUSTED -> "exhausted, retry after " + peek.retryAfter() + "; " + state;
                // not checked: the state the limiter reports for the headers is no bucket's
                case BACKEND_UNAVAILABLE ->
                    "not checked, backend unavailable, retry after " + peek.retryAfter();
                case LIMITER_FULL ->
                    "not checked, in-memory limiter full (no room for a new bucket), retry after "
                        + peek.retryAfter();
              };
      trace.note(
          Phase.LIMITS,
          name + "): " + verdict + (peek.degraded() == null ? "" : " (" + peek.degraded() + ")"));
    }
  }

  private static String keyNames(LimitDefinition limit) {
    List<String> names = new ArrayList<>();
    for (LimitKey k : limit.key()) {
      names.add(k.keyName());
    }
    return names.toString();
  }

  /** The buckets of the segment's and the rule's limits whose key attributes the request has. */
  private static List<LimitRequest> buckets(
      Segment segment, Rule rule, List<LimitDefinition> ruleLimits, Subject subject) {
    if (segment.limits().isEmpty() && ruleLimits.isEmpty()) {
      return List.of();
    }
    List<LimitRequest> out = new ArrayList<>(segment.limits().size() + ruleLimits.size());
    addBuckets(out, segment.limits(), subject, segment.name(), rule.name());
    addBuckets(out, ruleLimits, subject, segment.name(), rule.name());
    return out;
  }

  private static void addBuckets(
      List<LimitRequest> out,
      List<LimitDefinition> limits,
      Subject subject,
      String segment,
      String route) {
    next:
    for (LimitDefinition limit : limits) {
      List<String> values = new ArrayList<>(limit.key().size());
      for (LimitKey part : limit.key()) {
        String v = part.value(subject, segment, route);
        if (v == null) {
          continue next; // the request lacks this attribute: the limit does not apply
        }
        values.add(v);
      }
      out.add(new LimitRequest(limit, LimitKey.bucket(values), 1));
    }
  }

  private Decision finish(Draft d, Phase phase) {
    Decision decision = d.build(phase, ids, clock.instant(), nanoTime.getAsLong());
    if (d.options.trace().enabled()) {
      d.options.trace().note(phase, describe(decision));
    }
    if (d.options.record()) {
      if (metrics != null) {
        metrics.record(decision);
      }
      audit.append(decision);
    }
    return decision;
  }

  private static String describe(Decision decision) {
    return switch (decision) {
      case Decision.Allow a ->
          a.dryRunReason() == null
              ? "allow"
              : "allow (dry-run: would deny with " + a.dryRunReason().code() + ")";
      case Decision.Deny x -> "deny " + x.reason().code() + " (" + x.detail() + ")";
    };
  }

  /** What the phases found so far; one per decision, never shared. */
  private static final class Draft {
    final Policy policy;
    final RequestAttributes request;
    final DecideOptions options;
    final long startedNanos;
    // the caller's deadline for the limit backend's answers (System.nanoTime), when bounded
    boolean bounded;
    long answerByNanos;
    String path = "";
    @Nullable Identity identity;
    @Nullable String country;
    @Nullable String segment;
    @Nullable String rule;
    @Nullable LimitStatus limit;
    @Nullable String degraded;
    @Nullable Duration retryAfter;
    @Nullable Reason denyReason;
    String denyDetail = "";
    @Nullable Reason waivedReason;
    @Nullable String waivedBy;

    Draft(Policy policy, RequestAttributes request, DecideOptions options, long startedNanos) {
      this.policy = policy;
      this.request = request;
      this.options = options;
      this.startedNanos = startedNanos;
    }

    Draft deny(Reason reason, String detail) {
      this.denyReason = reason;
      this.denyDetail = detail;
      return this;
    }

    /** A deny, or, when {@code waiver} (a dry-run segment or rule) is set, a dry-run allow. */
    Draft denyOrWaive(Reason reason, String detail, @Nullable String waiver) {
      if (waiver == null) {
        return deny(reason, detail);
      }
      waive(reason, waiver);
      this.retryAfter = null;
      return this;
    }

    void waive(Reason reason, String by) {
      if (waivedReason == null) {
        waivedReason = reason;
        waivedBy = by;
      }
    }

    Draft allow() {
      return this;
    }

    Decision build(Phase phase, DecisionIds ids, Instant now, long endNanos) {
      String decisionId = ids.decisionId(request.requestId());
      DecisionContext ctx =
          new DecisionContext(
              decisionId,
              now,
              policy.version(),
              request.method(),
              request.host(),
              path,
              request.sourceIpText(),
              country,
              identity,
              segment,
              rule,
              limit,
              waivedBy,
              degraded,
              endNanos - startedNanos);
      if (denyReason != null) {
        return new Decision.Deny(
            ctx, Responses.deny(decisionId, denyReason, limit, retryAfter), denyReason, denyDetail);
      }
      return new Decision.Allow(
          ctx,
          Responses.allow(
              decisionId,
              identity,
              Objects.requireNonNull(segment),
              request.headers(),
              policy.response(),
              policy.identity().credentialHeaders(),
              limit),
          waivedReason);
    }
  }

  /**
   * The header limits this pipeline decides by (spec step 1), so a listener can admit every request
   * they would refuse and let the pipeline refuse it: decided, audited, with a decision id.
   */
  public HeaderLimits headerLimits() {
    return headerLimits;
  }

  /** Builds a {@link DecisionPipeline}; not thread-safe. */
  public static final class Builder {
    private @Nullable Supplier<Policy> policy;
    private HeaderLimits headerLimits = HeaderLimits.DEFAULT;
    private SourceProtection protection = SourceProtection.disabled();
    private CountryResolver countries = CountryResolver.none();
    private RateLimiter limiter = RateLimiter.unlimited();
    private AuditSink audit = decision -> {};
    private @Nullable DecisionMetrics metrics;
    private InstantSource clock = InstantSource.system();
    private LongSupplier nanoTime = System::nanoTime;

    private Builder() {}

    /** Where the current policy comes from (a live, reloading policy in the service). */
    public Builder policy(Supplier<Policy> policy) {
      this.policy = policy;
      return this;
    }

    public Builder headerLimits(HeaderLimits headerLimits) {
      this.headerLimits = headerLimits;
      return this;
    }

    public Builder protection(SourceProtection protection) {
      this.protection = protection;
      return this;
    }

    public Builder countries(CountryResolver countries) {
      this.countries = countries;
      return this;
    }

    public Builder limiter(RateLimiter limiter) {
      this.limiter = limiter;
      return this;
    }

    public Builder audit(AuditSink audit) {
      this.audit = audit;
      return this;
    }

    public Builder metrics(DecisionMetrics metrics) {
      this.metrics = metrics;
      return this;
    }

    public Builder clock(InstantSource clock) {
      this.clock = clock;
      return this;
    }

    public Builder nanoTime(LongSupplier nanoTime) {
      this.nanoTime = nanoTime;
      return this;
    }

    public DecisionPipeline build() {
      return new DecisionPipeline(this);
    }
  }
}
