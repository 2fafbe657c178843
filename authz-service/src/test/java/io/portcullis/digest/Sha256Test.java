package io.portcullis.digest;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.charset.StandardCharsets;
import java.util.HexFormat;
import org.junit.jupiter.api.Test;

class Sha256Test {
  // FIPS 180-2, appendix B.1
  private static final String ABC =
      "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";

  @Test
  void of_matchesTheStandardTestVector() {
    assertThat(HexFormat.of().formatHex(Sha256.of("abc"))).isEqualTo(ABC);
    assertThat(HexFormat.of().formatHex(Sha256.of("abc".getBytes(StandardCharsets.UTF_8))))
        .isEqualTo(ABC);
  }

  @Test
  void newDigest_isFreshEveryTime_soOneCallerCannotSpoilAnother() {
    var a = Sha256.newDigest();
    a.update("left over".getBytes(StandardCharsets.UTF_8));
    var b = Sha256.newDigest();
    b.update("abc".getBytes(StandardCharsets.UTF_8));
    assertThat(b).isNotSameAs(a);
    assertThat(HexFormat.of().formatHex(b.digest())).isEqualTo(ABC);
  }
}
