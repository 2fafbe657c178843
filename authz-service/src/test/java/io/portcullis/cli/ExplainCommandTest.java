package io.portcullis.cli;

import static org.assertj.core.api.Assertions.assertThat;

import io.portcullis.testing.FakeClock;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import tools.jackson.databind.JsonNode;
import tools.jackson.databind.json.JsonMapper;

class ExplainCommandTest {
  private static final String POLICY = Path.of("..", "examples", "policy.yaml").toString();
  private static final String PARTNER =
      "{\"credential\":\"api_key\",\"principal\":\"key_1\",\"client\":\"acme\","
          + "\"client_type\":\"partner\",\"roles\":[\"orders.read\"]}";

  private static ExplainCommand command() {
    return new ExplainCommand(FakeClock.at("2026-11-22T10:00:00Z"), name -> null);
  }

  @Test
  void allowedRequest_printsEveryStep_exit0() {
    CommandRun run =
        CommandRun.of(
            command(),
            "--policy",
            POLICY,
            "--method",
            "GET",
            "--path",
            "/v1/orders/42",
            "-H",
            "x-api-key: pk_do_not_print",
            "--tls",
            "--source-ip",
            "203.0.113.7",
            "--country",
            "FR",
            "--identity-json",
            PARTNER);

    assertThat(run.exit()).isEqualTo(ExplainCommand.ALLOWED).isZero();
    assertThat(run.outLines())
        .startsWith("allow 200")
        .containsSequence(
            "step 1 normalize",
            "  GET /v1/orders/42",
            "step 2 protect",
            "  ip:203.0.113.7 is not blocked",
            "step 3 identify")
        .contains(
            "step 4 segment",
            "  internal-services: credential is api_key, not one of [mtls]",
            "  partners: matches",
            "  geo.deny [IR, KP]: country FR is not in it: passes",
            "  rule 'read-orders' (allow): applies (GET /v1/orders/42 matches /v1/orders/*);"
                + " conditions hold",
            "  rule 'read-orders' has no body_schema: body not checked",
            "step 9 allow");
    assertThat(run.outLines().get(1))
        .matches("segment partners, rule read-orders, policy sha256:[0-9a-f]{16}");
    assertThat(run.out()).doesNotContain("pk_do_not_print");
  }

  @Test
  void deniedRequest_exit1_andJsonIsTheAdminShape() {
    CommandRun run =
        CommandRun.of(
            command(),
            "--policy",
            POLICY,
            "--path",
            "/v1/admin/users",
            "--tls",
            "--source-ip",
            "203.0.113.7",
            "--identity-json",
            PARTNER,
            "--json");

    assertThat(run.exit()).isEqualTo(ExplainCommand.DENIED).isEqualTo(1);
    JsonNode e = JsonMapper.builder().build().readTree(run.out());
    assertThat(e.get("decision").asString()).isEqualTo("deny");
    assertThat(e.get("reason").asString()).isEqualTo("denied_by_rule");
    assertThat(e.get("rule").asString()).isEqualTo("no-admin");
    assertThat(e.get("steps").get(5).get("notes").valueStream().map(JsonNode::asString))
        .contains(
            "rule 'no-admin' (deny): applies (GET /v1/admin/users matches /v1/admin/**): denies");
  }

  @Test
  void withoutIdentity_theApiKeyIsRejectedOffline() {
    CommandRun run =
        CommandRun.of(
            command(), "--policy", POLICY, "--path", "/v1/orders", "-H", "x-api-key: pk_1");
    assertThat(run.exit()).isEqualTo(1);
    assertThat(run.outLines().getFirst())
        .isEqualTo("deny 401 unknown_key: offline: keys are not verified");
  }

  @Test
  void invalidIdentityJson_exit101WithItsPosition() {
    CommandRun run =
        CommandRun.of(
            command(),
            "--policy",
            POLICY,
            "--path",
            "/v1/orders",
            "--identity-json",
            "{\"credential\": \"jwt\", \"principl\": \"alice\"}");
    assertThat(run.exit()).isEqualTo(ExplainCommand.INVALID_INPUT);
    assertThat(run.out()).isEmpty();
    assertThat(run.err())
        .contains(
            "--identity-json:1:23: principl: unknown key 'principl'; did you mean 'principal'?")
        .contains("--identity-json:1:1: principal: is required for a jwt caller");
  }

  @Test
  void badHeaderOrCountry_exit102WithoutEchoingTheValue() {
    CommandRun header =
        CommandRun.of(command(), "--policy", POLICY, "--path", "/", "-H", "secretvalue");
    assertThat(header.exit()).isEqualTo(ExplainCommand.USAGE_ERROR);
    assertThat(header.err()).contains("-H expects 'NAME: VALUE'").doesNotContain("secretvalue");

    CommandRun country =
        CommandRun.of(command(), "--policy", POLICY, "--path", "/", "--country", "fr");
    assertThat(country.exit()).isEqualTo(102);
    assertThat(country.err()).contains("did you mean 'FR'?");
  }
}
