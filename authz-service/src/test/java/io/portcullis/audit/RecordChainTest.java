package io.portcullis.audit;

import static org.assertj.core.api.Assertions.assertThat;

import com.google.protobuf.Timestamp;
import io.portcullis.proto.v1.DecisionRecord;
import java.security.MessageDigest;
import java.util.HexFormat;
import org.junit.jupiter.api.Test;

class RecordChainTest {
  private static final DecisionRecord R =
      DecisionRecord.newBuilder()
          .setDecisionId("d-1")
          .setTime(Timestamp.newBuilder().setSeconds(1_700_000_000).setNanos(123_000))
          .setInstance("pc-1")
          .setPath("/v1/orders")
          .setDecision("allow")
          .setStatus(200)
          .build();

  private static String sha256Hex(byte[]... parts) throws Exception {
    MessageDigest md = MessageDigest.getInstance("SHA-256");
    for (byte[] p : parts) {
      md.update(p);
    }
    return HexFormat.of().formatHex(md.digest());
  }

  @Test
  void link_firstRecord_hashesItsCanonicalBytesAlone() throws Exception {
    DecisionRecord first = RecordChain.link(R, ChainHead.GENESIS);

    assertThat(first.getSeq()).isEqualTo(1);
    assertThat(first.getPrevHash()).isEmpty();
    assertThat(first.getHash())
        .isEqualTo(sha256Hex(R.toBuilder().setSeq(1).build().toByteArray()))
        .matches("[0-9a-f]{64}");
  }

  @Test
  void link_laterRecord_hashesPreviousDigestBytesThenCanonicalBytes() throws Exception {
    DecisionRecord first = RecordChain.link(R, ChainHead.GENESIS);
    DecisionRecord second =
        RecordChain.link(
            R.toBuilder().setDecisionId("d-2").build(), new ChainHead(1, first.getHash()));

    byte[] canonical =
        second.toBuilder().clearPrevHash().clearHash().build().toByteArray(); // seq 2 included
    assertThat(second.getSeq()).isEqualTo(2);
    assertThat(second.getPrevHash()).isEqualTo(first.getHash());
    assertThat(second.getHash())
        .isEqualTo(sha256Hex(HexFormat.of().parseHex(first.getHash()), canonical));
    assertThat(RecordChain.continues(second, new ChainHead(1, first.getHash()))).isTrue();
  }

  @Test
  void linked_ofAnUnbuiltRecord_isTheSameAsOfTheBuiltOne() {
    ChainHead head = RecordChain.linked(R, ChainHead.GENESIS).head();
    DecisionRecord withStaleChain = R.toBuilder().setPrevHash("ab").setHash("cd").setSeq(9).build();

    LinkedRecord built = RecordChain.linked(withStaleChain, head);
    LinkedRecord unbuilt = RecordChain.linked(withStaleChain.toBuilder(), head);

    assertThat(unbuilt.record()).isEqualTo(built.record());
    assertThat(unbuilt.record().getSeq()).isEqualTo(2);
    assertThat(unbuilt.head()).isEqualTo(built.head());
    assertThat(unbuilt.canonical()).isEqualTo(built.canonical());
    assertThat(RecordChain.continues(unbuilt.record(), head)).isTrue();
  }

  @Test
  void canonical_excludesTheHashFields_andIsIndependentOfBuildOrder() {
    DecisionRecord linked = RecordChain.link(R, ChainHead.GENESIS);
    DecisionRecord sameOtherOrder =
        DecisionRecord.newBuilder()
            .setSeq(1)
            .setStatus(200)
            .setDecision("allow")
            .setPath("/v1/orders")
            .setInstance("pc-1")
            .setTime(Timestamp.newBuilder().setSeconds(1_700_000_000).setNanos(123_000))
            .setDecisionId("d-1")
            .build();

    assertThat(RecordChain.canonical(linked)).isEqualTo(RecordChain.canonical(sameOtherOrder));
  }

  @Test
  void continues_anyChangedFieldOrWrongPosition_isFalse() {
    DecisionRecord first = RecordChain.link(R, ChainHead.GENESIS);
    ChainHead h = ChainHead.GENESIS;

    assertThat(RecordChain.continues(first, h)).isTrue();
    assertThat(RecordChain.continues(first.toBuilder().setStatus(403).build(), h)).isFalse();
    assertThat(RecordChain.continues(first.toBuilder().setInstance("pc-2").build(), h)).isFalse();
    assertThat(RecordChain.continues(first.toBuilder().setSeq(2).build(), h)).isFalse();
    assertThat(RecordChain.continues(first, new ChainHead(1, first.getHash()))).isFalse();
  }

  /**
   * A rate-limited record with nothing remaining hashes as records always have: {@code remaining}
   * at 0 is not encoded (proto3, no presence). Giving the field presence would encode it and change
   * the canonical bytes of every such record written from then on, so the JSON form prints it
   * instead ({@link AuditJson#line}). The hash is pinned as the code before that fix computed it.
   */
  @Test
  void canonical_ofALimitWithNothingRemaining_omitsRemaining_andHashesAsBefore() {
    DecisionRecord limited =
        R.toBuilder()
            .setDecision("deny")
            .setStatus(429)
            .setReason("rate_limited")
            .setLimit("per-ip")
            .setRemaining(0)
            .build();

    DecisionRecord first = RecordChain.link(limited, ChainHead.GENESIS);

    assertThat(RecordChain.canonical(first))
        .isEqualTo(RecordChain.canonical(first.toBuilder().clearRemaining().build()));
    assertThat(first.getHash())
        .isEqualTo("0fb6243a2030f1cbb9865446d12575a352082d062f5f3d123c8ef3b20f1478ef");
    assertThat(RecordChain.continues(first, ChainHead.GENESIS)).isTrue();
  }
}
