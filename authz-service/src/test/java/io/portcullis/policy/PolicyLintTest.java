package io.portcullis.policy;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assertions.assertTimeoutPreemptively;

import io.portcullis.identity.IdentityServices;
import java.io.IOException;
import java.net.URISyntaxException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.time.InstantSource;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Lint warnings: one policy file per warning (src/test/resources/policies/lint*), each loading with
 * exactly that warning at the exact line, column and field; and the conservative side: near misses
 * that must not warn.
 */
class PolicyLintTest {
  @TempDir Path dir;

  static Path resource(String name) {
    try {
      return Path.of(PolicyLintTest.class.getResource("/policies/" + name).toURI());
    } catch (URISyntaxException | NullPointerException e) {
      throw new AssertionError("test resource policies/" + name + " is missing", e);
    }
  }

  static List<PolicyError> warningsOf(Path file) {
    LoadResult r =
        PolicyLoader.create(
                IdentityServices.offline(), InstantSource.fixed(Instant.EPOCH), name -> null)
            .load(file);
    assertThat(r).as("%s", r).isInstanceOf(LoadResult.Loaded.class);
    return ((LoadResult.Loaded) r).warnings();
  }

  static Stream<Arguments> warnings() {
    return Stream.of(
        // file, line, column, field, message fragment
        Arguments.of(
            "lint/anonymous_everything.yaml",
            8,
            31,
            "segments[0].rules[0].paths[1]",
            "rule 'anything' allows every path to anonymous callers: segment 'public' admits"
                + " requests without credentials"),
        Arguments.of(
            "lint/anonymous_unlimited.yaml",
            7,
            9,
            "segments[0].rules[1]",
            "rule 'health' admits anonymous callers without any limit: segment 'public' admits"
                + " requests without credentials, and neither the rule nor the segment has a limit"
                + " keyed by ip, segment or route"),
        Arguments.of(
            "lint/overlapping_rules.yaml",
            10,
            9,
            "segments[0].rules[1]",
            "rule 'create-order' overlaps rule 'write-anything' (line 6) for POST /v1/orders: a"
                + " caller both rules admit is decided by 'write-anything', which comes first, so"
                + " 'create-order''s limits do not apply to it"),
        Arguments.of(
            "lint_unused_schema/policy.yaml",
            0,
            0,
            "",
            "schema file 'schemas/v2/order.json' is not used: no rule's body_schema names it and"
                + " no used schema reaches it by $ref"));
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("warnings")
  void lint_warnsOnceAtTheExactPosition(
      String file, int line, int column, String field, String message) {
    List<PolicyError> warnings = warningsOf(resource(file));
    assertThat(warnings)
        .singleElement()
        .satisfies(
            w -> {
              assertThat(w.severity()).isEqualTo(PolicyError.Severity.WARNING);
              assertThat(w.line()).as("line").isEqualTo(line);
              assertThat(w.column()).as("column").isEqualTo(column);
              assertThat(w.field()).as("field").isEqualTo(field);
              assertThat(w.message()).contains(message);
              assertThat(w.format()).contains("warning: ");
            });
  }

  @Test
  void example_hasNoWarnings() {
    assertThat(warningsOf(Path.of("..", "examples", "policy.yaml"))).isEmpty();
  }

  private List<String> lint(String yaml) throws IOException {
    Path p = dir.resolve("policy.yaml");
    Files.writeString(p, yaml);
    return warningsOf(p).stream().map(PolicyError::message).toList();
  }

  @Test
  void anonymous_segmentsThatRequireIdentityOrRulesWithConditions_doNotWarn() throws IOException {
    assertThat(
            lint(
                """
                version: 1
                segments:
                  - name: users
                    match: { credential: [jwt] }
                    rules:
                      - { name: all, paths: ["/**"] }
                  - name: partners
                    match: { client_type: [partner] }
                    rules:
                      - { name: all, paths: ["/**"] }
                  - name: staff
                    rules:
                      - { name: all, paths: ["/**"], roles_any: [staff] }
                """))
        .isEmpty();
  }

  @Test
  void anonymous_principalPatternMatchingAnonymous_stillAdmitsThem() throws IOException {
    assertThat(
            lint(
                """
                version: 1
                segments:
                  - name: odd
                    match: { principal: ["anon*"] }
                    rules:
                      - { name: status, paths: ["/v1/status"] }
                """))
        .singleElement()
        .asString()
        .contains("admits anonymous callers without any limit");
  }

  @Test
  void anonymous_limitsThatDoNotApplyToThem_doNotCount_segmentAndRouteKeysDo() throws IOException {
    String template =
        """
        version: 1
        segments:
          - name: public
            match: { credential: [anonymous] }
            rules:
              - { name: status, paths: ["/v1/status"] }
            limits:
              - { name: l, key: %s, rate: 5/s }
        """;
    assertThat(lint(template.formatted("[ip, client]"))).hasSize(1);
    assertThat(lint(template.formatted("[\"header:x-tenant\"]"))).hasSize(1);
    assertThat(lint(template.formatted("[segment]"))).isEmpty();
    assertThat(lint(template.formatted("[route, ip]"))).isEmpty();
  }

  @Test
  void overlap_sameTreatmentDisjointMethodsOrDisjointClients_doNotWarn() throws IOException {
    assertThat(
            lint(
                """
                version: 1
                segments:
                  - name: partners
                    match: { credential: [api_key] }
                    rules:
                      - { name: read-all, methods: [GET], paths: ["/v1/**"], roles_any: [admin] }
                      - { name: read-orders, methods: [GET], paths: ["/v1/orders/*"], roles_any: [reader] }
                      - { name: create, methods: [POST], paths: ["/v1/orders"], limits: [{ name: w, key: [client], rate: 1/s }] }
                      - { name: acme, paths: ["/v2/**"], clients: [acme] }
                      - { name: globex, paths: ["/v2/orders"], clients: [globex], limits: [{ name: w, key: [client], rate: 1/s }] }
                      - { name: shadow-test, methods: [GET], paths: ["/v1/x"], mode: dry-run, limits: [{ name: w, key: [client], rate: 1/s }] }
                """))
        .isEmpty();
  }

  @Test
  void overlap_laterBroaderRuleWithADifferentSchema_warnsNamingBoth() throws IOException {
    Files.createDirectories(dir.resolve("schemas"));
    Files.writeString(dir.resolve("schemas/order.json"), "{\"type\": \"object\"}");
    assertThat(
            lint(
                """
                version: 1
                segments:
                  - name: partners
                    match: { credential: [api_key] }
                    rules:
                      - { name: exact, methods: [POST], paths: ["/v1/orders"] }
                      - { name: validated, paths: ["/v1/*"], body_schema: schemas/order.json }
                """))
        .singleElement()
        .asString()
        .contains("rule 'validated' overlaps rule 'exact' (line 6) for POST /v1/orders")
        .contains("body schema (schemas/order.json vs none)");
  }

  @Test
  void overlap_manyDoubleStarsAgainstALongPath_isCheckedFast() throws IOException {
    String manyStars = "/**/x".repeat(20) + "/y";
    String longPath = "/x".repeat(40);
    String yaml =
        """
        version: 1
        segments:
          - name: partners
            match: { credential: [api_key] }
            rules:
              - { name: a, methods: [GET], paths: ["%s"] }
              - { name: b, methods: [GET], paths: ["%s/z"] }
              - { name: c, methods: [GET], paths: ["%s/y"], limits: [{ name: w, key: [client], rate: 1/s }] }
        """
            .formatted(manyStars, longPath, longPath);
    lint("version: 1\nsegments: [{ name: s, rules: [{ name: r, paths: [/v1/status] }] }]\n");
    // a against b took ~10^11 steps: every split of b's 40 segments among a's 20 "**".
    List<String> warnings = assertTimeoutPreemptively(Duration.ofSeconds(1), () -> lint(yaml));
    assertThat(warnings)
        .singleElement()
        .asString()
        .startsWith("rule 'c' overlaps rule 'a' (line 6) for GET " + longPath + "/y");
  }

  @Test
  void unusedSchemas_nothingWhenEverySchemaIsReferenced() throws IOException {
    Files.createDirectories(dir.resolve("schemas/.git"));
    Files.writeString(dir.resolve("schemas/order.json"), "{\"type\": \"object\"}");
    Files.writeString(dir.resolve("schemas/.git/config.json"), "{}");
    Files.writeString(dir.resolve("notes.json"), "{}"); // next to the policy, not a schema dir
    assertThat(
            lint(
                """
                version: 1
                segments:
                  - name: partners
                    match: { credential: [api_key] }
                    rules:
                      - { name: create, methods: [POST], paths: ["/v1/orders"], body_schema: schemas/order.json }
                """))
        .isEmpty();
  }
}
