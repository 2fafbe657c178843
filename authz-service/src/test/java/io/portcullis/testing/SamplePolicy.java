package io.portcullis.testing;

import static io.portcullis.testing.TestPolicies.allow;
import static io.portcullis.testing.TestPolicies.deny;
import static io.portcullis.testing.TestPolicies.segment;

import io.portcullis.decision.Reason;
import io.portcullis.identity.CredentialChain;
import io.portcullis.identity.CredentialType;
import io.portcullis.identity.Identity;
import io.portcullis.identity.SpiffePeerVerifier;
import io.portcullis.identity.Verification;
import io.portcullis.limit.LimitDefinition;
import io.portcullis.limit.LimitKey;
import io.portcullis.limit.LimitKind;
import io.portcullis.net.CidrSet;
import io.portcullis.payload.BodySchema;
import io.portcullis.policy.Policy;
import io.portcullis.request.Body;
import io.portcullis.request.HttpMethod;
import io.portcullis.segment.Guards;
import io.portcullis.segment.PrincipalPattern;
import io.portcullis.segment.SegmentMatch;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * A compiled policy exercising every segment feature, with fake credential verifiers: bearer {@code
 * alice} verifies (JWT), so does {@code partner-jwt} (a partner's JWT), {@code expired} is expired,
 * anything else is invalid; API key {@code pk_acme} verifies; SPIFFE peers of {@code
 * prod.example.com} are trusted. Shared by the pipeline and adapter tests.
 */
public final class SamplePolicy {
  private SamplePolicy() {}

  public static final Identity ALICE =
      Identity.builder(CredentialType.JWT, "alice")
          .client("web")
          .roles(Set.of("orders.read"))
          .scopes(Set.of("orders:write"))
          .build();
  public static final Identity ACME_KEY =
      Identity.builder(CredentialType.API_KEY, "key_1")
          .client("acme")
          .clientType("partner")
          .roles(Set.of("orders.read"))
          .scopes(Set.of("orders:write"))
          .apiKeyId("key_1")
          .build();

  /** Bearer {@code partner-jwt}: a partner's JWT (lands in {@code partners}, as ACME_KEY does). */
  public static final Identity PARTNER_JWT =
      Identity.builder(CredentialType.JWT, "partner-user")
          .client("acme")
          .clientType("partner")
          .roles(Set.of("orders.read"))
          .build();

  public static final CredentialChain IDENTITY =
      CredentialChain.builder()
          .bearer(
              token ->
                  switch (token) {
                    case "alice" -> Verification.verified(ALICE);
                    case "partner-jwt" -> Verification.verified(PARTNER_JWT);
                    case "expired" -> Verification.rejected(Reason.EXPIRED_TOKEN, "token expired");
                    default -> Verification.rejected(Reason.INVALID_TOKEN, "bad signature");
                  })
          .apiKeys(
              key ->
                  key.equals("pk_acme")
                      ? Verification.verified(ACME_KEY)
                      : Verification.rejected(Reason.UNKNOWN_KEY, "unknown key"),
              List.of("x-api-key"))
          .peers(new SpiffePeerVerifier(Set.of("prod.example.com")))
          .build();

  public static final LimitDefinition PER_KEY =
      new LimitDefinition(
          "per-key",
          "segment/partners",
          List.of(LimitKey.Attribute.API_KEY),
          new LimitKind.Rate(100, Duration.ofSeconds(1), 200));

  public static final Policy POLICY =
      TestPolicies.policy(
          IDENTITY,
          segment("internal")
              .match(
                  new SegmentMatch(
                      Set.of(CredentialType.MTLS),
                      List.of(PrincipalPattern.compile("spiffe://prod.example.com/ns/*/sa/*")),
                      Set.of(),
                      Set.of(),
                      Set.of(),
                      CidrSet.empty(),
                      Set.of(),
                      Map.of(),
                      Set.of()))
              .rule(allow("anything", "/**"))
              .build(),
          segment("partners")
              .match(
                  new SegmentMatch(
                      Set.of(CredentialType.API_KEY, CredentialType.JWT),
                      List.of(),
                      Set.of(),
                      Set.of("partner"),
                      Set.of(),
                      CidrSet.empty(),
                      Set.of(),
                      Map.of(),
                      Set.of()))
              .guards(
                  new Guards(
                      true,
                      CidrSet.empty(),
                      CidrSet.parse(List.of("198.51.100.0/24")),
                      Set.of(),
                      Set.of("KP", "IR")))
              .rule(
                  allow("read-orders", "/v1/orders", "/v1/orders/*")
                      .methods(HttpMethod.GET, HttpMethod.HEAD)
                      .rolesAny("orders.read"))
              .rule(
                  allow("create-order", "/v1/orders")
                      .methods(HttpMethod.POST)
                      .scopesAny("orders:write")
                      .bodySchema(
                          new BodySchema() {
                            @Override
                            public String validate(Body body, String contentType) {
                              return new String(body.unsafeBytes()).contains("\"qty\"")
                                  ? null
                                  : "$: required";
                            }

                            @Override
                            public String source() {
                              return "schemas/order.json";
                            }
                          }))
              .rule(deny("no-admin", "/v1/admin/**"))
              .rule(allow("admin-read", "/v1/admin/stats").rolesAny("orders.read"))
              .limit(PER_KEY)
              .build(),
          segment("staging")
              .match(
                  new SegmentMatch(
                      Set.of(),
                      List.of(),
                      Set.of(),
                      Set.of(),
                      Set.of(),
                      CidrSet.empty(),
                      Set.of(),
                      Map.of("environment", "staging"),
                      Set.of()))
              .rule(allow("testers", "/v1/**").methods(HttpMethod.GET).rolesAny("tester"))
              .dryRun()
              .build(),
          segment("web")
              .match(
                  new SegmentMatch(
                      Set.of(CredentialType.JWT),
                      List.of(),
                      Set.of(),
                      Set.of(),
                      Set.of(),
                      CidrSet.empty(),
                      Set.of(),
                      Map.of(),
                      Set.of()))
              .rule(allow("orders", "/v1/orders/**").rolesAll("orders.read", "orders.write"))
              .rule(allow("profile", "/v1/me").clients("web"))
              .rule(deny("legacy", "/v1/legacy/**").dryRun())
              .rule(allow("legacy-read", "/v1/legacy/**"))
              .rule(allow("beta", "/v1/beta").rolesAny("beta").dryRun())
              .build(),
          segment("public")
              .match(
                  new SegmentMatch(
                      Set.of(CredentialType.ANONYMOUS),
                      List.of(),
                      Set.of(),
                      Set.of(),
                      Set.of(),
                      CidrSet.empty(),
                      Set.of(),
                      Map.of(),
                      Set.of()))
              .rule(allow("status", "/v1/status").methods(HttpMethod.GET))
              .build());
}
