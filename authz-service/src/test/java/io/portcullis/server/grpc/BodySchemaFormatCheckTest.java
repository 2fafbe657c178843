package io.portcullis.server.grpc;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assertions.assertTimeoutPreemptively;

import com.google.rpc.Code;
import io.envoyproxy.envoy.service.auth.v3.CheckResponse;
import io.portcullis.decision.Decision;
import io.portcullis.testing.EnvoyChecks;
import io.portcullis.testing.InProcessCheck;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * {@code format} in a {@code body_schema}, through {@code Check} with a real compiled schema: a
 * value that is not an email, a UUID or a date-time is {@code invalid_body} (400) like any other
 * schema failure, and the audit detail names the field and the keyword, never the value.
 */
class BodySchemaFormatCheckTest {
  @TempDir Path dir;
  InProcessCheck envoy;
  List<Decision> audited;

  @BeforeEach
  void start() throws Exception {
    envoy =
        InProcessCheck.postWithSchema(
            dir,
            "signup",
            "/v1/signup",
            """
        {"type":"object","required":["email","id","at"],
         "properties":{"email":{"type":"string","format":"email"},
                       "id":{"type":"string","format":"uuid"},
                       "at":{"type":"string","format":"date-time"},
                       "host":{"type":"string","format":"hostname"}}}
        """);
    audited = envoy.audited();
  }

  @AfterEach
  void stop() {
    envoy.close();
  }

  private CheckResponse post(String body) {
    return envoy.check(
        EnvoyChecks.request("POST", "/v1/signup")
            .header("content-type", "application/json")
            .body(body)
            .build());
  }

  private static String body(String email, String id, String at) {
    return "{\"email\":\"" + email + "\",\"id\":\"" + id + "\",\"at\":\"" + at + "\"}";
  }

  @Test
  void wellFormedValues_areAllowed() {
    CheckResponse r =
        post(
            body(
                "ops@example.com", "0f8fad5b-d9cb-469f-a165-70867728950e", "2026-11-22T10:00:00Z"));
    assertThat(r.getStatus().getCode()).isEqualTo(Code.OK_VALUE);
  }

  @ParameterizedTest
  @CsvSource({
    "not an email, 0f8fad5b-d9cb-469f-a165-70867728950e, 2026-11-22T10:00:00Z, $.email: format",
    "ops@example.com, 42, 2026-11-22T10:00:00Z, $.id: format",
    "ops@example.com, 0f8fad5b-d9cb-469f-a165-70867728950e, yesterday, $.at: format",
  })
  void aValueNotInItsFormat_isInvalidBody400(String email, String id, String at, String detail) {
    CheckResponse r = post(body(email, id, at));

    assertThat(r.getDeniedResponse().getStatus().getCodeValue()).isEqualTo(400);
    assertThat(r.getDeniedResponse().getBody()).contains("urn:portcullis:error:invalid_body");
    assertThat(audited)
        .singleElement()
        .isInstanceOfSatisfying(
            Decision.Deny.class,
            d ->
                assertThat(d.detail())
                    .isEqualTo(detail)
                    .doesNotContain(email.equals("not an email") ? email : "yesterday"));
  }

  /**
   * The validator's own hostname check recurses once per label (a 60 KB value overflows the stack)
   * and its email check is quadratic (20 s at 60 KB): a megabyte of either is a plain 400.
   */
  @Test
  void aMegabyteValueShapedToStallTheValidatorsOwnChecks_isInvalidBody400Quickly() {
    String hosts = "a.".repeat(250_000) + "!";
    String emails = "@".repeat(500_000) + " ";
    String id = "0f8fad5b-d9cb-469f-a165-70867728950e";
    assertTimeoutPreemptively(
        Duration.ofSeconds(5),
        () -> {
          CheckResponse host =
              post(
                  "{\"email\":\"ops@example.com\",\"id\":\""
                      + id
                      + "\",\"at\":\"2026-11-22T10:00:00Z\",\"host\":\""
                      + hosts
                      + "\"}");
          CheckResponse email = post(body(emails, id, "2026-11-22T10:00:00Z"));
          assertThat(host.getDeniedResponse().getStatus().getCodeValue()).isEqualTo(400);
          assertThat(email.getDeniedResponse().getStatus().getCodeValue()).isEqualTo(400);
        });
    assertThat(audited)
        .extracting(d -> ((Decision.Deny) d).detail())
        .containsExactly("$.host: format", "$.email: format");
  }
}
