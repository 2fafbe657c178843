package io.portcullis.audit;

import io.portcullis.proto.v1.VerifyAuditResponse;

/** The outcome of walking the stored hash chains ({@link AuditStore#verify()}). */
public sealed interface ChainVerification
    permits ChainVerification.Intact, ChainVerification.Broken {

  /** Records checked before the walk ended. */
  long checked();

  VerifyAuditResponse toProto();

  /**
   * Every chain is unbroken.
   *
   * @param checked records checked
   */
  record Intact(long checked) implements ChainVerification {
    @Override
    public VerifyAuditResponse toProto() {
      return VerifyAuditResponse.newBuilder().setOk(true).setChecked(checked).build();
    }
  }

  /**
   * The first broken record found (instances in name order, records in chain order).
   *
   * @param checked records that verified before it
   * @param instance the chain
   * @param seq the broken record's position ({@code seq} column)
   * @param decisionId its decision id; for records missing at the end of a chain, the last record
   *     still present (empty if none is)
   * @param detail what is wrong, for operators (e.g. "record seq 41 is missing (deleted)")
   */
  record Broken(long checked, String instance, long seq, String decisionId, String detail)
      implements ChainVerification {
    @Override
    public VerifyAuditResponse toProto() {
      return VerifyAuditResponse.newBuilder()
          .setOk(false)
          .setChecked(checked)
          .setFirstBroken(decisionId)
          .setDetail(detail)
          .build();
    }
  }
}
