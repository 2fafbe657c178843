package io.portcullis.decision;

import static org.assertj.core.api.Assertions.assertThat;

import io.portcullis.identity.CredentialType;
import io.portcullis.identity.Identity;
import io.portcullis.request.RequestAttributes;
import io.portcullis.testing.FakeClock;
import io.portcullis.testing.SamplePolicy;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.Test;

class ExplainServiceTest {
  private final List<Decision> audited = new ArrayList<>();
  private final ExplainService explain =
      new ExplainService(
          DecisionPipeline.builder()
              .policy(() -> SamplePolicy.POLICY)
              .audit(audited::add)
              .clock(FakeClock.at("2026-11-22T10:00:00Z"))
              .build());

  private static RequestAttributes.Builder get(String path) {
    return RequestAttributes.builder().method("GET").path(path).sourceIp("203.0.113.7");
  }

  @Test
  void guardDeny_decidesAtStep5_laterStepsNotReached_nothingAudited() {
    Explanation e = explain.explain(get("/v1/orders/1").build(), SamplePolicy.ACME_KEY, null);

    assertThat(e.outcome()).isEqualTo("deny");
    assertThat(e.reason()).isEqualTo(Reason.TLS_REQUIRED);
    assertThat(e.decidedAt()).isEqualTo(Phase.GUARDS);
    assertThat(e.step(Phase.GUARDS).notes())
        .containsExactly(
            "require_tls: the request is not https: tls_required",
            "network.deny [198.51.100.0/24]: source 203.0.113.7 is not in it: passes",
            "geo.deny [IR, KP]: country unknown is not in it: passes",
            "deny tls_required (segment guard)");
    assertThat(e.steps()).hasSize(9);
    assertThat(e.steps().subList(5, 9))
        .allSatisfy(
            s -> {
              assertThat(s.reached()).isFalse();
              assertThat(s.notes()).containsExactly("not reached: step 5 decided");
            });
    assertThat(e.step(Phase.SEGMENT).reached()).isTrue();
    assertThat(audited).isEmpty();
  }

  @Test
  void unknownSource_explainedAsFailingTheDenyList_asTheDecisionDoes() {
    Explanation e =
        explain.explain(
            RequestAttributes.builder().method("GET").path("/v1/orders/1").tls(true).build(),
            SamplePolicy.ACME_KEY,
            null);

    assertThat(e.reason()).isEqualTo(Reason.IP_DENIED);
    assertThat(e.step(Phase.GUARDS).notes())
        .containsExactly(
            "require_tls: the request is https: passes",
            "network.deny [198.51.100.0/24]: source unknown: an unknown source fails a deny list:"
                + " ip_denied",
            "geo.deny [IR, KP]: country unknown is not in it: passes",
            "deny ip_denied (segment guard)");
  }

  @Test
  void explainVerifiesCredentialsWithoutCountingUse_aDecisionCountsIt() {
    List<Boolean> countUse = new ArrayList<>();
    io.portcullis.identity.IdentityResolver recording =
        new io.portcullis.identity.IdentityResolver() {
          @Override
          public io.portcullis.identity.Verification resolve(RequestAttributes request) {
            return resolve(request, true);
          }

          @Override
          public io.portcullis.identity.Verification resolve(
              RequestAttributes request, boolean count) {
            countUse.add(count);
            return io.portcullis.identity.Verification.verified(SamplePolicy.ACME_KEY);
          }

          @Override
          public Set<String> credentialHeaders() {
            return Set.of("authorization");
          }
        };
    DecisionPipeline p =
        DecisionPipeline.builder()
            .policy(() -> io.portcullis.testing.TestPolicies.policy(recording))
            .audit(audited::add)
            .clock(FakeClock.at("2026-11-22T10:00:00Z"))
            .build();

    new ExplainService(p).explain(get("/v1/orders/1").build(), null, null);
    p.decide(get("/v1/orders/1").build());

    assertThat(countUse).containsExactly(false, true);
  }

  @Test
  void dryRunSegment_explainsTheWaivedDeny() {
    Identity bob = Identity.builder(CredentialType.JWT, "bob").roles(Set.of("viewer")).build();
    Explanation e =
        explain.explain(get("/v1/things").context("environment", "staging").build(), bob, null);

    assertThat(e.outcome()).isEqualTo("allow");
    assertThat(e.dryRunReason()).isEqualTo(Reason.INSUFFICIENT_PERMISSIONS);
    assertThat(e.decidedAt()).isEqualTo(Phase.RULES);
    assertThat(e.step(Phase.RULES).notes())
        .containsExactly(
            "rule 'testers' (allow): applies (GET /v1/things matches /v1/**); conditions unmet:"
                + " requires roles_any [tester]",
            "allow (dry-run: would deny with insufficient_permissions)");
  }

  @Test
  void dryRunDenyRule_isNamedInTheAllowNote() {
    Explanation e = explain.explain(get("/v1/legacy/x").build(), SamplePolicy.ALICE, null);

    assertThat(e.outcome()).isEqualTo("allow");
    assertThat(e.step(Phase.RULES).notes())
        .contains(
            "rule 'legacy' (deny, dry-run): applies (GET /v1/legacy/x matches /v1/legacy/**):"
                + " would deny (dry-run)",
            "rule 'legacy-read' allows (dry-run: 'legacy' would deny with denied_by_rule)");
    assertThat(e.step(Phase.LIMITS).notes())
        .containsExactly("no limits on segment 'web' or rule 'legacy-read'");
  }

  @Test
  void malformedRequest_decidesAtStep1() {
    Explanation e = explain.explain(get("/a/%2F/b").build(), null, null);
    assertThat(e.reason()).isEqualTo(Reason.MALFORMED_REQUEST);
    assertThat(e.decidedAt()).isEqualTo(Phase.NORMALIZE);
    assertThat(e.step(Phase.NORMALIZE).notes())
        .singleElement()
        .asString()
        .startsWith("deny malformed_request");
    assertThat(e.step(Phase.PROTECT).notes()).containsExactly("not reached: step 1 decided");
  }
}
