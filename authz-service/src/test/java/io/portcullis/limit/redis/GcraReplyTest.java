package io.portcullis.limit.redis;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.portcullis.limit.LimitBackendException;
import org.junit.jupiter.api.Test;

/** The parsing of gcra.lua's one-string reply, on hand-written replies. */
class GcraReplyTest {
  private static final String NOW = "1795394159186952";

  @Test
  void split_givesEachRequestItsLine_andTheSharedRedisTime() {
    String text = NOW + "\n1,1,3,250000,0,0\nEWRONGTYPE Operation\n0,0,0,7,8,9,1,5,0,0,4";

    GcraReply[] lines = GcraReply.split(text, 3);

    assertThat(lines).extracting(GcraReply::redisNow).containsOnly(1795394159186952L);
    assertThat(lines[0].values(1)).containsExactly(1, 1, 3, 250000, 0, 0);
    assertThat(lines[1].failed()).isTrue();
    assertThat(lines[1].error()).isEqualTo("WRONGTYPE Operation");
    assertThat(lines[2].values(2)).containsExactly(0, 0, 0, 7, 8, 9, 1, 5, 0, 0, 4);
  }

  @Test
  void values_readNegativeAndNineteenDigitIntegers() {
    GcraReply line = GcraReply.split(NOW + "\n1,-1,9223372036854775807,0,-42,0", 1)[0];

    assertThat(line.values(1)).containsExactly(1, -1, Long.MAX_VALUE, 0, -42, 0);
  }

  @Test
  void split_moreOrFewerLinesThanRequests_isMalformed() {
    String two = NOW + "\n1,1,0,0,0,0\n1,1,0,0,0,0";

    assertThatThrownBy(() -> GcraReply.split(two, 3))
        .isInstanceOf(LimitBackendException.class)
        .hasMessageContaining("2 lines for 3 requests");
    assertThatThrownBy(() -> GcraReply.split(two, 1))
        .isInstanceOf(LimitBackendException.class)
        .hasMessageContaining("more lines");
    assertThatThrownBy(() -> GcraReply.split(NOW, 1)).isInstanceOf(LimitBackendException.class);
    assertThatThrownBy(() -> GcraReply.split(NOW + "\n\n1,1,0,0,0,0", 2))
        .isInstanceOf(LimitBackendException.class)
        .hasMessageContaining("empty line");
  }

  @Test
  void values_oneValueMoreOrLessThanTheBuckets_isMalformed() {
    GcraReply[] lines = GcraReply.split(NOW + "\n1,1,0,0,0\n1,1,0,0,0,0,1\n1,1,0,0,0,0", 3);

    assertThatThrownBy(() -> lines[0].values(1)).isInstanceOf(LimitBackendException.class);
    assertThatThrownBy(() -> lines[1].values(1)).isInstanceOf(LimitBackendException.class);
    assertThatThrownBy(() -> lines[2].values(2)).isInstanceOf(LimitBackendException.class);
    assertThat(lines[2].values(1)).containsExactly(1, 1, 0, 0, 0, 0);
  }

  @Test
  void values_notAnInteger_isMalformed() {
    GcraReply[] lines = GcraReply.split(NOW + "\n1,1,1.5e+15,0,0,0\n1,1,,0,0,0", 2);

    assertThatThrownBy(() -> lines[0].values(1))
        .isInstanceOf(LimitBackendException.class)
        .hasMessageContaining("1.5e+15");
    assertThatThrownBy(() -> lines[1].values(1)).isInstanceOf(LimitBackendException.class);
  }
}
