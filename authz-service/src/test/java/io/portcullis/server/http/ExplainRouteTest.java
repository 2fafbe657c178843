package io.portcullis.server.http;

import static org.assertj.core.api.Assertions.assertThat;

import io.portcullis.decision.DecisionPipeline;
import io.portcullis.decision.ExplainService;
import io.portcullis.identity.IdentityServices;
import io.portcullis.limit.LimitOutcome;
import io.portcullis.limit.LimitStatus;
import io.portcullis.limit.RateLimiter;
import io.portcullis.policy.LoadResult;
import io.portcullis.policy.Policy;
import io.portcullis.policy.PolicyLoader;
import io.portcullis.testing.AdminRequests;
import io.portcullis.testing.FakeClock;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import org.junit.jupiter.api.Test;
import tools.jackson.databind.JsonNode;
import tools.jackson.databind.json.JsonMapper;

/** {@code POST /admin/explain} against the example policy, with a limiter that only reports. */
class ExplainRouteTest {
  private static final JsonMapper JSON = JsonMapper.builder().build();
  private static final String PARTNER =
      """
      {"credential": "api_key", "principal": "key_1", "client": "acme",
       "client_type": "partner", "scopes": ["orders:write"]}""";

  private final FakeClock clock = FakeClock.at("2026-11-22T10:00:00Z");
  private final Policy policy =
      ((LoadResult.Loaded)
              PolicyLoader.create(IdentityServices.offline(), clock, n -> null)
                  .load(Path.of("..", "examples", "policy.yaml")))
          .policy();
  private final List<Boolean> consumed = new CopyOnWriteArrayList<>();
  private final RateLimiter limiter =
      (requests, consume) -> {
        consumed.add(consume);
        return LimitOutcome.admitted(
            new LimitStatus(
                requests.getFirst().limit(),
                200,
                199,
                Duration.ofMillis(5),
                Duration.ofSeconds(2)));
      };
  private final ExplainRoute route =
      new ExplainRoute(
          new ExplainService(
              DecisionPipeline.builder()
                  .policy(() -> policy)
                  .limiter(limiter)
                  .audit(
                      d -> {
                        throw new AssertionError("explain must not audit");
                      })
                  .clock(clock)
                  .build()));

  private JsonNode explain(String body) {
    AdminResponse r = route.handle(AdminRequests.post("/admin/explain", body));
    assertThat(r.status()).as(r.bodyText()).isEqualTo(200);
    assertThat(r.contentType()).isEqualTo(AdminResponse.JSON);
    return JSON.readTree(r.bodyText());
  }

  private static List<String> notes(JsonNode explanation, int step) {
    JsonNode s = explanation.get("steps").get(step - 1);
    assertThat(s.get("step").asInt()).isEqualTo(step);
    return s.get("notes").valueStream().map(JsonNode::asString).toList();
  }

  @Test
  void deny_tracesEverySegmentEveryRuleAndStopsAtTheDecidingStep() {
    JsonNode e =
        explain(
            """
            {"request": {"method": "GET", "path": "/v1/orders/42?expand=items", "tls": true,
                         "source_ip": "203.0.113.7", "headers": {"x-api-key": "pk_secret_value"}},
             "identity": %s}"""
                .formatted(PARTNER));

    assertThat(e.get("decision").asString()).isEqualTo("deny");
    assertThat(e.get("status").asInt()).isEqualTo(403);
    assertThat(e.get("reason").asString()).isEqualTo("insufficient_permissions");
    assertThat(e.get("segment").asString()).isEqualTo("partners");
    assertThat(e.get("rule").asString()).isEqualTo("read-orders");
    assertThat(e.get("dry_run_reason").isNull()).isTrue();
    assertThat(e.get("policy_version").asString()).isEqualTo(policy.version());
    assertThat(e.get("steps").size()).isEqualTo(9);
    assertThat(e.get("steps").get(3).get("phase").asString()).isEqualTo("segment");

    assertThat(notes(e, 1)).containsExactly("GET /v1/orders/42");
    assertThat(notes(e, 2)).containsExactly("ip:203.0.113.7 is not blocked");
    assertThat(notes(e, 3))
        .singleElement()
        .asString()
        .startsWith("identity given, not verified: api_key principal key_1, client acme")
        .contains("scopes [orders:write]");
    assertThat(notes(e, 4))
        .containsExactly(
            "internal-services: credential is api_key, not one of [mtls]", "partners: matches");
    assertThat(notes(e, 5))
        .containsExactly(
            "require_tls: the request is https: passes",
            "network.deny [198.51.100.0/24]: source 203.0.113.7 is not in it: passes",
            "geo.deny [IR, KP]: country unknown is not in it: passes");
    assertThat(notes(e, 6))
        .containsExactly(
            "rule 'read-orders' (allow): applies (GET /v1/orders/42 matches /v1/orders/*);"
                + " conditions unmet: requires roles_any [orders.read]",
            "rule 'create-order' (allow): does not apply: method GET is not one of [POST]",
            "rule 'no-admin' (deny): does not apply: path /v1/orders/42 matches none of"
                + " [/v1/admin/**]",
            "deny insufficient_permissions (rule 'read-orders' requires roles_any [orders.read])");
    for (int step = 7; step <= 9; step++) {
      assertThat(notes(e, step)).containsExactly("not reached: step 6 decided");
    }
    assertThat(e.toString()).doesNotContain("pk_secret_value");
  }

  @Test
  void allow_tracesBodyAndEveryLimitsStateWithoutConsuming() {
    JsonNode e =
        explain(
            """
            {"request": {"method": "POST", "path": "/v1/orders", "tls": true, "country": "DE",
                         "source_ip": "203.0.113.7",
                         "headers": {"content-type": "application/json"},
                         "body": "{\\"sku\\": \\"ABC-1\\", \\"quantity\\": 2}"},
             "identity": %s}"""
                .formatted(PARTNER));

    assertThat(e.get("decision").asString()).isEqualTo("allow");
    assertThat(e.get("status").asInt()).isEqualTo(200);
    assertThat(e.get("reason").isNull()).isTrue();
    assertThat(e.get("rule").asString()).isEqualTo("create-order");
    assertThat(notes(e, 3)).singleElement().asString().endsWith("; country DE");
    assertThat(notes(e, 5)).contains("geo.deny [IR, KP]: country DE is not in it: passes");
    assertThat(notes(e, 6)).last().isEqualTo("rule 'create-order' allows");
    assertThat(notes(e, 7)).containsExactly("body matches schemas/order.json");
    assertThat(notes(e, 8))
        .containsExactly(
            "limit 'per-key' (segment/partners, key [api_key]): has room; 199 of 200 left, full"
                + " again in PT0.005S",
            "limit 'daily' (segment/partners, key [client]): has room; 199 of 200 left, full again"
                + " in PT0.005S",
            "limit 'writes' (segment/partners/rule/create-order, key [client]): has room; 199 of"
                + " 200 left, full again in PT0.005S");
    assertThat(notes(e, 9)).containsExactly("allow");
    assertThat(consumed).isNotEmpty().containsOnly(false);
  }

  @Test
  void withoutIdentity_credentialsAreVerified_andAnonymousCallersAreTraced() {
    JsonNode e = explain("{\"request\": {\"path\": \"/v1/status\", \"source_ip\": \"192.0.2.1\"}}");
    assertThat(e.get("decision").asString()).isEqualTo("allow");
    assertThat(e.get("segment").asString()).isEqualTo("public");
    assertThat(notes(e, 3)).containsExactly("no credential presented: anonymous; country unknown");
    assertThat(notes(e, 4))
        .containsExactly(
            "internal-services: credential is anonymous, not one of [mtls]",
            "partners: credential is anonymous, not one of [jwt, api_key]",
            "staging-testers: context environment is not 'staging'",
            "public: matches");
    assertThat(notes(e, 6))
        .contains(
            "rule 'status' (allow): applies (GET /v1/status matches /v1/status); no conditions");
    assertThat(notes(e, 8))
        .containsExactly(
            "limit 'per-ip' (segment/public, key [ip]): has room; 199 of 200 left, full again in"
                + " PT0.005S");

    JsonNode rejected =
        explain("{\"request\": {\"path\": \"/v1/status\", \"headers\": {\"x-api-key\": \"k\"}}}");
    assertThat(rejected.get("reason").asString()).isEqualTo("unknown_key");
    assertThat(rejected.get("status").asInt()).isEqualTo(401);
    assertThat(notes(rejected, 3)).singleElement().asString().startsWith("deny unknown_key");
    assertThat(notes(rejected, 4)).containsExactly("not reached: step 3 decided");
  }

  @Test
  void badRequestBody_400WithEveryProblemAndItsPosition() {
    AdminResponse r =
        route.handle(
            AdminRequests.post(
                "/admin/explain",
                """
                {"request": {"methd": "GET", "path": "/x", "tls": "yes"},
                 "identity": {"credential": "apikey", "principal": "p"}}"""));

    assertThat(r.status()).isEqualTo(400);
    assertThat(r.contentType()).isEqualTo(AdminResponse.PROBLEM_JSON);
    JsonNode body = JSON.readTree(r.bodyText());
    assertThat(body.get("type").asString())
        .isEqualTo("urn:portcullis:error:invalid_explain_request");
    assertThat(
            body.get("errors")
                .valueStream()
                .map(
                    x ->
                        x.get("line").asInt()
                            + ":"
                            + x.get("column").asInt()
                            + " "
                            + x.get("field").asString())
                .toList())
        .containsExactly("1:14 request.methd", "1:51 request.tls", "2:29 identity.credential");
    assertThat(body.get("errors").get(2).get("message").asString())
        .contains("did you mean 'api_key'?");

    AdminResponse empty = route.handle(AdminRequests.post("/admin/explain", ""));
    assertThat(empty.status()).isEqualTo(400);
    AdminResponse noRequest = route.handle(AdminRequests.post("/admin/explain", "{}"));
    assertThat(noRequest.status()).isEqualTo(400);
    assertThat(noRequest.bodyText()).contains("request").contains("is required");
  }
}
