package io.portcullis.decision;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * Every reason code's step and HTTP status against the decision-order table of policy.md, written
 * out here row by row so that a change to {@link Reason} cannot move the contract with it. A 401
 * carries {@code WWW-Authenticate: Bearer error="invalid_token"} (interfaces.md, RFC 6750), no
 * other status does. The {@code Retry-After} of a 429 comes from the limiter's outcome, not from
 * the reason: DecisionPipelineTest checks it for both {@code rate_limited} and {@code
 * quota_exceeded}.
 */
class ReasonTableTest {

  /**
   * policy.md "Decision order (normative)", one reason per row: step, reason, status, whether the
   * response carries WWW-Authenticate. The last row is not in the contract: docs/decisions.md
   * records {@code identity_unavailable} (503) as a deviation.
   */
  private static final String TABLE =
      """
      1 | malformed_request        | 400 | -
      2 | blocked                  | 403 | -
      3 | invalid_token            | 401 | WWW-Authenticate
      3 | expired_token            | 401 | WWW-Authenticate
      3 | unknown_key              | 401 | WWW-Authenticate
      3 | revoked_key              | 401 | WWW-Authenticate
      3 | expired_key              | 401 | WWW-Authenticate
      3 | inactive_token           | 401 | WWW-Authenticate
      3 | untrusted_principal      | 401 | WWW-Authenticate
      4 | no_segment               | 403 | -
      5 | tls_required             | 403 | -
      5 | ip_denied                | 403 | -
      5 | geo_denied               | 403 | -
      6 | denied_by_rule           | 403 | -
      6 | no_matching_rule         | 403 | -
      6 | insufficient_permissions | 403 | -
      7 | invalid_body             | 400 | -
      7 | body_too_large           | 413 | -
      8 | rate_limited             | 429 | -
      8 | quota_exceeded           | 429 | -
      3 | identity_unavailable     | 503 | -
      """;

  private record Row(int step, String code, int status, boolean wwwAuthenticate) {}

  private static final Map<String, Row> ROWS = parse();

  private static Map<String, Row> parse() {
    Map<String, Row> rows = new LinkedHashMap<>();
    for (String line : TABLE.strip().split("\n")) {
      String[] c = Arrays.stream(line.split("\\|")).map(String::strip).toArray(String[]::new);
      Row row =
          new Row(
              Integer.parseInt(c[0]),
              c[1],
              Integer.parseInt(c[2]),
              c[3].equals("WWW-Authenticate"));
      assertThat(rows.put(row.code(), row)).as("duplicate row %s", row.code()).isNull();
    }
    return rows;
  }

  @ParameterizedTest(name = "{0}")
  @EnumSource(Reason.class)
  void reason_hasTheStepStatusAndHeadersOfTheTable(Reason reason) {
    Row row = ROWS.get(reason.code());
    assertThat(row).as("%s is not in the table of policy.md", reason.code()).isNotNull();
    assertThat(reason.step()).as("step").isEqualTo(row.step());
    assertThat(reason.status()).as("status").isEqualTo(row.status());
    assertThat(Reason.parse(row.code())).isEqualTo(reason);

    ResponsePlan deny = Responses.deny("d-1", reason, null, null);

    assertThat(deny.status()).isEqualTo(row.status());
    assertThat(deny.body())
        .contains(
            "\"type\":\"urn:portcullis:error:" + row.code() + "\"", "\"status\":" + row.status());
    if (row.wwwAuthenticate()) {
      assertThat(deny.clientHeaders())
          .contains(new ResponseHeader("www-authenticate", "Bearer error=\"invalid_token\""));
    } else {
      assertThat(deny.clientHeaders())
          .extracting(ResponseHeader::name)
          .doesNotContain("www-authenticate");
    }
  }

  @Test
  void everyRowOfTheTable_isAReason() {
    assertThat(ROWS.keySet())
        .containsExactlyInAnyOrderElementsOf(
            Arrays.stream(Reason.values()).map(Reason::code).toList());
  }
}
