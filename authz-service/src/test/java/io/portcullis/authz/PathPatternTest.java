package io.portcullis.authz;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.junit.jupiter.api.Assertions.assertTimeoutPreemptively;

import io.portcullis.request.NormalizedPath;
import io.portcullis.request.PathNormalizer;
import java.time.Duration;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

class PathPatternTest {

  private static NormalizedPath path(String raw) {
    return switch (PathNormalizer.normalize(raw)) {
      case PathNormalizer.Normalized(NormalizedPath p) -> p;
      case PathNormalizer.Malformed(String why) -> throw new AssertionError(raw + ": " + why);
    };
  }

  private static boolean matches(String pattern, String raw) {
    return PathPattern.compile(pattern).matches(path(raw));
  }

  @ParameterizedTest(name = "{0} ~ {1} -> {2}")
  @CsvSource({
    "/v1/orders, /v1/orders, true",
    "/v1/orders, /v1/orders/, false",
    "/v1/orders, /v1/Orders, false",
    "/v1/orders, /v1/orders/42, false",
    "/v1/orders/, /v1/orders/, true",
    "/v1/orders/, /v1/orders, false",
    "/v1/orders/*, /v1/orders/42, true",
    "/v1/orders/*, /v1/orders/, false",
    "/v1/orders/*, /v1/orders, false",
    "/v1/orders/*, /v1/orders/42/items, false",
    "/v1/*/items, /v1/42/items, true",
    "/v1/*/items, /v1//items, false",
    "/v1/**, /v1, true",
    "/v1/**, /v1/, true",
    "/v1/**, /v1/a/b/c, true",
    "/v1/**, /v2/a, false",
    "/v1/**, /v10, false",
    "/**, /, true",
    "/**, /anything/at/all, true",
    "/, /, true",
    "/, /a, false",
    "/a/**/b, /a/b, true",
    "/a/**/b, /a/x/y/b, true",
    "/a/**/b, /a/x/y/b/c, false",
    "/a/**/b/**/c, /a/b/c, true",
    "/a/**/b/**/c, /a/b/x/b/y/c, true",
    "/a/**/b/**/c, /a/b/x/b/y/d, false",
    "/a/**/b/*, /a/b/b/b, true",
    "/a/**/b/*, /a/b/b/, false",
    "/files/*.json, /files/report.json, true",
    "/files/*.json, /files/report.jsonx, false",
    "/files/*.json, /files/a/report.json, false",
    "/files/v*/x, /files/v2/x, true",
    "/files/a*b*c, /files/abc, true",
    "/files/a*b*c, /files/axxbyyc, true",
    "/files/a*b*c, /files/acb, false",
    "/files/ab*ba, /files/aba, false",
    "/v1/%7Euser, /v1/~user, true",
    "/v1/~user, /v1/%7euser, true",
  })
  void matches_followsSegmentSemantics(String pattern, String raw, boolean expected) {
    assertThat(matches(pattern, raw)).isEqualTo(expected);
  }

  @Test
  @org.junit.jupiter.api.Timeout(5)
  void manyDoubleStars_againstALongPath_matchInPolynomialTime() {
    // Naive recursion needs ~10^8 comparisons here (and grows as path^stars); the single
    // backtracking point keeps it at pattern x path. The timeout only guards against hanging.
    PathPattern p = PathPattern.compile("/**/a/**/a/**/a/**/a/**/b");
    String path = "/" + "a/".repeat(250) + "c";
    assertThat(p.matches(path(path))).isFalse();
    assertThat(p.matches(path("/" + "a/".repeat(250) + "b"))).isTrue();
    assertThat(p.matches(path("/x/a/y/a/z/a/a/q/b"))).isTrue();
    assertThat(p.matches(path("/a/a/a/b"))).isFalse();
  }

  @Test
  void matches_requestPathIsNormalizedBeforeMatching() {
    assertThat(matches("/v1/orders/*", "/v1//orders/./42")).isTrue();
    assertThat(matches("/v1/admin/**", "/v1/public/../admin/x")).isTrue();
  }

  @Test
  void matches_deepBacktracking_terminatesAndIsCorrect() {
    String pattern = "/**/a/**/a/**/a/**/b";
    StringBuilder raw = new StringBuilder();
    for (int i = 0; i < 60; i++) {
      raw.append("/a");
    }
    assertThat(matches(pattern, raw.toString())).isFalse();
    assertThat(matches(pattern, raw + "/b")).isTrue();
  }

  @ParameterizedTest(name = "{0}")
  @CsvSource(
      delimiter = '|',
      quoteCharacter = '"',
      value = {
        "v1/orders|must start with '/'",
        "\"\"|must start with '/'",
        "/v1/orders?x=1|must not contain '?' or '#'",
        "/v1//orders|empty segment",
        "/v1/**.json|'**' must be a whole segment",
        "/v1/***|'**' must be a whole segment",
        "/v1/../admin|'.' or '..' segments",
        "/v1/./x|'.' or '..' segments",
        "/v1/%2F|invalid path segment",
        "/v1/%zz|invalid path segment",
      })
  void compile_invalidPattern_saysWhy(String pattern, String fragment) {
    assertThatThrownBy(() -> PathPattern.compile(pattern))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining(fragment);
  }

  @Test
  void literalPrefix_stopsAtFirstWildcard() {
    assertThat(PathPattern.compile("/v1/orders/*/items").literalPrefix())
        .containsExactly("v1", "orders");
    assertThat(PathPattern.compile("/**").literalPrefix()).isEmpty();
  }

  @Test
  void equality_isByPatternText() {
    assertThat(PathPattern.compile("/v1/*")).isEqualTo(PathPattern.compile("/v1/*"));
    assertThat(PathPattern.compile("/v1/*")).hasToString("/v1/*");
  }

  @ParameterizedTest(name = "{0} subsumes {1} -> {2}")
  @CsvSource({
    "/**, /v1/orders/*, true",
    "/v1/**, /v1/orders, true",
    "/v1/**, /v1, true",
    "/v1/**, /v1/**/items, true",
    "/v1/**, /v2/orders, false",
    "/v1/orders/*, /v1/orders/42, true",
    "/v1/orders/*, /v1/orders/*.json, true",
    "/v1/orders/*, /v1/orders/, false",
    "/v1/orders/42, /v1/orders/*, false",
    "/v1/*.json, /v1/a.json, true",
    "/v1/*.json, /v1/*.json, true",
    "/v1/*.json, /v1/*, false",
    "/v1/*/items, /v1/**, false",
    "/v1/**/items, /v1/a/b/items, true",
    "/v1/**/items, /v1/a/b/other, false",
    "/v1/orders, /v1/orders, true",
    "/**/x/**/y, /x/x/y, true",
    "/**/x/**/y, /a/x/b/c/y, true",
    "/**/x/**/y, /x/y/x, false",
    "/a/**/**/b, /a/b, true",
    "/**/b, /**/b, true",
    "/**/b, /**, false",
    "/a/**, /, false",
    "/**, /, true",
  })
  void subsumes_isConservativeAndSound(String a, String b, boolean expected) {
    assertThat(PathPattern.compile(a).subsumes(PathPattern.compile(b))).isEqualTo(expected);
  }

  @Test
  void subsumes_manyDoubleStarsAgainstALongPath_isPolynomial() {
    // 20 "/**/x" then "/y" against 40 literal x then "/z": the recursive search tried every way
    // of splitting the 40 segments among the 20 "**" (~10^11 steps).
    PathPattern a = PathPattern.compile("/**/x".repeat(20) + "/y");
    PathPattern b = PathPattern.compile("/x".repeat(40) + "/z");
    PathPattern c = PathPattern.compile("/x".repeat(40) + "/y");
    assertTimeoutPreemptively(
        Duration.ofSeconds(1),
        () -> {
          assertThat(a.subsumes(b)).isFalse();
          assertThat(a.subsumes(c)).isTrue();
          assertThat(b.subsumes(a)).isFalse();
        });
  }

  @Test
  void matchesEverything_onlyForPatternsOfDoubleStars() {
    assertThat(PathPattern.compile("/**").matchesEverything()).isTrue();
    assertThat(PathPattern.compile("/**/**").matchesEverything()).isTrue();
    assertThat(PathPattern.compile("/*/**").matchesEverything()).isFalse();
    assertThat(PathPattern.compile("/").matchesEverything()).isFalse();
    assertThat(PathPattern.compile("/v1/**").matchesEverything()).isFalse();
  }
}
