package io.portcullis.decision;

import static io.portcullis.testing.TestPolicies.allow;
import static io.portcullis.testing.TestPolicies.deny;
import static io.portcullis.testing.TestPolicies.segment;
import static org.assertj.core.api.Assertions.assertThat;

import io.portcullis.identity.CredentialChain;
import io.portcullis.identity.CredentialType;
import io.portcullis.identity.Identity;
import io.portcullis.identity.Verification;
import io.portcullis.limit.FailedAuthRule;
import io.portcullis.limit.LimitDefinition;
import io.portcullis.limit.LimitKey;
import io.portcullis.limit.LimitKind;
import io.portcullis.limit.LimitOutcome;
import io.portcullis.limit.LimitRequest;
import io.portcullis.limit.SourceProtection;
import io.portcullis.net.CidrSet;
import io.portcullis.policy.Policy;
import io.portcullis.request.RequestAttributes;
import io.portcullis.segment.Guards;
import io.portcullis.segment.SegmentMatch;
import io.portcullis.testing.TestPolicies;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.jspecify.annotations.Nullable;
import org.junit.jupiter.api.Test;

/** Regressions for the findings of the security review (docs/decisions.md "Hardening"). */
class ReviewRegressionTest {
  static final Identity CORP =
      Identity.builder(CredentialType.JWT, "svc-billing")
          .roles(Set.of("admin"))
          .issuer("corp")
          .build();
  static final Identity PARTNER_IDP =
      Identity.builder(CredentialType.JWT, "svc-billing")
          .roles(Set.of("admin"))
          .issuer("partner-idp")
          .build();

  final List<String> failures = new ArrayList<>();
  final List<List<LimitRequest>> limited = new ArrayList<>();

  final CredentialChain identity =
      CredentialChain.builder()
          .bearer(
              token ->
                  switch (token) {
                    case "good" -> Verification.verified(CORP);
                    case "down" ->
                        Verification.rejected(Reason.IDENTITY_UNAVAILABLE, "issuer down");
                    default -> Verification.rejected(Reason.INVALID_TOKEN, "bad");
                  })
          .build();

  final LimitDefinition perIp =
      new LimitDefinition(
          "per-ip",
          "segment/open",
          List.of(LimitKey.Attribute.IP),
          new LimitKind.Rate(5, Duration.ofSeconds(1), 5));

  final Policy policy =
      TestPolicies.policy(
          identity,
          new FailedAuthRule("ip", 3, Duration.ofMinutes(1), Duration.ofMinutes(10)),
          ResponseOptions.DEFAULT,
          segment("corp-admins")
              .match(
                  new SegmentMatch(
                      Set.of(),
                      List.of(),
                      Set.of(),
                      Set.of(),
                      Set.of("admin"),
                      CidrSet.empty(),
                      Set.of(),
                      Map.of(),
                      Set.of("corp")))
              .rule(allow("all", "/**"))
              .rule(
                  deny("no-get-secrets", "/v1/secrets/**")
                      .methods(io.portcullis.request.HttpMethod.GET))
              .build(),
          segment("open")
              .guards(
                  new Guards(
                      false,
                      CidrSet.empty(),
                      CidrSet.parse(List.of("198.51.100.0/24")),
                      Set.of(),
                      Set.of()))
              .rule(allow("all", "/**"))
              .limit(perIp)
              .build());

  final DecisionPipeline pipeline =
      DecisionPipeline.builder()
          .policy(() -> policy)
          .protection(
              new SourceProtection() {
                @Override
                public @Nullable Instant blockedUntil(String key) {
                  return null;
                }

                @Override
                public void recordFailure(String key, int t, Duration w, Duration b) {
                  failures.add(key);
                }

                @Override
                public List<BlockedSource> blocked() {
                  return List.of();
                }

                @Override
                public boolean unblock(String key) {
                  return false;
                }
              })
          .limiter(
              (requests, consume) -> {
                limited.add(requests);
                return LimitOutcome.admitted(null);
              })
          .build();

  static RequestAttributes.Builder get(String path) {
    return RequestAttributes.builder().method("GET").path(path).sourceIp("203.0.113.7");
  }

  @Test
  void pathParameters_anywhere_areMalformed_soDenyRulesCannotBeEscaped() {
    Decision d =
        pipeline.decide(get("/v1/secrets;x/key").header("authorization", "Bearer good").build());
    assertThat(d)
        .isInstanceOfSatisfying(
            Decision.Deny.class, x -> assertThat(x.reason()).isEqualTo(Reason.MALFORMED_REQUEST));
  }

  @Test
  void onlyClientCausedRejections_countTowardsFailedAuthBlocking() {
    pipeline.decide(get("/x").header("authorization", "Bearer forged").build());
    pipeline.decide(get("/x").header("authorization", "Bearer down").build());
    assertThat(failures).containsExactly("ip:203.0.113.7");
  }

  @Test
  void unknownSource_failsNetworkDenyLists_andSharesOneLimitBucket() {
    Decision d = pipeline.decide(RequestAttributes.builder().method("GET").path("/x").build());
    assertThat(d)
        .isInstanceOfSatisfying(
            Decision.Deny.class, x -> assertThat(x.reason()).isEqualTo(Reason.IP_DENIED));
  }

  @Test
  void ipv6Sources_shareTheirSlash64Bucket() {
    pipeline.decide(get("/x").sourceIp("2001:db8:1:2::17").build());
    pipeline.decide(get("/x").sourceIp("2001:db8:1:2:ffff::9").build());
    assertThat(limited)
        .extracting(l -> l.getFirst().bucket())
        .containsExactly("2001:db8:1:2::/64", "2001:db8:1:2::/64");
  }

  @Test
  void issuerMatch_keepsAnotherTrustedIssuersLookalikeOut() {
    assertThat(pipeline.decide(get("/x").build(), options(CORP)).context().segment())
        .isEqualTo("corp-admins");
    assertThat(pipeline.decide(get("/x").build(), options(PARTNER_IDP)).context().segment())
        .isEqualTo("open");
  }

  @Test
  void bearerSeparatedByTab_isVerifiedAndStripped_notPassedThroughAsAnotherScheme() {
    Decision d = pipeline.decide(get("/x").header("authorization", "Bearer\tforged").build());
    assertThat(d)
        .isInstanceOfSatisfying(
            Decision.Deny.class, x -> assertThat(x.reason()).isEqualTo(Reason.INVALID_TOKEN));
    Decision ok = pipeline.decide(get("/x").header("authorization", "Bearer\tgood").build());
    assertThat(ok.response().upstreamHeadersToRemove()).contains("authorization");
  }

  @Test
  void methodOverrideHeaders_areRemovedBeforeTheUpstream() {
    Decision d =
        pipeline.decide(
            get("/x").method("POST").header("X-HTTP-Method-Override", "DELETE").build());
    assertThat(d.response().upstreamHeadersToRemove()).contains("x-http-method-override");
  }

  private static DecideOptions options(Identity identity) {
    return new DecideOptions(Trace.none(), identity, null, true, true);
  }
}
