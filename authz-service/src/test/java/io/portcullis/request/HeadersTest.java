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
  void manyRepeatsOfOneName_joinInLinearTime() {
    Headers h =
        org.junit.jupiter.api.Assertions.assertTimeoutPreemptively(
            java.time.Duration.ofSeconds(2),
            () -> {
              Headers.Builder b = Headers.builder();
              for (int i = 0; i < 200_000; i++) {
                b.add("a", "xy");
              }
              return b.build();
            });

    assertThat(h.get("a")).hasSize(200_000 * 3 - 1).startsWith("xy,xy,").endsWith(",xy");
  }

  @Test
  void repeatsJoined_thenSetOrRemoved_keepTheLastWord() {
    Headers h = Headers.builder().add("a", "1").add("a", "2").set("a", "3").add("a", "4").build();
    assertThat(h.get("a")).isEqualTo("3,4");
    Headers g = Headers.builder().add("b", "1").add("b", "2").remove("b").add("b", "5").build();
    assertThat(g.get("b")).isEqualTo("5");
  }

  @Test
  void build_ofNothing_isEmpty() {
    assertThat(Headers.builder().build().size()).isZero();
    assertThat(Headers.builder().add("a", "1").remove("A").build().size()).isZero();
  }
}
