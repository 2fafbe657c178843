package io.portcullis.server.http;

import static io.portcullis.testing.TestPolicies.allow;
import static io.portcullis.testing.TestPolicies.segment;
import static org.assertj.core.api.Assertions.assertThat;

import io.portcullis.decision.DecisionPipeline;
import io.portcullis.identity.CredentialChain;
import io.portcullis.identity.CredentialType;
import io.portcullis.identity.Identity;
import io.portcullis.identity.Verification;
import io.portcullis.limit.FailedAuthRule;
import io.portcullis.limit.InMemoryGcraLimiter;
import io.portcullis.limit.InMemorySourceProtection;
import io.portcullis.limit.LimitDefinition;
import io.portcullis.limit.LimitKey;
import io.portcullis.limit.LimitKind;
import io.portcullis.limit.QuotaWindow;
import io.portcullis.policy.Policy;
import io.portcullis.request.Headers;
import io.portcullis.request.RequestAttributes;
import io.portcullis.testing.FakeClock;
import io.portcullis.testing.TestPolicies;
import java.time.ZoneOffset;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import tools.jackson.databind.JsonNode;
import tools.jackson.databind.json.JsonMapper;

/**
 * {@code GET /admin/usage} reads the bucket the decision pipeline counts under, whatever the key
 * values contain.
 */
class LimitAdminRoutesTest {
  private static final JsonMapper JSON = JsonMapper.builder().build();

  private final FakeClock clock = FakeClock.at("2026-11-22T10:00:00Z");
  private final InMemoryGcraLimiter limiter = InMemoryGcraLimiter.builder().clock(clock).build();

  private final LimitDefinition perClient =
      new LimitDefinition(
          "per-client",
          "segment/partners",
          List.of(LimitKey.Attribute.CLIENT),
          new LimitKind.Quota(100, QuotaWindow.DAY, ZoneOffset.UTC));
  private final LimitDefinition perRegion =
      new LimitDefinition(
          "per-region",
          "segment/partners",
          List.of(LimitKey.Attribute.CLIENT, LimitKey.parse("header:x-region")),
          new LimitKind.Quota(100, QuotaWindow.DAY, ZoneOffset.UTC));

  private final LimitDefinition perIp =
      new LimitDefinition(
          "per-ip",
          "segment/partners",
          List.of(LimitKey.Attribute.IP),
          new LimitKind.Quota(100, QuotaWindow.DAY, ZoneOffset.UTC));

  /** The bearer token is the caller's client name. */
  private final Policy policy =
      TestPolicies.policy(
          CredentialChain.builder()
              .bearer(
                  token ->
                      Verification.verified(
                          Identity.builder(CredentialType.JWT, "svc-" + token)
                              .client(token)
                              .build()))
              .build(),
          segment("partners")
              .limit(perClient)
              .limit(perRegion)
              .limit(perIp)
              .rule(allow("read", "/v1/orders"))
              .build());

  private final DecisionPipeline pipeline =
      DecisionPipeline.builder()
          .policy(() -> policy)
          .limiter(limiter::acquire)
          .clock(clock)
          .nanoTime(clock::nanoTime)
          .build();

  private final InMemorySourceProtection protection =
      InMemorySourceProtection.builder().clock(clock).build();
  private final LimitAdminRoutes routes = new LimitAdminRoutes(() -> policy, limiter, protection);

  private void call(String client, String region) {
    call(client, region, "203.0.113.7");
  }

  private void call(String client, String region, String sourceIp) {
    pipeline.decide(
        RequestAttributes.builder()
            .method("GET")
            .path("/v1/orders")
            .sourceIp(sourceIp)
            .header("authorization", "Bearer " + client)
            .header("x-region", region)
            .build());
  }

  private AdminResponse usage(String limit, String... keys) {
    return routes.usage(
        new AdminRequest(
            "GET",
            "/admin/usage",
            Map.of("limit", List.of(limit), "key", List.of(keys)),
            Map.of(),
            Headers.empty(),
            new byte[0]));
  }

  private long used(String limit, String... keys) {
    AdminResponse r = usage(limit, keys);
    assertThat(r.status()).as(r.bodyText()).isEqualTo(200);
    JsonNode json = JSON.readTree(r.bodyText());
    return json.get("used").asLong();
  }

  @Test
  void keyValuesWithPercentOrComma_readTheBucketThePipelineCounts() {
    call("50%off", "eu");
    call("50%off", "eu");
    call("a,b", "eu");

    assertThat(used("partners/per-client", "50%off")).isEqualTo(2);
    assertThat(used("partners/per-client", "a,b")).as("one client named a,b").isEqualTo(1);
    assertThat(used("partners/per-client", "a")).isZero();
  }

  @Test
  void deleteBlock_ofAnIpv6Slash64_orAHeaderValueWithPlusAndSlash_unblocksIt() {
    AdminRouter router = routes.register(new AdminRouter());
    for (String key : List.of("ip:2001:db8:1:2::/64", "header:x-client-id:a+b/c")) {
      protection.recordFailure(
          key, 1, java.time.Duration.ofMinutes(1), java.time.Duration.ofHours(1));
      assertThat(protection.blockedUntil(key)).as(key).isNotNull();

      AdminResponse r =
          router.dispatch(
              new AdminRequest(
                  "DELETE",
                  "/admin/blocks/" + key,
                  Map.of(),
                  Map.of(),
                  Headers.empty(),
                  new byte[0]));

      assertThat(r.status()).as(key + ": " + r.bodyText()).isEqualTo(204);
      assertThat(protection.blockedUntil(key)).as(key).isNull();
    }
    AdminResponse unknown =
        router.dispatch(
            new AdminRequest(
                "DELETE",
                "/admin/blocks/ip:203.0.113.9",
                Map.of(),
                Map.of(),
                Headers.empty(),
                new byte[0]));
    assertThat(unknown.status()).isEqualTo(404);
  }

  @Test
  void anIpKey_readsTheBucketThePipelineCounts_anIpv6AddressItsSlash64() {
    // IPv6 sources are counted per /64 (SourceKeys): any address of the /64 reads that bucket.
    call("acme", "eu", "2001:db8:1:2::7");
    call("acme", "eu", "2001:db8:1:2:ffff::1");

    for (String key :
        List.of(
            "2001:db8:1:2::7",
            "2001:db8:1:2::1",
            "2001:DB8:1:2:0:0:0:7",
            "[2001:db8:1:2::7]",
            "2001:db8:1:2::/64",
            "2001:0db8:0001:0002::/64")) {
      assertThat(used("partners/per-ip", key)).as(key).isEqualTo(2);
    }
    assertThat(used("partners/per-ip", "2001:db8:1:3::7")).as("another /64").isZero();

    // An IPv4-mapped address is counted as the IPv4 address, whichever way it is written.
    call("acme", "eu", "203.0.113.8");
    assertThat(used("partners/per-ip", "::ffff:203.0.113.8")).isEqualTo(1);
    call("acme", "eu", "::ffff:203.0.113.9");
    assertThat(used("partners/per-ip", "203.0.113.9")).isEqualTo(1);
  }

  /**
   * An ip part's value that is no address used to be taken as given: it read an empty bucket and
   * answered "100 left" for a source that is never counted under that key.
   */
  @Test
  void anIpKeyThatNamesNoSource_is400NamingIt_notAnUnusedBucket() throws Exception {
    call("acme", "eu", "203.0.113.7");

    for (String bad : List.of("acme", "203.0.113.7:443", "2001:db8:1:2::7/48", "10.0.0.0/8", "")) {
      AdminResponse r = usage("partners/per-ip", bad);

      assertThat(r.status()).as(bad + ": " + r.bodyText()).isEqualTo(400);
      assertThat(r.contentType()).isEqualTo(AdminResponse.PROBLEM_JSON);
      JsonNode problem = JSON.readTree(r.bodyText());
      assertThat(problem.get("type").asString()).isEqualTo("urn:portcullis:error:bad_request");
      assertThat(problem.get("detail").asString())
          .as(bad)
          .startsWith("key '" + bad + "' is not a source")
          .contains("IPv4 or IPv6 address");
    }
    assertThat(usage("partners/per-ip", "x\n\u0000" + "y".repeat(100)).bodyText())
        .as("a value is quoted short and printable")
        .contains("key 'x??" + "y".repeat(37) + "...'");
    assertThat(used("partners/per-ip", "unknown"))
        .as("the bucket of requests without a source is a source key")
        .isZero();
    assertThat(used("partners/per-ip", "203.0.113.7")).isEqualTo(1);
  }

  @Test
  void deleteBlock_ofAnIpKeyThatNamesNoSource_orOfNoKindOfBlock_is400NamingIt() throws Exception {
    AdminRouter router = routes.register(new AdminRouter());
    protection.recordFailure(
        "ip:203.0.113.9", 1, java.time.Duration.ofMinutes(1), java.time.Duration.ofHours(1));

    for (String bad : List.of("ip:acme", "ip:203.0.113.9/32", "203.0.113.9", "client:acme")) {
      AdminResponse r = deleteBlock(router, bad);

      assertThat(r.status()).as(bad + ": " + r.bodyText()).isEqualTo(400);
      assertThat(r.contentType()).isEqualTo(AdminResponse.PROBLEM_JSON);
      assertThat(JSON.readTree(r.bodyText()).get("detail").asString())
          .as(bad)
          .startsWith("key '" + bad + "' is not a block key");
    }
    assertThat(protection.blockedUntil("ip:203.0.113.9")).as("still blocked").isNotNull();
    assertThat(deleteBlock(router, "ip:unknown").status())
        .as("the key of sources that are unknown, not blocked")
        .isEqualTo(404);
    assertThat(deleteBlock(router, "ip:203.0.113.9").status()).isEqualTo(204);
  }

  private static AdminResponse deleteBlock(AdminRouter router, String key) {
    return router.dispatch(
        new AdminRequest(
            "DELETE", "/admin/blocks/" + key, Map.of(), Map.of(), Headers.empty(), new byte[0]));
  }

  @Test
  void deleteBlock_ofAnIpv6Address_liftsTheBlockOfItsSlash64() {
    FailedAuthRule rule =
        new FailedAuthRule("ip", 1, java.time.Duration.ofMinutes(1), java.time.Duration.ofHours(1));
    AdminRouter router = routes.register(new AdminRouter());
    for (String given : List.of("ip:2001:db8:1:2::1", "ip:::ffff:203.0.113.8")) {
      String source = given.startsWith("ip:2001") ? "2001:db8:1:2::7" : "203.0.113.8";
      String blocked = rule.keyOf(RequestAttributes.builder().sourceIp(source).build());
      protection.recordFailure(blocked, 1, rule.window(), rule.blockFor());
      assertThat(protection.blockedUntil(blocked)).as(blocked).isNotNull();

      AdminResponse r =
          router.dispatch(
              new AdminRequest(
                  "DELETE",
                  "/admin/blocks/" + given,
                  Map.of(),
                  Map.of(),
                  Headers.empty(),
                  new byte[0]));

      assertThat(r.status()).as(given + ": " + r.bodyText()).isEqualTo(204);
      assertThat(protection.blockedUntil(blocked)).as(blocked).isNull();
    }
  }

  @Test
  void aLongHeaderValue_readsTheBucketThePipelineCountsUnderItsDigest() {
    String region = "r".repeat(LimitKey.Header.MAX_PLAIN_VALUE + 1);
    call("acme", region);

    assertThat(used("partners/per-region", "acme", region)).isEqualTo(1);
    assertThat(used("partners/per-region", "acme", LimitKey.Header.digest(region)))
        .as("or given as the digest the admin API lists")
        .isEqualTo(1);
  }

  @Test
  void severalKeyParts_asRepeatedParameters_orJoinedWithCommas() {
    call("acme", "eu");
    call("a,b", "us%1");

    assertThat(used("partners/per-region", "acme,eu")).isEqualTo(1);
    assertThat(used("partners/per-region", "acme", "eu")).isEqualTo(1);
    assertThat(used("partners/per-region", "a,b", "us%1")).isEqualTo(1);
    assertThat(usage("partners/per-region", "acme").status())
        .as("one value for a two-part key")
        .isEqualTo(400);
  }

  @Test
  void unknownLimit_is404_listingThePolicysLimitNames() {
    AdminResponse r = usage("nope", "acme");

    assertThat(r.status()).isEqualTo(404);
    assertThat(JSON.readTree(r.bodyText()).get("detail").asString())
        .isEqualTo(
            "no limit of that name; the policy's limits: partners/per-client,"
                + " partners/per-region, partners/per-ip");
  }

  @Test
  void unknownLimit_listsAtMostTwentyNames() {
    TestPolicies.SegmentBuilder many = segment("bulk");
    for (int i = 1; i <= 25; i++) {
      many.limit(
          new LimitDefinition(
              "l" + i,
              "segment/bulk",
              List.of(LimitKey.Attribute.CLIENT),
              new LimitKind.Quota(100, QuotaWindow.DAY, ZoneOffset.UTC)));
    }
    Policy big = TestPolicies.policy(CredentialChain.builder().build(), many.build());
    LimitAdminRoutes bigRoutes = new LimitAdminRoutes(() -> big, limiter, protection);

    AdminResponse r =
        bigRoutes.usage(
            new AdminRequest(
                "GET",
                "/admin/usage",
                Map.of("limit", List.of("nope"), "key", List.of("acme")),
                Map.of(),
                Headers.empty(),
                new byte[0]));

    String detail = JSON.readTree(r.bodyText()).get("detail").asString();
    assertThat(r.status()).isEqualTo(404);
    assertThat(detail).contains("bulk/l1, bulk/l2,").contains("bulk/l20 and 5 more");
    assertThat(detail).doesNotContain("bulk/l21");
  }
}
