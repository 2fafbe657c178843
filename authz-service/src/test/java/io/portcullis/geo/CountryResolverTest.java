package io.portcullis.geo;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.ValueSource;

class CountryResolverTest {

  @ParameterizedTest
  @CsvSource({"se,SE", "SE,SE", "gB,GB", "us,US"})
  void normalize_twoAsciiLetters_areUpperCased(String value, String expected) {
    assertThat(CountryResolver.normalize(value)).isEqualTo(expected);
  }

  @ParameterizedTest
  @ValueSource(
      strings = {
        "\u017Fe", // LATIN SMALL LETTER LONG S: Character.toUpperCase gives 'S'
        "\u0131r", // LATIN SMALL LETTER DOTLESS I: upper-cases to 'I'
        "\uFF53\uFF45", // FULLWIDTH s e
        "s\u0435", // CYRILLIC SMALL LETTER IE, looks like 'e'
        "S1",
        "S",
        "SEE",
        ""
      })
  void normalize_anythingButTwoAsciiLetters_isUnknown(String value) {
    assertThat(CountryResolver.normalize(value)).isNull();
  }
}
