package io.portcullis.audit;

import static org.assertj.core.api.Assertions.assertThat;

import io.portcullis.decision.Reason;
import io.portcullis.proto.v1.DecisionRecord;
import io.portcullis.request.RequestAttributes;
import io.portcullis.testing.DecisionFixtures;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

class AuditJsonTest {
  private static final DecisionRecord RECORD =
      RecordChain.link(
          DecisionRecords.of(
              DecisionFixtures.from(RequestAttributes.builder().path("/v1/orders").build())
                  .decisionId("d-1")
                  .time(Instant.parse("2026-11-22T10:00:00.5Z"))
                  .segment("beta")
                  .dryRunAllow(Reason.RATE_LIMITED, "beta-limits"),
              "pc-1"),
          ChainHead.GENESIS);

  @Test
  void lines_writeOneCompactObjectPerRecord_withOriginalFieldNames() throws Exception {
    StringBuilder out = new StringBuilder();

    AuditJson.lines(List.of(RECORD, RECORD), out);

    String[] lines = out.toString().split("\n", -1);
    assertThat(lines).hasSize(3);
    assertThat(lines[2]).isEmpty();
    assertThat(lines[0])
        .startsWith("{\"decision_id\":\"d-1\",\"time\":\"2026-11-22T10:00:00.500Z\"")
        .contains("\"dry_run_reason\":\"rate_limited\"")
        .contains("\"dry_run_rule\":\"beta-limits\"")
        .contains("\"latency_us\":\"42\"")
        .contains("\"hash\":\"" + RECORD.getHash() + "\"")
        .doesNotContain(" ")
        .doesNotContain("decisionId");
    assertThat(AuditJson.parseLine(lines[1])).isEqualTo(RECORD);
  }

  /**
   * {@code seq} is a {@code uint64}, which protobuf's JSON prints unsigned; the store's column is a
   * signed {@code BIGINT}, so a forged negative one ({@code -5}) is printed as stored, not as
   * {@code 18446744073709551611}. The other fields and their order stay as they were.
   */
  @Test
  void line_negativeSeq_isPrintedAsStored_notAsAnUnsignedNumber() {
    DecisionRecord entry =
        DecisionRecord.newBuilder()
            .setDecisionId("d-1")
            .setInstance("pc-1")
            .setSeq(-5)
            .setPrevHash("p")
            .setHash("h")
            .setUnreadable(true)
            .build();

    assertThat(AuditJson.line(entry))
        .isEqualTo(
            "{\"decision_id\":\"d-1\",\"instance\":\"pc-1\",\"seq\":\"-5\",\"prev_hash\":\"p\","
                + "\"hash\":\"h\",\"unreadable\":true}");
    assertThat(AuditJson.line(entry.toBuilder().setSeq(Long.MAX_VALUE).build()))
        .contains("\"seq\":\"9223372036854775807\"");
  }

  @Test
  void line_recordWithALimit_printsRemainingAlsoAtZero_asAProtobufJsonString() throws Exception {
    DecisionRecord refused =
        DecisionRecords.of(
            DecisionFixtures.from(RequestAttributes.builder().path("/v1/orders").build())
                .limit(DecisionFixtures.limit("per-ip", 0))
                .deny(Reason.RATE_LIMITED, "limit 'per-ip' exhausted"),
            "pc-1");
    DecisionRecord admitted =
        DecisionRecords.of(
            DecisionFixtures.from(RequestAttributes.builder().path("/v1/orders").build())
                .limit(DecisionFixtures.limit("per-ip", 3))
                .allow(),
            "pc-1");

    assertThat(refused.getRemaining()).isZero();
    assertThat(AuditJson.line(refused)).contains("\"limit\":\"per-ip\",\"remaining\":\"0\",");
    assertThat(AuditJson.line(admitted)).contains("\"limit\":\"per-ip\",\"remaining\":\"3\",");
    assertThat(AuditJson.parseLine(AuditJson.line(refused))).isEqualTo(refused);
  }

  @Test
  void line_recordWithoutALimit_hasNeitherLimitNorRemaining() {
    assertThat(RECORD.getLimit()).isEmpty();
    assertThat(AuditJson.line(RECORD)).doesNotContain("\"limit\"").doesNotContain("remaining");
  }

  @Test
  void verification_matchesTheAdminShapes() {
    assertThat(AuditJson.verification(new ChainVerification.Intact(12)))
        .isEqualTo("{\"ok\":true,\"checked\":12}");
    assertThat(
            AuditJson.verification(
                new ChainVerification.Broken(4, "pc-1", 5, "d-5", "instance pc-1: \"x\" gone")))
        .isEqualTo(
            "{\"ok\":false,\"checked\":4,\"first_broken\":\"d-5\","
                + "\"detail\":\"instance pc-1: \\\"x\\\" gone\"}");
  }

  @Test
  void summary_listsGroupsWithNumericCounts() {
    assertThat(
            AuditJson.summary(
                List.of(
                    new SummaryRow(Map.of("segment", "beta"), 3),
                    new SummaryRow(Map.of("segment", ""), 1))))
        .isEqualTo(
            "{\"rows\":[{\"group\":{\"segment\":\"beta\"},\"count\":3},"
                + "{\"group\":{\"segment\":\"\"},\"count\":1}]}");
  }
}
