package io.portcullis.policy;

import static org.assertj.core.api.Assertions.assertThat;

import io.portcullis.decision.Decision;
import io.portcullis.decision.Reason;
import io.portcullis.testing.FakeClock;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Objects;
import java.util.Set;
import java.util.stream.Collectors;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class PolicyTestsTest {
  private static final Path EXAMPLE = Path.of("..", "examples", "policy.yaml");
  private static final Path EXAMPLE_CASES = Path.of("..", "examples", "cases.yaml");

  @TempDir Path dir;

  private final PolicyTests tests =
      PolicyTests.create(FakeClock.at("2026-11-22T10:00:00Z"), name -> null);

  private Path cases(String yaml) throws IOException {
    return Files.writeString(dir.resolve("cases.yaml"), yaml);
  }

  private PolicyTests.Report.Ran ran(Path policy, Path cases) {
    PolicyTests.Report r = tests.run(policy, cases);
    assertThat(r).as("%s", r).isInstanceOf(PolicyTests.Report.Ran.class);
    return (PolicyTests.Report.Ran) r;
  }

  private List<PolicyError> invalid(Path policy, Path cases) {
    PolicyTests.Report r = tests.run(policy, cases);
    assertThat(r).as("%s", r).isInstanceOf(PolicyTests.Report.Invalid.class);
    assertThat(r.exitCode()).isEqualTo(PolicyTests.INVALID_INPUT).isEqualTo(101);
    return ((PolicyTests.Report.Invalid) r).problems();
  }

  @Test
  void exampleCases_passAndCoverEverySegmentBothDecisionsAndEveryOfflineReason() {
    PolicyTests.Report.Ran ran = ran(EXAMPLE, EXAMPLE_CASES);

    assertThat(ran.results())
        .allSatisfy(
            r -> assertThat(r.passed()).as("%s: %s", r.testCase().name(), r.diff()).isTrue());
    assertThat(ran.failed()).isZero();
    assertThat(ran.exitCode()).isZero();
    assertThat(ran.summary()).isEqualTo(ran.results().size() + " passed, 0 failed");
    assertThat(ran.warnings()).isEmpty();

    List<Decision> decisions =
        ran.results().stream().map(PolicyTests.CaseResult::decision).toList();
    assertThat(decisions.stream().map(d -> d.context().segment()).filter(Objects::nonNull))
        .containsAll(List.of("internal-services", "partners", "staging-testers", "public"));
    assertThat(decisions.stream().map(Decision::outcome)).contains("allow", "deny");
    Set<Reason> reasons =
        decisions.stream()
            .filter(d -> d instanceof Decision.Deny)
            .map(d -> ((Decision.Deny) d).reason())
            .collect(Collectors.toSet());
    // Everything but what needs state (blocked, limits), time (expired_*), a key store
    // (revoked_key), an introspection endpoint (inactive_token) or an outage.
    assertThat(reasons)
        .containsExactlyInAnyOrder(
            Reason.MALFORMED_REQUEST,
            Reason.INVALID_TOKEN,
            Reason.UNKNOWN_KEY,
            Reason.UNTRUSTED_PRINCIPAL,
            Reason.NO_SEGMENT,
            Reason.TLS_REQUIRED,
            Reason.IP_DENIED,
            Reason.GEO_DENIED,
            Reason.DENIED_BY_RULE,
            Reason.NO_MATCHING_RULE,
            Reason.INSUFFICIENT_PERMISSIONS,
            Reason.INVALID_BODY,
            Reason.BODY_TOO_LARGE);
    assertThat(
            decisions.stream()
                .filter(d -> d instanceof Decision.Allow a && a.dryRunReason() != null)
                .map(d -> ((Decision.Allow) d).dryRunReason()))
        .contains(Reason.INSUFFICIENT_PERMISSIONS, Reason.NO_MATCHING_RULE);
  }

  @Test
  void failingCase_diffNamesWhatDifferedAndWhatDecided() throws IOException {
    PolicyTests.Report.Ran ran =
        ran(
            EXAMPLE,
            cases(
                """
                cases:
                  - name: partner deletes
                    request: { method: DELETE, path: /v1/orders/42, tls: true, source_ip: 203.0.113.7 }
                    identity: { credential: api_key, principal: key_1, client_type: partner }
                    expect: { decision: deny, reason: insufficient_permissions }
                  - name: partner reads
                    request: { method: GET, path: /v1/orders/42, tls: true, source_ip: 203.0.113.7 }
                    identity: { credential: api_key, principal: key_1, client_type: partner }
                    expect: { decision: allow, rule: read-orders, status: 200 }
                  - name: anonymous status
                    request: { path: /v1/status }
                    expect: { decision: allow, segment: public, rule: status }
                """));

    assertThat(ran.passed()).isEqualTo(1);
    assertThat(ran.failed()).isEqualTo(2);
    assertThat(ran.exitCode()).isEqualTo(2);
    assertThat(ran.summary()).isEqualTo("1 passed, 2 failed");
    PolicyTests.CaseResult deletes = ran.results().get(0);
    assertThat(deletes.passed()).isFalse();
    assertThat(deletes.testCase().line()).isEqualTo(2);
    assertThat(deletes.diff())
        .isEqualTo(
            "expected reason insufficient_permissions, got no_matching_rule; segment partners;"
                + " rule -");
    assertThat(deletes.why()).isEqualTo("no rule applies");
    assertThat(ran.results().get(1).diff())
        .isEqualTo(
            "expected decision allow, got deny; expected status 200, got 403; segment partners;"
                + " rule read-orders");
    assertThat(ran.results().get(2).passed()).isTrue();
    assertThat(ran.results().get(2).diff()).isEmpty();
  }

  @Test
  void identityAbsent_credentialsAreCheckedOffline_andBodiesMayBeYaml() throws IOException {
    PolicyTests.Report.Ran ran =
        ran(
            EXAMPLE,
            cases(
                """
                cases:
                  - name: forged token
                    request: { path: /v1/status, headers: { Authorization: Bearer x } }
                    expect: { reason: invalid_token, status: 401, segment: "-", rule: "-" }
                  - name: order as YAML is sent as JSON
                    request:
                      method: POST
                      path: /v1/orders
                      tls: true
                      source_ip: 203.0.113.7
                      body: { sku: AB-12, quantity: 3, note: "two\\nlines" }
                    identity: { credential: jwt, principal: p, client_type: partner, scopes: ["orders:write"] }
                    expect: { decision: allow, rule: create-order, dry_run_reason: "-" }
                  - name: wrong content type
                    request:
                      method: POST
                      path: /v1/orders
                      tls: true
                      source_ip: 203.0.113.7
                      headers: { content-type: text/plain }
                      body: { sku: AB-12, quantity: 3 }
                    identity: { credential: jwt, principal: p, client_type: partner, scopes: ["orders:write"] }
                    expect: { reason: invalid_body }
                """));
    assertThat(ran.results()).allSatisfy(r -> assertThat(r.passed()).as(r.diff()).isTrue());
  }

  @Test
  void exitCode_isTheNumberOfFailuresCappedAt100() throws IOException {
    StringBuilder yaml = new StringBuilder("cases:\n");
    for (int i = 0; i < 105; i++) {
      yaml.append("  - { name: c")
          .append(i)
          .append(", request: { path: /v1/status }, expect: { decision: deny } }\n");
    }
    PolicyTests.Report.Ran ran = ran(EXAMPLE, cases(yaml.toString()));
    assertThat(ran.failed()).isEqualTo(105);
    assertThat(ran.exitCode()).isEqualTo(100);
  }

  @Test
  void invalidCasesFile_everyProblemWithFileLineAndColumn() throws IOException {
    Path file =
        cases(
            """
            cases:
              - name: typo
                request: { methd: GET, path: /v1/status, source_ip: 1.2.3, country: de }
                identity: { credential: apikey, principal: k }
                expect: { reason: insufficent_permissions, decision: maybe, status: 42 }
              - name: typo
                request: { path: /v1/status }
                identity: { credential: anonymous, principal: someone }
              - request: { path: /v1/status }
                expect: { reason: rate_limited, dry_run_reason: "-", colour: red }
            """);
    List<PolicyError> problems = invalid(EXAMPLE, file);

    assertThat(problems)
        .extracting(p -> p.line() + ":" + p.column() + " " + p.field())
        .containsExactly(
            "3:16 cases[0].request.methd",
            "3:57 cases[0].request.source_ip",
            "3:73 cases[0].request.country",
            "4:29 cases[0].identity.credential",
            "5:23 cases[0].expect.reason",
            "5:58 cases[0].expect.decision",
            "5:73 cases[0].expect.status",
            "6:5 cases[1].expect",
            "6:11 cases[1].name",
            "8:40 cases[1].identity.principal",
            "9:5 cases[2].name",
            "10:58 cases[2].expect.colour");
    assertThat(problems).allSatisfy(p -> assertThat(p.file()).isEqualTo(file.toString()));
    assertThat(problems.get(0).message()).isEqualTo("unknown key 'methd'; did you mean 'method'?");
    assertThat(problems.get(2).message()).contains("did you mean 'DE'?");
    assertThat(problems.get(3).message())
        .isEqualTo(
            "unknown credential type 'apikey'; expected one of jwt, introspection, api_key, mtls,"
                + " anonymous; did you mean 'api_key'?");
    assertThat(problems.get(4).message())
        .isEqualTo(
            "unknown reason code 'insufficent_permissions'; did you mean"
                + " 'insufficient_permissions'? (or \"-\" for none)");
    assertThat(problems.get(8).message())
        .isEqualTo("duplicate case name 'typo' (first defined at line 2)");
    assertThat(problems.get(9).message()).isEqualTo("an anonymous caller has no principal");
    assertThat(problems.get(0).format()).startsWith(file + ":3:16: cases[0].request.methd: ");
  }

  @Test
  void invalidPolicyOrMissingFiles_areInvalidInput() throws IOException {
    Path policy = Files.writeString(dir.resolve("policy.yaml"), "version: 1\nsegmentz: []\n");
    Path cases =
        cases("cases:\n  - { name: a, request: { path: / }, expect: { decision: deny } }\n");
    assertThat(invalid(policy, cases))
        .extracting(PolicyError::field)
        .containsExactly("segments", "segmentz");

    assertThat(invalid(EXAMPLE, dir.resolve("nope.yaml")))
        .singleElement()
        .satisfies(p -> assertThat(p.message()).isEqualTo("the cases file does not exist"));
    assertThat(invalid(EXAMPLE, cases("cases: []\n")))
        .singleElement()
        .satisfies(p -> assertThat(p.message()).isEqualTo("must not be empty"));
    assertThat(invalid(EXAMPLE, cases("")))
        .singleElement()
        .satisfies(p -> assertThat(p.message()).isEqualTo("the document is empty"));
  }
}
