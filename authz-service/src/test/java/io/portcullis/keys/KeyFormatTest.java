package io.portcullis.keys;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.security.SecureRandom;
import java.util.HashSet;
import java.util.Set;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;

class KeyFormatTest {
  static final SecureRandom RANDOM = new SecureRandom();

  @Test
  void generate_makesAKeyOfTheDocumentedShape_thatScannersFind() {
    String key = KeyFormat.generate(RANDOM);

    assertThat(key).hasSize(66).startsWith("pck_");
    assertThat(key.charAt(16)).isEqualTo('_');
    assertThat(Pattern.compile(KeyFormat.SCANNER_PATTERN).matcher("leaked: " + key + " ok").find())
        .isTrue();
    assertThat(KeyFormat.idOf(key)).isEqualTo(key.substring(4, 16));
    assertThat(KeyFormat.isId(key.substring(4, 16))).isTrue();
  }

  @Test
  void secret_hasAtLeast256BitsOfEntropy() {
    double bits = KeyFormat.SECRET_LENGTH * (Math.log(62) / Math.log(2));
    assertThat(bits).isGreaterThanOrEqualTo(256.0);
  }

  @Test
  void generate_neverRepeatsIdsOrSecrets_andUsesTheWholeAlphabet() {
    Set<String> ids = new HashSet<>();
    Set<String> secrets = new HashSet<>();
    Set<Character> chars = new HashSet<>();
    for (int i = 0; i < 2000; i++) {
      String key = KeyFormat.generate(RANDOM);
      ids.add(key.substring(4, 16));
      secrets.add(key.substring(17, 60));
      for (char c : key.substring(17, 60).toCharArray()) {
        chars.add(c);
      }
    }
    assertThat(ids).hasSize(2000);
    assertThat(secrets).hasSize(2000);
    assertThat(chars).hasSize(62);
  }

  @Test
  void anySingleCharacterChanged_failsTheChecksum() {
    String key = KeyFormat.generate(RANDOM);
    for (int i = 4; i < key.length(); i++) {
      if (i == 16) {
        continue;
      }
      for (char c : KeyFormat.BASE62.toCharArray()) {
        if (c == key.charAt(i)) {
          continue;
        }
        String typo = key.substring(0, i) + c + key.substring(i + 1);
        assertThat(KeyFormat.idOf(typo)).as("position %d -> %s", i, c).isNull();
      }
    }
  }

  @Test
  void malformedStrings_areNotKeys() {
    String key = KeyFormat.generate(RANDOM);
    assertThat(KeyFormat.idOf("")).isNull();
    assertThat(KeyFormat.idOf("pck_")).isNull();
    assertThat(KeyFormat.idOf("abc_" + key.substring(4))).isNull();
    assertThat(KeyFormat.idOf(key + "0")).isNull();
    assertThat(KeyFormat.idOf(key.substring(1))).isNull();
    assertThat(KeyFormat.idOf(key.substring(0, 16) + "-" + key.substring(17))).isNull();
    assertThat(KeyFormat.idOf(key.substring(0, 20) + "é" + key.substring(21))).isNull();
    assertThat(KeyFormat.idOf(key.substring(0, 20) + "_" + key.substring(21))).isNull();
    assertThat(KeyFormat.idOf("x".repeat(100_000))).isNull();
  }

  @Test
  void withSecret_keepsTheId_andDrawsANewSecret() {
    String key = KeyFormat.generate(RANDOM);
    String id = KeyFormat.idOf(key);

    String rotated = KeyFormat.withSecret(id, RANDOM);

    assertThat(KeyFormat.idOf(rotated)).isEqualTo(id);
    assertThat(rotated).isNotEqualTo(key);
    assertThatThrownBy(() -> KeyFormat.withSecret("short", RANDOM))
        .isInstanceOf(IllegalArgumentException.class);
  }

  @Test
  void keyHash_comparesByValue_andRedactsItself() {
    String key = KeyFormat.generate(RANDOM);
    KeyHash h = KeyHash.of(key);

    assertThat(h.matches(KeyHash.of(key))).isTrue();
    assertThat(h.matches(KeyHash.of(KeyFormat.generate(RANDOM)))).isFalse();
    assertThat(KeyHash.fromBytes(h.bytes())).isEqualTo(h);
    assertThat(h.bytes()).hasSize(32);
    assertThat(h.toString()).isEqualTo("KeyHash[redacted]");
    assertThatThrownBy(() -> KeyHash.fromBytes(new byte[5]))
        .isInstanceOf(IllegalArgumentException.class);
  }
}
