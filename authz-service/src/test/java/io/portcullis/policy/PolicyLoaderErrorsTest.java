package io.portcullis.policy;

import static org.assertj.core.api.Assertions.assertThat;

import io.portcullis.identity.IdentityServices;
import java.net.URISyntaxException;
import java.nio.file.Path;
import java.time.Instant;
import java.time.InstantSource;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * One policy file per failure mode (src/test/resources/policies/): each must be rejected with
 * exactly one problem, at the exact line, column and field, saying what is wrong.
 */
class PolicyLoaderErrorsTest {

  static Path policy(String name) {
    try {
      return Path.of(PolicyLoaderErrorsTest.class.getResource("/policies/" + name).toURI());
    } catch (URISyntaxException | NullPointerException e) {
      throw new AssertionError("test resource policies/" + name + " is missing", e);
    }
  }

  static LoadResult load(Path file) {
    return PolicyLoader.create(
            IdentityServices.offline(), InstantSource.fixed(Instant.EPOCH), name -> null)
        .load(file);
  }

  static List<PolicyError> errorsOf(Path file) {
    LoadResult r = load(file);
    assertThat(r)
        .as("%s must be invalid", file.getFileName())
        .isInstanceOf(LoadResult.Invalid.class);
    return ((LoadResult.Invalid) r).errors();
  }

  static Stream<Arguments> failureModes() {
    return Stream.of(
        // file, line, column, field, message fragment
        Arguments.of(
            "bad_unknown_key.yaml",
            6,
            9,
            "segments[0].rules[0].method",
            "unknown key 'method'; did you mean 'methods'?"),
        Arguments.of(
            "bad_cidr.yaml",
            5,
            31,
            "segments[0].match.source_ip[1]",
            "'10.0.0.1/8' has host bits set; did you mean 10.0.0.0/8?"),
        Arguments.of(
            "bad_glob.yaml",
            9,
            13,
            "segments[0].rules[0].paths[2]",
            "'**' must be a whole segment"),
        Arguments.of(
            "bad_principal.yaml",
            5,
            19,
            "segments[0].match.principal[0]",
            "'**' is only allowed as the last segment"),
        Arguments.of(
            "bad_duration.yaml",
            10,
            13,
            "protect.failed_auth.window",
            "expected a duration such as 500ms, 30s, 10m, 24h or 90d"),
        Arguments.of(
            "bad_rate.yaml",
            7,
            42,
            "segments[0].limits[0].rate",
            "expected a rate N/s, N/m or N/h"),
        Arguments.of(
            "bad_quota.yaml",
            7,
            48,
            "segments[0].limits[0].quota",
            "expected a quota N/minute, N/hour, N/day or N/month"),
        Arguments.of(
            "bad_credential.yaml",
            5,
            25,
            "segments[0].match.credential[1]",
            "unknown credential type 'apikey'; expected one of jwt, introspection, api_key, mtls, anonymous; did you mean 'api_key'?"),
        Arguments.of(
            "duplicate_segment.yaml",
            7,
            11,
            "segments[1].name",
            "duplicate segment name 'partners' (first defined at line 3)"),
        Arguments.of(
            "shadowed_segment.yaml",
            9,
            5,
            "segments[1]",
            "segment 'big-partners' is unreachable: segment 'partners' (line 3) comes first"),
        Arguments.of(
            "missing_schema.yaml",
            8,
            22,
            "segments[0].rules[0].body_schema",
            "schema file 'schemas/nope.json' does not exist"),
        Arguments.of(
            "invalid_schema.yaml",
            8,
            22,
            "segments[0].rules[0].body_schema",
            "schema file 'schemas/invalid.json' is not a valid JSON Schema 2020-12: /properties/quantity/minimum"),
        Arguments.of(
            "lookaround_schema.yaml",
            8,
            22,
            "segments[0].rules[0].body_schema",
            "schema file 'schemas/lookaround.json' does not compile: pattern '^(?=.*[0-9]).{8,}$'"
                + " at schemas/lookaround.json#/properties/password/pattern is not supported"),
        Arguments.of(
            "unknown_format_schema.yaml",
            8,
            22,
            "segments[0].rules[0].body_schema",
            "schema file 'schemas/unknown-format.json' does not compile: format 'e-mail'"
                + " at schemas/unknown-format.json#/properties/contact/format is not supported"),
        Arguments.of(
            "not_json_schema.yaml",
            7,
            22,
            "segments[0].rules[0].body_schema",
            "schema file 'schemas/not-json.json' is not valid JSON (line 1, column 21)"),
        Arguments.of(
            "remote_ref_schema.yaml",
            7,
            22,
            "segments[0].rules[0].body_schema",
            "https://schemas.example.com/address.json"),
        Arguments.of(
            "schema_outside_dir.yaml",
            7,
            22,
            "segments[0].rules[0].body_schema",
            "schema file '../outside.json' is outside the policy directory"),
        Arguments.of(
            "alg_none.yaml", 7, 27, "identity.jwt[0].algorithms[1]", "'none' is never accepted"),
        Arguments.of("hs256.yaml", 7, 20, "identity.jwt[0].algorithms[0]", "key-confusion"),
        Arguments.of(
            "token_types_other_kind.yaml",
            7,
            29,
            "identity.jwt[0].token_types[1]",
            "'id_token+jwt' is the type of another kind of JWT, never accepted as an access token"),
        Arguments.of(
            "token_types_not_a_type.yaml",
            7,
            29,
            "identity.jwt[0].token_types[1]",
            "'text/plain' is not a JWT type: write the media type of the tokens' typ header"),
        Arguments.of(
            "http_issuer.yaml",
            5,
            15,
            "identity.jwt[0].issuer",
            "must be an https:// URL (http:// is allowed only on loopback"),
        Arguments.of(
            "missing_env.yaml",
            7,
            22,
            "identity.introspection[0].client_secret",
            "environment variable 'PORTCULLIS_TEST_UNSET_SECRET' is not set"),
        Arguments.of(
            "wrong_type.yaml",
            5,
            18,
            "segments[0].match.roles_any",
            "expected a list of strings, got a mapping"),
        Arguments.of(
            "duplicate_key.yaml", 7, 9, "segments[0].rules[0].paths", "duplicate key 'paths'"),
        Arguments.of(
            "bad_version.yaml",
            1,
            10,
            "version",
            "unsupported version 2; this Portcullis reads version 1"),
        Arguments.of("missing_paths.yaml", 5, 9, "segments[0].rules[0].paths", "is required"),
        Arguments.of(
            "bad_country.yaml",
            5,
            25,
            "segments[0].match.country[2]",
            "'EU' is not an ISO 3166-1 alpha-2 country code"),
        Arguments.of(
            "bad_method.yaml",
            5,
            40,
            "segments[0].rules[0].methods[1]",
            "unknown method 'get'; methods are case-sensitive: did you mean 'GET'?"),
        Arguments.of(
            "rate_and_quota.yaml",
            10,
            9,
            "segments[0].limits[0].quota",
            "either rate or quota, not both"),
        Arguments.of(
            "burst_with_quota.yaml",
            7,
            56,
            "segments[0].limits[0].burst",
            "burst applies only to rate limits"),
        Arguments.of(
            "bad_timezone.yaml",
            7,
            66,
            "segments[0].limits[0].timezone",
            "unknown time zone 'Europe/Berln'; expected an IANA zone id such as Europe/Berlin or UTC; did you mean 'Europe/Berlin'?"),
        Arguments.of(
            "clock_skew_too_large.yaml", 7, 19, "identity.jwt[0].clock_skew", "must be at most 5m"),
        Arguments.of(
            "bad_max_concurrent_requests.yaml",
            8,
            32,
            "identity.introspection[0].max_concurrent_requests",
            "expected a positive integer, got 0"),
        Arguments.of(
            "authorization_api_key_header.yaml",
            4,
            26,
            "identity.api_keys.headers[1]",
            "'authorization' cannot be an API-key header"),
        Arguments.of(
            "bad_trust_domain.yaml",
            4,
            39,
            "identity.mtls.trust_domains[1]",
            "'bad.example.com:8443' is not a valid trust domain: only lower-case letters, digits,"),
        Arguments.of(
            "deny_rule_with_conditions.yaml",
            8,
            9,
            "segments[0].rules[0].roles_any",
            "'roles_any' has no effect on a deny rule"),
        Arguments.of(
            "duplicate_rule.yaml",
            6,
            17,
            "segments[0].rules[1].name",
            "duplicate rule name 'status' in segment 'public' (first defined at line 5)"),
        Arguments.of(
            "duplicate_limit.yaml",
            9,
            21,
            "segments[0].rules[0].limits[1].name",
            "duplicate limit name 'burst' (first defined at line 8)"),
        Arguments.of(
            "duplicate_issuer_name.yaml",
            8,
            13,
            "identity.introspection[0].name",
            "duplicate identity provider name 'corp' (first defined at line 4)"),
        Arguments.of(
            "bad_limit_key.yaml",
            7,
            35,
            "segments[0].limits[0].key[0]",
            "unknown key attribute 'cleint'"),
        Arguments.of(
            "bad_mode.yaml",
            4,
            11,
            "segments[0].mode",
            "expected enforce or dry-run, got 'dryrun'; did you mean 'dry-run'?"),
        Arguments.of(
            "empty_list.yaml",
            5,
            18,
            "segments[0].match.roles_any",
            "must not be empty (omit it to impose no condition)"),
        Arguments.of("not_a_mapping.yaml", 1, 1, "", "the policy must be a mapping"),
        Arguments.of("bad_yaml_syntax.yaml", 5, 1, "", "invalid YAML"),
        Arguments.of("billion_laughs.yaml", 1, 1, "", "too many aliases"));
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("failureModes")
  void load_failureMode_reportsExactlyOneErrorAtTheNode(
      String name, int line, int column, String field, String fragment) {
    Path file = policy(name);
    List<PolicyError> errors = errorsOf(file);
    assertThat(errors).as(errors.toString()).hasSize(1);
    PolicyError e = errors.get(0);
    assertThat(e.file()).isEqualTo(file.toString());
    assertThat(e.line()).as("line of %s", e).isEqualTo(line);
    assertThat(e.column()).as("column of %s", e).isEqualTo(column);
    assertThat(e.field()).isEqualTo(field);
    assertThat(e.message()).contains(fragment);
    assertThat(e.severity()).isEqualTo(PolicyError.Severity.ERROR);
    assertThat(e.format())
        .isEqualTo(
            file
                + ":"
                + line
                + ":"
                + column
                + ": "
                + (field.isEmpty() ? "" : field + ": ")
                + e.message());
  }
}
