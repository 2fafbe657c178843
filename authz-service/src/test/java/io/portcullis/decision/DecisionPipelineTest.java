package io.portcullis.decision;

import static org.assertj.core.api.Assertions.assertThat;

import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import io.portcullis.audit.DecisionRecords;
import io.portcullis.geo.CountryResolver;
import io.portcullis.identity.CredentialChain;
import io.portcullis.identity.CredentialType;
import io.portcullis.identity.Identity;
import io.portcullis.identity.Verification;
import io.portcullis.limit.BackendCircuit;
import io.portcullis.limit.BackendFailurePolicy;
import io.portcullis.limit.FailedAuthRule;
import io.portcullis.limit.FailoverRateLimiter;
import io.portcullis.limit.InMemoryGcraLimiter;
import io.portcullis.limit.LimitBackendException;
import io.portcullis.limit.LimitOutcome;
import io.portcullis.limit.LimitRequest;
import io.portcullis.limit.LimitStatus;
import io.portcullis.limit.RateLimiter;
import io.portcullis.limit.SourceProtection;
import io.portcullis.metrics.DecisionMetrics;
import io.portcullis.metrics.MetricNames;
import io.portcullis.proto.v1.DecisionRecord;
import io.portcullis.request.Body;
import io.portcullis.request.RequestAttributes;
import io.portcullis.segment.Segment;
import io.portcullis.testing.FakeClock;
import io.portcullis.testing.SamplePolicy;
import io.portcullis.testing.TestPolicies;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.concurrent.atomic.AtomicReference;
import org.jspecify.annotations.Nullable;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

class DecisionPipelineTest {
  static final Identity ALICE = SamplePolicy.ALICE;

  final FakeClock clock = FakeClock.at("2026-11-22T10:00:00Z");
  final List<Decision> audited = new ArrayList<>();
  final SimpleMeterRegistry registry = new SimpleMeterRegistry();
  final AtomicReference<RateLimiter> limiter = new AtomicReference<>(RateLimiter.unlimited());

  final DecisionPipeline pipeline =
      DecisionPipeline.builder()
          .policy(() -> SamplePolicy.POLICY)
          .countries(CountryResolver.header("x-geo-country"))
          .limiter((requests, consume) -> limiter.get().acquire(requests, consume))
          .audit(audited::add)
          .metrics(new DecisionMetrics(registry))
          .clock(clock)
          .nanoTime(clock::nanoTime)
          .build();

  static RequestAttributes.Builder get(String path) {
    return RequestAttributes.builder()
        .method("GET")
        .path(path)
        .host("api.example.com")
        .scheme("https")
        .sourceIp("203.0.113.7");
  }

  static RequestAttributes.Builder partner(String method, String path) {
    return get(path).method(method).header("x-api-key", "pk_acme");
  }

  @Test
  void anonymousReadsStatus_allowedInPublicSegment() {
    Decision d = pipeline.decide(get("/v1/status").build());
    assertThat(d).isInstanceOf(Decision.Allow.class);
    assertThat(d.context().segment()).isEqualTo("public");
    assertThat(d.context().rule()).isEqualTo("status");
    assertThat(d.context().identity()).isEqualTo(Identity.anonymous());
    assertThat(d.response().status()).isEqualTo(200);
  }

  @Test
  void unknownMethod_isMalformed400() {
    Decision d = pipeline.decide(get("/v1/status").method("BREW").build());
    assertDeny(d, Reason.MALFORMED_REQUEST, 400);
  }

  @Test
  void lowerCaseMethod_isMalformed() {
    assertDeny(
        pipeline.decide(get("/v1/status").method("get").build()), Reason.MALFORMED_REQUEST, 400);
  }

  @Test
  void encodedSlash_isMalformedNotNormalizedIntoAnAllowedPath() {
    Decision d = pipeline.decide(get("/v1%2Fstatus").build());
    assertDeny(d, Reason.MALFORMED_REQUEST, 400);
    assertThat(d.context().path()).isEmpty();
  }

  @Test
  void dotDotIntoAdmin_isNormalizedThenDeniedByRule() {
    Decision d = pipeline.decide(partner("GET", "/v1/orders/../admin/users").build());
    assertDeny(d, Reason.DENIED_BY_RULE, 403);
    assertThat(d.context().path()).isEqualTo("/v1/admin/users");
    assertThat(d.context().rule()).isEqualTo("no-admin");
  }

  @Test
  void encodedDotDotAndDoubleSlash_cannotReachAdminThroughOrders() {
    assertDeny(
        pipeline.decide(partner("GET", "/v1/orders/%2e%2e/admin/x").build()),
        Reason.MALFORMED_REQUEST,
        400);
    assertDeny(
        pipeline.decide(partner("GET", "/v1//admin//x").build()), Reason.DENIED_BY_RULE, 403);
    assertDeny(
        pipeline.decide(partner("GET", "/v1/orders/..;/admin").build()),
        Reason.MALFORMED_REQUEST,
        400);
    assertDeny(
        pipeline.decide(partner("GET", "/v1/orders\\..\\admin").build()),
        Reason.MALFORMED_REQUEST,
        400);
  }

  @Test
  void denyRuleOverridesEarlierOrLaterAllow() {
    // admin-read would allow /v1/admin/stats, but the deny rule applies too.
    assertDeny(
        pipeline.decide(partner("GET", "/v1/admin/stats").build()), Reason.DENIED_BY_RULE, 403);
  }

  @Test
  void oversizedHeader_isMalformed400() {
    Decision d = pipeline.decide(get("/v1/status").header("x-big", "a".repeat(20_000)).build());
    assertDeny(d, Reason.MALFORMED_REQUEST, 400);
  }

  @Test
  void tooManyHeaders_isMalformed400() {
    RequestAttributes.Builder b = get("/v1/status");
    for (int i = 0; i < 300; i++) {
      b.header("x-h" + i, "v");
    }
    assertDeny(pipeline.decide(b.build()), Reason.MALFORMED_REQUEST, 400);
  }

  @Test
  void invalidToken_is401WithWwwAuthenticate_neverAnonymous() {
    Decision d =
        pipeline.decide(get("/v1/status").header("authorization", "Bearer forged").build());
    assertDeny(d, Reason.INVALID_TOKEN, 401);
    assertThat(d.response().clientHeaders())
        .contains(new ResponseHeader("www-authenticate", "Bearer error=\"invalid_token\""));
    assertThat(d.context().segment()).isNull();
  }

  @Test
  void expiredToken_is401ExpiredToken() {
    assertDeny(
        pipeline.decide(get("/v1/status").header("authorization", "Bearer expired").build()),
        Reason.EXPIRED_TOKEN,
        401);
  }

  @Test
  void tokenInQueryString_isIgnored_requestStaysAnonymous() {
    Decision d = pipeline.decide(get("/v1/status?access_token=alice").build());
    assertThat(d).isInstanceOf(Decision.Allow.class);
    assertThat(d.context().identity().credential()).isEqualTo(CredentialType.ANONYMOUS);
  }

  @Test
  void validTokenPlusInvalidApiKey_isRejected_allPresentedCredentialsMustVerify() {
    Decision d =
        pipeline.decide(
            get("/v1/me")
                .header("authorization", "Bearer alice")
                .header("x-api-key", "pk_wrong")
                .build());
    assertDeny(d, Reason.UNKNOWN_KEY, 401);
  }

  @Test
  void mtlsPeerFromTrustedDomain_landsInInternal() {
    Decision d =
        pipeline.decide(
            get("/anything/at/all")
                .sourcePrincipal("spiffe://prod.example.com/ns/default/sa/billing")
                .build());
    assertThat(d).isInstanceOf(Decision.Allow.class);
    assertThat(d.context().segment()).isEqualTo("internal");
  }

  @Test
  void mtlsPeerFromUntrustedDomain_is401UntrustedPrincipal() {
    assertDeny(
        pipeline.decide(
            get("/x").sourcePrincipal("spiffe://evil.example.com/ns/default/sa/billing").build()),
        Reason.UNTRUSTED_PRINCIPAL,
        401);
  }

  @Test
  void noSegmentMatches_is403NoSegment() {
    Identity odd = Identity.builder(CredentialType.INTROSPECTION, "svc").build();
    Decision d = pipeline.decide(get("/v1/status").build(), options(odd));
    assertDeny(d, Reason.NO_SEGMENT, 403);
  }

  @Test
  void partnerOverPlainHttp_isTlsRequired() {
    assertDeny(
        pipeline.decide(partner("GET", "/v1/orders").scheme("http").build()),
        Reason.TLS_REQUIRED,
        403);
  }

  @Test
  void partnerFromDeniedNetwork_isIpDenied() {
    assertDeny(
        pipeline.decide(partner("GET", "/v1/orders").sourceIp("198.51.100.9").build()),
        Reason.IP_DENIED,
        403);
  }

  @Test
  void partnerFromDeniedCountry_isGeoDenied_unknownCountryPassesDenyList() {
    assertDeny(
        pipeline.decide(partner("GET", "/v1/orders").header("x-geo-country", "kp").build()),
        Reason.GEO_DENIED,
        403);
    assertThat(pipeline.decide(partner("GET", "/v1/orders").build()))
        .isInstanceOf(Decision.Allow.class);
  }

  @Test
  void ruleConditions_rolesAllScopesClients() {
    assertDeny(
        pipeline.decide(get("/v1/orders/1").header("authorization", "Bearer alice").build()),
        Reason.INSUFFICIENT_PERMISSIONS,
        403);
    assertThat(pipeline.decide(get("/v1/me").header("authorization", "Bearer alice").build()))
        .isInstanceOf(Decision.Allow.class);
    assertDeny(
        pipeline.decide(get("/v1/nothing").header("authorization", "Bearer alice").build()),
        Reason.NO_MATCHING_RULE,
        403);
  }

  @Test
  void dryRunDenyRule_allowsWithDryRunReason_butRecordsIt() {
    Decision d =
        pipeline.decide(get("/v1/legacy/x").header("authorization", "Bearer alice").build());
    assertThat(d)
        .isInstanceOfSatisfying(
            Decision.Allow.class,
            a -> assertThat(a.dryRunReason()).isEqualTo(Reason.DENIED_BY_RULE));
    assertThat(d.context().rule()).isEqualTo("legacy-read");
    assertThat(d.context().dryRunRule()).isEqualTo("legacy");
  }

  @Test
  void dryRunAllowRuleWithUnmetConditions_allowsWithInsufficientPermissions() {
    Decision d = pipeline.decide(get("/v1/beta").header("authorization", "Bearer alice").build());
    assertThat(d)
        .isInstanceOfSatisfying(
            Decision.Allow.class,
            a -> assertThat(a.dryRunReason()).isEqualTo(Reason.INSUFFICIENT_PERMISSIONS));
  }

  @Test
  void dryRunAllowRule_besideAnEnforcedAllowRule_changesNothing() {
    // The roll-out recipe's shape: a new dry-run rule added next to an enforced one for the same
    // method and path (here ahead of it). Without the dry-run rule the request is denied by
    // 'ship'; adding a dry-run rule must not let it through.
    DecisionPipeline p =
        DecisionPipeline.builder()
            .policy(
                () ->
                    TestPolicies.policy(
                        SamplePolicy.IDENTITY,
                        TestPolicies.segment("all")
                            .rule(
                                TestPolicies.allow("ship-strict", "/v1/shipments")
                                    .rolesAny("shipping.admin")
                                    .dryRun())
                            .rule(TestPolicies.allow("ship", "/v1/shipments").rolesAny("shipper"))
                            .rule(
                                TestPolicies.allow("track-strict", "/v1/tracking")
                                    .rolesAny("shipping.admin")
                                    .dryRun())
                            .rule(
                                TestPolicies.allow("parcel-new", "/v1/parcels")
                                    .rolesAny("orders.read")
                                    .dryRun())
                            .rule(
                                TestPolicies.allow("parcel", "/v1/parcels").rolesAny("orders.read"))
                            .rule(
                                TestPolicies.allow("returns-new", "/v1/returns")
                                    .rolesAny("orders.read")
                                    .dryRun())
                            .rule(TestPolicies.allow("returns", "/v1/returns").rolesAny("shipper"))
                            .build()))
            .clock(clock)
            .nanoTime(clock::nanoTime)
            .build();

    Decision shipments =
        p.decide(get("/v1/shipments").header("authorization", "Bearer alice").build());
    assertDeny(shipments, Reason.INSUFFICIENT_PERMISSIONS, 403);
    assertThat(shipments.context().rule()).isEqualTo("ship");
    assertThat(shipments.context().dryRunRule()).isNull();

    // Where no enforced allow rule applies, the dry-run rule's own deny is waived, as before.
    Decision tracking =
        p.decide(get("/v1/tracking").header("authorization", "Bearer alice").build());
    assertThat(tracking)
        .isInstanceOfSatisfying(
            Decision.Allow.class,
            a -> assertThat(a.dryRunReason()).isEqualTo(Reason.INSUFFICIENT_PERMISSIONS));
    assertThat(tracking.context().dryRunRule()).isEqualTo("track-strict");

    // A dry-run rule whose conditions hold does not take an enforced rule's allow (whose body
    // schema and limits are the ones that run), nor turn an enforced rule's deny into an allow.
    Decision parcels = p.decide(get("/v1/parcels").header("authorization", "Bearer alice").build());
    assertThat(parcels).isInstanceOf(Decision.Allow.class);
    assertThat(parcels.context().rule()).isEqualTo("parcel");
    Decision returns = p.decide(get("/v1/returns").header("authorization", "Bearer alice").build());
    assertDeny(returns, Reason.INSUFFICIENT_PERMISSIONS, 403);
    assertThat(returns.context().rule()).isEqualTo("returns");
  }

  @Test
  void dryRunSegment_turnsRuleDenyIntoAllowWithReason() {
    Decision d = pipeline.decide(get("/v1/things").context("environment", "staging").build());
    assertThat(d)
        .isInstanceOfSatisfying(
            Decision.Allow.class,
            a -> assertThat(a.dryRunReason()).isEqualTo(Reason.INSUFFICIENT_PERMISSIONS));
    assertThat(d.context().segment()).isEqualTo("staging");
    assertThat(d.context().dryRunRule()).isEqualTo("staging");
  }

  @Test
  void bodySchema_invalidBodyIs400_partialBodyIs413_validBodyAllowed() {
    assertDeny(
        pipeline.decide(partner("POST", "/v1/orders").body(Body.of("{\"x\":1}", false)).build()),
        Reason.INVALID_BODY,
        400);
    assertDeny(
        pipeline.decide(partner("POST", "/v1/orders").body(Body.of("{\"qty\":1", true)).build()),
        Reason.BODY_TOO_LARGE,
        413);
    assertThat(
            pipeline.decide(
                partner("POST", "/v1/orders").body(Body.of("{\"qty\":1}", false)).build()))
        .isInstanceOf(Decision.Allow.class);
  }

  @Test
  void limitExhausted_is429WithRetryAfterAndRateLimitHeaders() {
    limiter.set(
        (requests, consume) -> {
          LimitRequest r = requests.getFirst();
          LimitStatus s =
              new LimitStatus(r.limit(), 200, 0, Duration.ofMillis(1500), Duration.ofSeconds(2));
          return new LimitOutcome(
              LimitOutcome.Refusal.EXHAUSTED,
              Reason.RATE_LIMITED,
              r.limit(),
              s,
              Duration.ofMillis(1500),
              null);
        });
    Decision d = pipeline.decide(partner("GET", "/v1/orders").build());
    assertDeny(d, Reason.RATE_LIMITED, 429);
    assertThat(d.response().clientHeaders())
        .contains(
            new ResponseHeader("retry-after", "2"),
            new ResponseHeader("ratelimit-policy", "\"per-key\";q=200;w=2"),
            new ResponseHeader("ratelimit", "\"per-key\";r=0;t=2"));
  }

  @Test
  void backendDown_denyPolicy_is429WithRateLimitHeadersNamingTheUncheckedLimit() {
    RateLimiter redisDown =
        (requests, consume) -> {
          throw new LimitBackendException("connection refused", new RuntimeException());
        };
    limiter.set(
        new FailoverRateLimiter(
            redisDown,
            RateLimiter.unlimited(),
            BackendFailurePolicy.DENY,
            new BackendCircuit(clock, Duration.ofSeconds(5), BackendFailurePolicy.DENY, registry),
            clock));

    Decision d = pipeline.decide(partner("GET", "/v1/orders").build());

    assertDeny(d, Reason.RATE_LIMITED, 429);
    assertThat(d.response().clientHeaders())
        .contains(
            new ResponseHeader("retry-after", "5"),
            new ResponseHeader("ratelimit-policy", "\"per-key\";q=200;w=2"),
            new ResponseHeader("ratelimit", "\"per-key\";r=0;t=5"));
    DecisionRecord audit = DecisionRecords.of(d, "test");
    assertThat(audit.getLimit()).isEqualTo("per-key");
    assertThat(audit.getRemaining()).isZero();
    assertThat(audit.getDegraded()).isEqualTo("ratelimit_backend:deny");
    assertThat(((Decision.Deny) d).detail())
        .isEqualTo(
            "limit 'per-key' not checked: rate limit backend unavailable"
                + " (on_backend_failure: deny)");
  }

  /**
   * A full in-memory limiter refuses a request that needs a new bucket: the contract's {@code
   * rate_limited}, but the detail read "limit 'per-key' exhausted" and the RateLimit header {@code
   * t=0}, for a client that had used nothing.
   */
  @Test
  void inMemoryLimiterFull_is429RateLimited_whoseDetailHeadersAndExplainSayNotChecked() {
    InMemoryGcraLimiter full = InMemoryGcraLimiter.builder().clock(clock).maximumBuckets(1).build();
    assertThat(
            full.acquire(List.of(new LimitRequest(SamplePolicy.PER_KEY, "another-key", 1)), true)
                .admitted())
        .isTrue();
    limiter.set(full);
    RequestAttributes request = partner("GET", "/v1/orders").build();

    Decision d = pipeline.decide(request);
    Explanation e = new ExplainService(pipeline).explain(request, null, null);

    assertDeny(d, Reason.RATE_LIMITED, 429);
    assertThat(((Decision.Deny) d).detail())
        .isEqualTo("limit 'per-key' not checked: in-memory limiter full");
    assertThat(d.response().clientHeaders())
        .contains(
            new ResponseHeader("retry-after", "1"),
            new ResponseHeader("ratelimit-policy", "\"per-key\";q=200;w=2"),
            new ResponseHeader("ratelimit", "\"per-key\";r=0;t=1"));
    DecisionRecord audit = DecisionRecords.of(d, "test");
    assertThat(audit.getDegraded()).isEqualTo(InMemoryGcraLimiter.FULL_LABEL);
    assertThat(audit.getLimit()).isEqualTo("per-key");
    assertThat(e.outcome()).isEqualTo("deny");
    assertThat(e.step(Phase.LIMITS).notes())
        .anySatisfy(
            n ->
                assertThat(n)
                    .startsWith("limit 'per-key' (")
                    .endsWith(
                        "): not checked, in-memory limiter full (no room for a new bucket), retry"
                            + " after PT1S (ratelimit_memory:full)"));
    assertThat(full.refusedWhenFull()).as("the decision, not the explanation").isEqualTo(1);
  }

  @Test
  void quotaExhausted_is429QuotaExceededWithRetryAfterAndRateLimitHeaders() {
    // policy.md step 8: quota_exceeded is a 429 with Retry-After, like rate_limited; here the
    // calendar day ends in 50 minutes.
    limiter.set(
        (requests, consume) -> {
          LimitRequest r = requests.getFirst();
          LimitStatus s =
              new LimitStatus(r.limit(), 1000, 0, Duration.ofMinutes(50), Duration.ofDays(1));
          return new LimitOutcome(
              LimitOutcome.Refusal.EXHAUSTED,
              Reason.QUOTA_EXCEEDED,
              r.limit(),
              s,
              Duration.ofMinutes(50),
              null);
        });
    Decision d = pipeline.decide(partner("GET", "/v1/orders").build());
    assertDeny(d, Reason.QUOTA_EXCEEDED, 429);
    assertThat(d.response().clientHeaders())
        .contains(
            new ResponseHeader("retry-after", "3000"),
            new ResponseHeader("ratelimit-policy", "\"per-key\";q=1000;w=86400"),
            new ResponseHeader("ratelimit", "\"per-key\";r=0;t=3000"));
    assertThat(d.response().body()).contains("urn:portcullis:error:quota_exceeded");
  }

  /**
   * policy.md step 3: a revoked or expired API key and an inactive (introspected) token are 401
   * with WWW-Authenticate, never anonymous.
   */
  @ParameterizedTest(name = "{0}")
  @EnumSource(
      value = Reason.class,
      names = {"REVOKED_KEY", "EXPIRED_KEY", "INACTIVE_TOKEN"})
  void revokedOrExpiredKey_orInactiveToken_is401WithWwwAuthenticate(Reason reason) {
    CredentialChain chain =
        CredentialChain.builder()
            .introspection(token -> Verification.rejected(Reason.INACTIVE_TOKEN, "not active"))
            .apiKeys(
                key ->
                    Verification.rejected(
                        key.equals("pk_revoked") ? Reason.REVOKED_KEY : Reason.EXPIRED_KEY,
                        "refused"),
                List.of("x-api-key"))
            .build();
    DecisionPipeline p =
        DecisionPipeline.builder()
            .policy(
                () ->
                    TestPolicies.policy(
                        chain,
                        TestPolicies.segment("all")
                            .rule(TestPolicies.allow("status", "/v1/status"))
                            .build()))
            .clock(clock)
            .nanoTime(clock::nanoTime)
            .build();
    RequestAttributes.Builder request = get("/v1/status");
    switch (reason) {
      case REVOKED_KEY -> request.header("x-api-key", "pk_revoked");
      case EXPIRED_KEY -> request.header("x-api-key", "pk_expired");
      default -> request.header("authorization", "Bearer opaque-token");
    }

    Decision d = p.decide(request.build());

    assertDeny(d, reason, 401);
    assertThat(d.response().clientHeaders())
        .contains(new ResponseHeader("www-authenticate", "Bearer error=\"invalid_token\""));
  }

  @Test
  void limitKeyMissingAttribute_limitDoesNotApply() {
    List<List<LimitRequest>> seen = new ArrayList<>();
    limiter.set(
        (requests, consume) -> {
          seen.add(requests);
          return LimitOutcome.admitted(null);
        });
    // A JWT partner has no api_key attribute: per-key must not apply.
    Identity jwtPartner =
        Identity.builder(CredentialType.JWT, "p")
            .clientType("partner")
            .roles(Set.of("orders.read"))
            .build();
    pipeline.decide(get("/v1/orders").build(), options(jwtPartner));
    assertThat(seen).isEmpty();
    pipeline.decide(partner("GET", "/v1/orders").build());
    assertThat(seen).hasSize(1);
    assertThat(seen.getFirst().getFirst().bucket()).isEqualTo("key_1");
  }

  @Test
  void jwtAndApiKeyBothPresented_perKeyLimitStillCountsAndRefusesTheKey() {
    List<List<LimitRequest>> seen = new ArrayList<>();
    limiter.set(
        (requests, consume) -> {
          seen.add(requests);
          LimitRequest r = requests.getFirst();
          LimitStatus s =
              new LimitStatus(r.limit(), 200, 0, Duration.ofMillis(1500), Duration.ofSeconds(2));
          return new LimitOutcome(
              LimitOutcome.Refusal.EXHAUSTED,
              Reason.RATE_LIMITED,
              r.limit(),
              s,
              Duration.ofMillis(1500),
              null);
        });
    // A caller over its per-key limit adds a valid JWT to its keyed request: still the key's
    // bucket.
    Decision d =
        pipeline.decide(
            partner("GET", "/v1/orders").header("authorization", "Bearer partner-jwt").build());

    assertDeny(d, Reason.RATE_LIMITED, 429);
    assertThat(seen).hasSize(1);
    assertThat(seen.getFirst()).hasSize(1);
    assertThat(seen.getFirst().getFirst().limit().name()).isEqualTo("per-key");
    assertThat(seen.getFirst().getFirst().bucket()).isEqualTo("key_1");
    // the principal and credential type stay the JWT's (spec: jwt before api_key)
    assertThat(d.context().identity().credential()).isEqualTo(CredentialType.JWT);
    assertThat(d.context().identity().principal()).isEqualTo("partner-user");
    assertThat(d.context().identity().apiKeyId()).isEqualTo("key_1");
  }

  @Test
  void jwtAndApiKeyAllowed_upstreamSeesTheJwtPrincipal() {
    Decision d =
        pipeline.decide(
            partner("GET", "/v1/orders").header("authorization", "Bearer partner-jwt").build());

    assertThat(d).isInstanceOf(Decision.Allow.class);
    assertThat(d.context().segment()).isEqualTo("partners");
    assertThat(d.response().upstreamHeaders())
        .contains(
            new ResponseHeader("x-portcullis-principal", "partner-user"),
            new ResponseHeader("x-portcullis-credential", "jwt"));
  }

  @Test
  void allow_setsIdentityHeaders_removesSpoofedPortcullisHeadersAndCredentials() {
    Decision d =
        pipeline.decide(
            partner("GET", "/v1/orders")
                .header("x-portcullis-segment", "internal")
                .header("x-portcullis-admin", "true")
                .build());
    ResponsePlan p = d.response();
    assertThat(p.upstreamHeaders())
        .contains(
            new ResponseHeader("x-portcullis-principal", "key_1"),
            new ResponseHeader("x-portcullis-segment", "partners"),
            new ResponseHeader("x-portcullis-client", "acme"),
            new ResponseHeader("x-portcullis-credential", "api_key"));
    assertThat(p.upstreamHeadersToRemove())
        .contains("x-portcullis-admin", "x-api-key")
        .doesNotContain("x-portcullis-segment");
  }

  @Test
  void basicAuthorization_isNotStripped_bearerIs() {
    Decision basic =
        pipeline.decide(get("/v1/status").header("authorization", "Basic dXNlcjpwYXNz").build());
    assertThat(basic.response().upstreamHeadersToRemove()).doesNotContain("authorization");
    Decision bearer =
        pipeline.decide(get("/v1/me").header("authorization", "Bearer alice").build());
    assertThat(bearer.response().upstreamHeadersToRemove()).contains("authorization");
  }

  @Test
  void decisionId_comesFromPlausibleRequestId_elseTimeOrderedUuid() {
    Decision withId = pipeline.decide(get("/v1/status").requestId("req-123").build());
    assertThat(withId.context().decisionId()).isEqualTo("req-123");
    assertThat(withId.response().clientHeaders())
        .contains(new ResponseHeader("x-portcullis-decision-id", "req-123"));

    Decision injected = pipeline.decide(get("/v1/status").requestId("bad\r\nx-evil: 1").build());
    assertThat(injected.context().decisionId()).matches("[0-9a-f-]{36}");
    assertThat(java.util.UUID.fromString(injected.context().decisionId()).version()).isEqualTo(7);
  }

  @Test
  void denyBody_isProblemJsonWithoutSecrets() {
    Decision d =
        pipeline.decide(
            get("/v1/status?token=s3cret").header("authorization", "Bearer s3cret-token").build());
    assertThat(d.response().body())
        .startsWith("{\"type\":\"urn:portcullis:error:invalid_token\"")
        .contains("\"status\":401", "\"decision_id\":")
        .doesNotContain("s3cret");
    assertThat(d.response().clientHeaders())
        .contains(new ResponseHeader("content-type", "application/problem+json"));
  }

  @Test
  void everyDecisionIsAuditedAndCounted_exceptExplain() {
    pipeline.decide(get("/v1/status").build());
    pipeline.decide(get("/v1/status").method("BREW").build());
    pipeline.decide(get("/v1/status").build(), DecideOptions.explain(Trace.recording(), null));
    assertThat(audited).hasSize(2);
    assertThat(
            registry
                .get(MetricNames.DECISIONS)
                .tags("segment", "public", "decision", "allow", "reason", "none")
                .counter()
                .count())
        .isEqualTo(1.0);
    assertThat(
            registry
                .get(MetricNames.DECISIONS)
                .tags("segment", "none", "decision", "deny", "reason", "malformed_request")
                .counter()
                .count())
        .isEqualTo(1.0);
  }

  @Test
  void explainTrace_namesEachSegmentConsideredAndWhy() {
    Trace.Recording trace = Trace.recording();
    pipeline.decide(get("/v1/status").build(), DecideOptions.explain(trace, null));
    assertThat(trace.notes())
        .extracting(Trace.Note::message)
        .anySatisfy(m -> assertThat(m).startsWith("internal: credential is anonymous"))
        .anySatisfy(m -> assertThat(m).isEqualTo("public: matches"))
        .anySatisfy(m -> assertThat(m).isEqualTo("allow"));
  }

  @Test
  void decideBy_givesTheCallersDeadlineToTheLimiterAndToProtection_decideDoesNot() {
    List<String> calls = new ArrayList<>();
    RateLimiter limits =
        new RateLimiter() {
          @Override
          public LimitOutcome acquire(List<LimitRequest> requests, boolean consume) {
            calls.add("limits");
            return LimitOutcome.admitted(null);
          }

          @Override
          public LimitOutcome acquire(
              List<LimitRequest> requests, boolean consume, long answerByNanos) {
            calls.add("limits by " + answerByNanos);
            return LimitOutcome.admitted(null);
          }
        };
    SourceProtection protection =
        new SourceProtection() {
          @Override
          public @Nullable Instant blockedUntil(String key) {
            return null;
          }

          @Override
          public void recordFailure(String key, int threshold, Duration window, Duration blockFor) {
            calls.add("failure");
          }

          @Override
          public void recordFailure(
              String key, int threshold, Duration window, Duration blockFor, long answerByNanos) {
            calls.add("failure by " + answerByNanos);
          }

          @Override
          public List<BlockedSource> blocked() {
            return List.of();
          }

          @Override
          public boolean unblock(String key) {
            return false;
          }
        };
    DecisionPipeline p =
        DecisionPipeline.builder()
            .policy(
                () ->
                    TestPolicies.policy(
                        SamplePolicy.IDENTITY,
                        new FailedAuthRule("ip", 5, Duration.ofMinutes(1), Duration.ofMinutes(1)),
                        ResponseOptions.DEFAULT,
                        SamplePolicy.POLICY.segments().toArray(Segment[]::new)))
            .limiter(limits)
            .protection(protection)
            .clock(clock)
            .nanoTime(clock::nanoTime)
            .build();
    RequestAttributes limited = partner("GET", "/v1/orders").build();
    RequestAttributes badKey = get("/v1/orders").header("x-api-key", "pk_wrong").build();

    assertThat(p.decideBy(limited, 42L)).isInstanceOf(Decision.Allow.class);
    assertDeny(p.decideBy(badKey, 43L), Reason.UNKNOWN_KEY, 401);
    p.decide(limited);
    p.decide(badKey);

    assertThat(calls).containsExactly("limits by 42", "failure by 43", "limits", "failure");
  }

  private static DecideOptions options(Identity identity) {
    return new DecideOptions(Trace.none(), identity, null, true, true);
  }

  private static void assertDeny(Decision d, Reason reason, int status) {
    assertThat(d)
        .isInstanceOfSatisfying(Decision.Deny.class, x -> assertThat(x.reason()).isEqualTo(reason));
    assertThat(d.response().status()).isEqualTo(status);
  }
}
