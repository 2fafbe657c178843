package io.portcullis.request;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.ValueSource;

class PathNormalizerTest {

  @ParameterizedTest(name = "{0} -> {1}")
  @CsvSource(
      delimiter = '|',
      value = {
        "/|/",
        "/v1/orders|/v1/orders",
        "/v1/orders/|/v1/orders/",
        "/v1/orders?x=1&y=2|/v1/orders",
        "//v1///orders|/v1/orders",
        "/v1/./orders|/v1/orders",
        "/v1/orders/.|/v1/orders/",
        "/v1/orders/..|/v1/",
        "/v1/orders/../admin|/v1/admin",
        "/v1/%2e%2e.x/admin|/v1/...x/admin",
        "/v1/a%2eb|/v1/a.b",
        "/%41%62%63|/Abc",
        "/%7euser|/~user",
        "/a%3ab|/a%3Ab",
        "/a%20b|/a%20b",
        "/%252e%252e/admin|/%252e%252e/admin",
        "/V1/Orders|/V1/Orders",
        "/a%3Bb/c|/a%3Bb/c",
        "/...|/...",
        "/a/b/../../..x|/..x",
        "/v1//a/b/../c|/v1/a/c",
        "/v1/a//b/..|/v1/a/",
        "/v1//a/|/v1/a/",
      })
  void normalizes(String raw, String expected) {
    assertThat(PathNormalizer.normalize(raw))
        .isInstanceOfSatisfying(
            PathNormalizer.Normalized.class, n -> assertThat(n.path().value()).isEqualTo(expected));
  }

  @ParameterizedTest
  @ValueSource(
      strings = {
        "",
        "v1/orders",
        "*",
        "http://evil/v1",
        "/..",
        "/v1/../..",
        "/%2e%2e",
        "/v1/%2e%2e/%2e%2e/etc",
        "/v1%2Fadmin",
        "/v1%2fadmin",
        "/v1%5Cadmin",
        "/v1%5cadmin",
        "/v1\\admin",
        "/v1/%00",
        "/v1/\u0000",
        "/v1/%",
        "/v1/%4",
        "/v1/%G1",
        "/v1/a b",
        "/v1/\t",
        "/v1/caf\u00e9",
        "/v1/..;/admin",
        "/v1/.;x/admin",
        "/v1/%2e%2e;/admin",
        "/v1/admin;x/users",
        "/v1/admin;/users",
        "/v1/orders;jsessionid=abc",
        "/v1/a//../b",
        "/v1/orders#frag",
        "/v1/%2e%2e/admin",
        "/v1/%2E./admin",
        "/v1/.%2e/admin",
        "/v1/%2e/admin",
        "/v1/admin/%2e%2e",
        "/v1/orders/42#/invoice",
        "/v1/admin//../users",
        "/v1/admin/.//../users",
        "/v1/admin//./../users",
        "/v1/admin//%2e%2e/users",
        "/v1/admin//%2E./users",
        "/v1/admin//x/../../users",
        "/a//b/./../../c",
      })
  void refusesAmbiguousOrInvalidPaths(String raw) {
    assertThat(PathNormalizer.normalize(raw)).isInstanceOf(PathNormalizer.Malformed.class);
  }

  @ParameterizedTest
  @CsvSource(
      delimiter = '|',
      value = {"/|0", "/a|1", "/a/b|2", "/a/b/|3", "/a//b/./c/..|3"})
  void segmentsExposeTrailingSlashAsEmptySegment(String raw, int count) {
    NormalizedPath p = ((PathNormalizer.Normalized) PathNormalizer.normalize(raw)).path();
    assertThat(p.segmentCount()).isEqualTo(count);
    if (raw.endsWith("/") && count > 0) {
      assertThat(p.segment(count - 1)).isEmpty();
    }
  }

  @ParameterizedTest
  @ValueSource(strings = {"/v1/x/../admin", "/a/./b", "/x//y/", "/%7e%41", "/a%2eb"})
  void normalizationIsIdempotent(String raw) {
    String once = ((PathNormalizer.Normalized) PathNormalizer.normalize(raw)).path().value();
    String twice = ((PathNormalizer.Normalized) PathNormalizer.normalize(once)).path().value();
    assertThat(twice).isEqualTo(once);
  }

  @org.junit.jupiter.api.Test
  void malformedReasonNeverEchoesThePath() {
    String secretish = "/v1/%G1?access_token=abc.def.ghi";
    PathNormalizer.Result r = PathNormalizer.normalize(secretish);
    assertThat(r).isInstanceOf(PathNormalizer.Malformed.class);
    assertThat(((PathNormalizer.Malformed) r).why()).doesNotContain("access_token", "abc");
  }
}
