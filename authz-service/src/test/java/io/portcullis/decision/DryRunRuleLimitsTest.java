package io.portcullis.decision;

import static io.portcullis.testing.TestPolicies.allow;
import static io.portcullis.testing.TestPolicies.segment;
import static org.assertj.core.api.Assertions.assertThat;

import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import io.portcullis.identity.CredentialChain;
import io.portcullis.identity.CredentialType;
import io.portcullis.identity.Identity;
import io.portcullis.identity.Verification;
import io.portcullis.limit.BackendCircuit;
import io.portcullis.limit.BackendFailurePolicy;
import io.portcullis.limit.FailoverRateLimiter;
import io.portcullis.limit.InMemoryGcraLimiter;
import io.portcullis.limit.LimitBackendException;
import io.portcullis.limit.LimitDefinition;
import io.portcullis.limit.LimitKey;
import io.portcullis.limit.LimitKind;
import io.portcullis.limit.QuotaWindow;
import io.portcullis.limit.RateLimiter;
import io.portcullis.payload.BodySchema;
import io.portcullis.policy.Policy;
import io.portcullis.request.Body;
import io.portcullis.request.RequestAttributes;
import io.portcullis.testing.FakeClock;
import io.portcullis.testing.TestPolicies;
import java.time.Duration;
import java.time.ZoneOffset;
import java.util.List;
import org.jspecify.annotations.Nullable;
import org.junit.jupiter.api.Test;

/**
 * A dry-run rule waives its own denies (body, its own limits) but never the segment's enforced
 * limits: every request that goes upstream passes them (policy.md step 8, "an enforced deny always
 * wins").
 */
class DryRunRuleLimitsTest {
  static final Identity ACME =
      Identity.builder(CredentialType.JWT, "svc-acme").client("acme").build();

  final FakeClock clock = FakeClock.at("2026-11-22T00:30:00Z");
  final InMemoryGcraLimiter limiter = InMemoryGcraLimiter.builder().clock(clock).build();

  /** The segment's enforced limit: one request per hour per client. */
  final LimitDefinition perClient =
      new LimitDefinition(
          "per-client",
          "segment/partners",
          List.of(LimitKey.Attribute.CLIENT),
          new LimitKind.Rate(1, Duration.ofHours(1), 1));

  /** The dry-run rule's own limit: one request per day per client. */
  final LimitDefinition daily =
      new LimitDefinition(
          "daily",
          "rule/partners/create",
          List.of(LimitKey.Attribute.CLIENT),
          new LimitKind.Quota(1, QuotaWindow.DAY, ZoneOffset.UTC));

  static final BodySchema NEEDS_OK =
      new BodySchema() {
        @Override
        public @Nullable String validate(Body body, @Nullable String contentType) {
          return body.equals(Body.of("ok", false)) ? null : "not ok";
        }

        @Override
        public String source() {
          return "schemas/ok.json";
        }
      };

  DecisionPipeline pipeline(Policy policy) {
    return pipeline(policy, limiter);
  }

  DecisionPipeline pipeline(Policy policy, RateLimiter limiter) {
    return DecisionPipeline.builder()
        .policy(() -> policy)
        .limiter(limiter)
        .clock(clock)
        .nanoTime(clock::nanoTime)
        .build();
  }

  /** A Redis-backed limiter whose Redis is down, under {@code on_backend_failure: deny}. */
  RateLimiter backendDownDenying() {
    return new FailoverRateLimiter(
        (requests, consume) -> {
          throw new LimitBackendException("connection refused");
        },
        limiter,
        BackendFailurePolicy.DENY,
        new BackendCircuit(
            clock, Duration.ofSeconds(1), BackendFailurePolicy.DENY, new SimpleMeterRegistry()),
        clock);
  }

  static Policy policy(TestPolicies.SegmentBuilder segment) {
    CredentialChain chain =
        CredentialChain.builder().bearer(token -> Verification.verified(ACME)).build();
    return TestPolicies.policy(chain, segment.build());
  }

  static RequestAttributes post(String body) {
    return RequestAttributes.builder()
        .method("POST")
        .path("/v1/orders")
        .sourceIp("203.0.113.7")
        .header("authorization", "Bearer t")
        .body(Body.of(body, false))
        .build();
  }

  @Test
  void invalidBodyUnderADryRunRule_isWaived_butStillPassesTheSegmentsEnforcedLimit() {
    DecisionPipeline p =
        pipeline(
            policy(
                segment("partners")
                    .limit(perClient)
                    .rule(allow("create", "/v1/orders").bodySchema(NEEDS_OK).dryRun())));

    Decision first = p.decide(post("garbage"));
    Decision second = p.decide(post("garbage"));

    assertThat(first)
        .isInstanceOfSatisfying(
            Decision.Allow.class, a -> assertThat(a.dryRunReason()).isEqualTo(Reason.INVALID_BODY));
    assertThat(first.context().dryRunRule()).isEqualTo("create");
    assertThat(second)
        .isInstanceOfSatisfying(
            Decision.Deny.class, x -> assertThat(x.reason()).isEqualTo(Reason.RATE_LIMITED));
  }

  @Test
  void aDryRunRuleWhoseConditionsFail_doesNotCountItsOwnLimits_norCheckItsBody() {
    Identity withoutScope = Identity.builder(CredentialType.JWT, "svc-acme").client("acme").build();
    Identity withScope =
        Identity.builder(CredentialType.JWT, "svc-acme")
            .client("acme")
            .scopes(java.util.Set.of("orders:write"))
            .build();
    CredentialChain chain =
        CredentialChain.builder()
            .bearer(t -> Verification.verified(t.equals("scoped") ? withScope : withoutScope))
            .build();
    Policy policy =
        TestPolicies.policy(
            chain,
            segment("partners")
                .rule(
                    allow("create", "/v1/orders")
                        .scopesAny("orders:write")
                        .bodySchema(NEEDS_OK)
                        .limit(daily)
                        .dryRun())
                .build());
    DecisionPipeline p = pipeline(policy);

    // Enforced, this would be a 403 at step 6: no body check, nothing taken from 'daily'.
    Decision unscoped = p.decide(post("garbage"));
    Decision scoped =
        p.decide(
            RequestAttributes.builder()
                .method("POST")
                .path("/v1/orders")
                .sourceIp("203.0.113.7")
                .header("authorization", "Bearer scoped")
                .body(Body.of("ok", false))
                .build());

    assertThat(unscoped)
        .isInstanceOfSatisfying(
            Decision.Allow.class,
            a -> assertThat(a.dryRunReason()).isEqualTo(Reason.INSUFFICIENT_PERMISSIONS));
    Explanation e = new ExplainService(p).explain(post("garbage"), withoutScope, null);
    assertThat(e.step(Phase.BODY).notes())
        .containsExactly("rule 'create' would have denied already: body not checked");
    assertThat(e.step(Phase.LIMITS).notes())
        .containsExactly(
            "limit 'daily' (rule/partners/create, key [client]): not counted, its dry-run rule"
                + " would have denied the request at step 6");
    assertThat(scoped)
        .as("the client's daily quota is still whole: the would-be-denied request took none")
        .isInstanceOfSatisfying(Decision.Allow.class, a -> assertThat(a.dryRunReason()).isNull());
  }

  @Test
  void dryRunRulesOwnQuotaExhausted_isWaived_butTheSegmentsEnforcedLimitStillDenies() {
    DecisionPipeline p =
        pipeline(
            policy(
                segment("partners")
                    .limit(perClient)
                    .rule(allow("create", "/v1/orders").limit(daily).dryRun())));

    Decision first = p.decide(post("ok"));
    clock.advance(Duration.ofMinutes(61)); // the hourly bucket has room again; the daily quota not
    Decision second = p.decide(post("ok"));
    Decision third = p.decide(post("ok")); // both exhausted: the quota's wait is the longer one

    assertThat(first).isInstanceOf(Decision.Allow.class);
    assertThat(((Decision.Allow) first).dryRunReason()).isNull();
    assertThat(second)
        .isInstanceOfSatisfying(
            Decision.Allow.class,
            a -> assertThat(a.dryRunReason()).isEqualTo(Reason.QUOTA_EXCEEDED));
    assertThat(third)
        .isInstanceOfSatisfying(
            Decision.Deny.class, x -> assertThat(x.reason()).isEqualTo(Reason.RATE_LIMITED));
  }

  @Test
  void backendDownUnderDeny_aDryRunRulesOwnUncheckedLimitIsWaived_theSegmentsDenies() {
    Policy ruleLimitOnly =
        policy(segment("partners").rule(allow("create", "/v1/orders").limit(daily).dryRun()));
    Policy bothLimits =
        policy(
            segment("partners")
                .limit(perClient)
                .rule(allow("create", "/v1/orders").limit(daily).dryRun()));

    Decision waived = pipeline(ruleLimitOnly, backendDownDenying()).decide(post("ok"));
    Decision denied = pipeline(bothLimits, backendDownDenying()).decide(post("ok"));

    assertThat(waived)
        .isInstanceOfSatisfying(
            Decision.Allow.class, a -> assertThat(a.dryRunReason()).isEqualTo(Reason.RATE_LIMITED));
    assertThat(waived.context().dryRunRule()).isEqualTo("create");
    assertThat(denied)
        .isInstanceOfSatisfying(
            Decision.Deny.class,
            x -> assertThat(x.detail()).startsWith("limit 'per-client' not checked"));
  }

  @Test
  void explain_backendDownUnderDeny_saysTheLimitWasNotChecked() {
    DecisionPipeline p =
        pipeline(
            policy(segment("partners").limit(perClient).rule(allow("create", "/v1/orders"))),
            backendDownDenying());

    Explanation e = new ExplainService(p).explain(post("ok"), ACME, null);

    assertThat(e.outcome()).isEqualTo("deny");
    assertThat(e.step(Phase.LIMITS).notes())
        .contains(
            "limit 'per-client' (segment/partners, key [client]): not checked, backend"
                + " unavailable, retry after PT1S (ratelimit_backend:deny)");
  }

  @Test
  void explain_saysTheBodyDenyIsWaived_andTheRulesLimitIsNotCounted() {
    DecisionPipeline p =
        pipeline(
            policy(
                segment("partners")
                    .limit(perClient)
                    .rule(
                        allow("create", "/v1/orders").bodySchema(NEEDS_OK).limit(daily).dryRun())));

    Explanation e = new ExplainService(p).explain(post("garbage"), ACME, null);

    assertThat(e.outcome()).isEqualTo("allow");
    assertThat(e.dryRunReason()).isEqualTo(Reason.INVALID_BODY);
    assertThat(e.step(Phase.BODY).notes())
        .containsExactly(
            "would deny invalid_body (dry-run rule 'create'): not ok; the segment's limits still"
                + " apply");
    assertThat(e.step(Phase.LIMITS).notes())
        .anySatisfy(n -> assertThat(n).startsWith("limit 'per-client' (segment/partners"))
        .contains(
            "limit 'daily' (rule/partners/create, key [client]): not counted, its dry-run rule"
                + " would have denied the request at step 7");
  }

  @Test
  void dryRunSegment_stillWaivesItsOwnLimits() {
    DecisionPipeline p =
        pipeline(
            policy(
                segment("partners").dryRun().limit(perClient).rule(allow("create", "/v1/orders"))));

    p.decide(post("ok"));
    Decision second = p.decide(post("ok"));

    assertThat(second)
        .isInstanceOfSatisfying(
            Decision.Allow.class, a -> assertThat(a.dryRunReason()).isEqualTo(Reason.RATE_LIMITED));
  }
}
