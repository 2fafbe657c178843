package io.portcullis.segment;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

class PrincipalPatternTest {

  @ParameterizedTest(name = "{0} ~ {1} -> {2}")
  @CsvSource({
    "spiffe://prod.example.com/ns/*/sa/*, spiffe://prod.example.com/ns/default/sa/web, true",
    "spiffe://prod.example.com/ns/*/sa/*, spiffe://prod.example.com/ns/default/sa/web/x, false",
    "spiffe://prod.example.com/ns/*/sa/*, spiffe://prod.example.com/ns/default/sa, false",
    "spiffe://prod.example.com/ns/*/sa/*, spiffe://prod.example.com/ns//sa/web, false",
    "spiffe://prod.example.com/ns/*/sa/*, spiffe://prod.example.com/ns/default/sa/, false",
    "spiffe://prod.example.com/ns/*/sa/*, spiffe://evil.example.com/ns/default/sa/web, false",
    "spiffe://prod.example.com/ns/*/sa/*, SPIFFE://prod.example.com/ns/default/sa/web, false",
    "spiffe://prod.example.com/**, spiffe://prod.example.com/a/b/c, true",
    "spiffe://prod.example.com/**, spiffe://prod.example.com/, true",
    "spiffe://prod.example.com/**, spiffe://prod.example.com.evil/a, false",
    "spiffe://prod.example.com/sa/web-*, spiffe://prod.example.com/sa/web-1, true",
    "spiffe://prod.example.com/sa/web-*, spiffe://prod.example.com/sa/api-1, false",
    "spiffe://prod.example.com/sa/web, spiffe://prod.example.com/sa/web, true",
    "spiffe://prod.example.com/sa/web, spiffe://prod.example.com/sa/web2, false",
    "*, alice, true",
    "*, alice/bob, false",
    "*, '', false",
    "**, anything/at/all, true",
  })
  void matches_starIsOneNonEmptySegment(String pattern, String principal, boolean expected) {
    assertThat(PrincipalPattern.compile(pattern).matches(principal)).isEqualTo(expected);
  }

  @Test
  void compile_doubleStarNotLast_isRejected() {
    assertThatThrownBy(() -> PrincipalPattern.compile("spiffe://x/**/sa/web"))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("'**' is only allowed as the last segment");
  }

  @Test
  void compile_doubleStarInsideSegment_isRejected() {
    assertThatThrownBy(() -> PrincipalPattern.compile("spiffe://x/sa/web**"))
        .hasMessageContaining("'**' must be a whole segment");
  }

  @Test
  void compile_empty_isRejected() {
    assertThatThrownBy(() -> PrincipalPattern.compile(""))
        .hasMessageContaining("must not be empty");
  }

  @Test
  void pattern_isKeptAsWritten() {
    assertThat(PrincipalPattern.compile("spiffe://x/*").pattern()).isEqualTo("spiffe://x/*");
  }
}
