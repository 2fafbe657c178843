package io.portcullis.request;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.Map;
import org.junit.jupiter.api.Test;

class HeadersTest {
  @Test
  void builder_lowerCasesNamesAndJoinsRepeatsInOrder() {
    Headers h =
        Headers.builder()
            .add("X-Forwarded-For", "198.51.100.1")
            .add("Accept", "text/html")
            .add("x-forwarded-for", "203.0.113.9")
            .build();

    assertThat(h.get("x-forwarded-for")).isEqualTo("198.51.100.1,203.0.113.9");
    assertThat(h.get("X-FORWARDED-FOR")).isEqualTo("198.51.100.1,203.0.113.9");
    assertThat(h.names()).containsExactly("x-forwarded-for", "accept");
  }

  @Test
  void build_thenChangingTheBuilder_leavesTheBuiltHeadersAsTheyWere() {
    Headers.Builder b = Headers.builder().add("a", "1").add("b", "2");
    Headers first = b.build();

    b.add("a", "3").set("b", "4").add("c", "5");
    Headers second = b.build();
    b.remove("a");
    Headers third = b.build();

    assertThat(first.asMap()).containsExactly(Map.entry("a", "1"), Map.entry("b", "2"));
    assertThat(second.asMap())
        .containsExactly(Map.entry("a", "1,3"), Map.entry("b", "4"), Map.entry("c", "5"));
    assertThat(third.asMap()).containsExactly(Map.entry("b", "4"), Map.entry("c", "5"));
  }

  @Test
  void build_ofNothing_isEmpty() {
    assertThat(Headers.builder().build().size()).isZero();
    assertThat(Headers.builder().add("a", "1").remove("A").build().size()).isZero();
  }
}
