package io.portcullis.authz;

import static org.assertj.core.api.Assertions.assertThat;

import io.portcullis.request.HttpMethod;
import io.portcullis.request.NormalizedPath;
import io.portcullis.request.PathNormalizer;
import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

class RuleTest {

  private static NormalizedPath path(String raw) {
    return switch (PathNormalizer.normalize(raw)) {
      case PathNormalizer.Normalized(NormalizedPath p) -> p;
      case PathNormalizer.Malformed(String why) -> throw new AssertionError(raw + ": " + why);
    };
  }

  private static Rule rule(Effect effect, String patterns) {
    List<PathPattern> paths = Arrays.stream(patterns.split(" ")).map(PathPattern::compile).toList();
    return new Rule(
        "r", effect, HttpMethod.allBits(), paths, Conditions.none(), null, List.of(), Mode.ENFORCE);
  }

  /**
   * A deny carved out of a wider allow ({@code allow /v1/**}, {@code deny /v1/orders/export}) must
   * not be walked around with a trailing '/', which many upstreams route to the same handler.
   */
  @ParameterizedTest(name = "deny {0} applies to {1}: {2}")
  @CsvSource({
    "/v1/orders/export, /v1/orders/export, true",
    "/v1/orders/export, /v1/orders/export/, true",
    "/v1/orders/export, /v1/orders/export//, true", // '//' merges first
    "/v1/orders/export, /v1/orders/export/x, false",
    "/v1/orders/export, /v1/orders/, false",
    "/v1/admin/*, /v1/admin/users/, true",
    "/v1/admin/*, /v1/admin/, false", // '*' is one non-empty segment
    "/v1/*.csv, /v1/report.csv/, true",
    "/v1/admin/**, /v1/admin/, true",
    "/v1/admin, /v1/admin/, true",
    "/v1/a /v1/b, /v1/b/, true",
    "/v1/export/, /v1/export/, true",
    "/v1/export/, /v1/export, false", // a pattern that asks for the '/' keeps asking
  })
  void denyRule_alsoMatchesThePathWithOneTrailingSlashMore(
      String patterns, String request, boolean applies) {
    Rule deny = rule(Effect.DENY, patterns);

    assertThat(deny.applies(HttpMethod.GET, path(request))).isEqualTo(applies);
  }

  /**
   * Nor with a change of case: Express, ASP.NET Core and IIS route {@code /v1/Admin/users} to the
   * handler of {@code /v1/admin/users} by default, and {@code %41} decodes to {@code A} before
   * matching.
   */
  @ParameterizedTest(name = "deny {0} applies to {1}: {2}")
  @CsvSource({
    "/v1/admin/**, /v1/Admin/users, true",
    "/v1/admin/**, /v1/%41dmin/users, true",
    "/v1/admin/**, /V1/ADMIN, true",
    "/v1/orders/export, /v1/orders/EXPORT/, true", // both extensions at once
    "/v1/*.csv, /v1/report.CSV, true",
    "/v1/report-*-raw.csv, /v1/REPORT-2026-RAW.CSV, true",
    "/v1/report-*-raw.csv, /v1/REPORT-2026-RAW.json, false",
    "/v1/admin/**, /v1/admins/users, false",
    "/v1/admin/**, /v1/adm%C4%B1n/users, false", // dotless i is no 'i', not even in Turkish
  })
  void denyRule_alsoMatchesThePathWithLettersOfAnotherCase(
      String patterns, String request, boolean applies) {
    Rule deny = rule(Effect.DENY, patterns);

    assertThat(deny.applies(HttpMethod.GET, path(request))).isEqualTo(applies);
  }

  @ParameterizedTest(name = "allow {0} applies to {1}: {2}")
  @CsvSource({
    "/v1/orders/export, /v1/orders/export, true",
    "/v1/orders/export, /v1/orders/export/, false",
    "/v1/admin/*, /v1/admin/users/, false",
    "/v1/admin/*, /v1/Admin/users, false",
    "/v1/*.csv, /v1/report.CSV, false",
  })
  void allowRule_staysExact(String patterns, String request, boolean applies) {
    Rule allow = rule(Effect.ALLOW, patterns);

    assertThat(allow.applies(HttpMethod.GET, path(request))).isEqualTo(applies);
  }
}
