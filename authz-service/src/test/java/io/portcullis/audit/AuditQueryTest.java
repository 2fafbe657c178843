package io.portcullis.audit;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.google.protobuf.Timestamp;
import io.portcullis.proto.v1.AuditSummaryRequest;
import java.time.Instant;
import org.junit.jupiter.api.Test;

class AuditQueryTest {

  @Test
  void builder_limitOutsideOneToThousand_isRejected() {
    assertThat(AuditQuery.builder().limit(1000).build().limit()).isEqualTo(1000);
    assertThatThrownBy(() -> AuditQuery.builder().limit(1001).build())
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("1000");
    assertThatThrownBy(() -> AuditQuery.builder().limit(0).build())
        .isInstanceOf(IllegalArgumentException.class);
  }

  @Test
  void builder_emptyStringsMeanNoFilter_andDecisionMustBeAllowOrDeny() {
    AuditQuery q = AuditQuery.builder().segment("").principal("").decision("").cursor("").build();
    assertThat(q).isEqualTo(AuditQuery.all());
    assertThatThrownBy(() -> AuditQuery.builder().decision("maybe").build())
        .hasMessageContaining("allow or deny");
  }

  @Test
  void cursor_roundTripsThroughItsOpaqueForm() {
    AuditCursor c = new AuditCursor(1_763_805_600_123_456L, 42);
    String text = c.encode();

    assertThat(text).matches("[A-Za-z0-9_-]+");
    assertThat(AuditCursor.parse(text)).isEqualTo(c);
  }

  @Test
  void cursor_garbage_isRejectedAsInvalid() {
    assertThatThrownBy(() -> AuditCursor.parse("not a cursor!"))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessage("invalid cursor");
    assertThatThrownBy(() -> AuditQuery.builder().cursor("bm9wZQ").build())
        .hasMessage("invalid cursor");
  }

  @Test
  void fromProto_mapsEveryFilter() {
    AuditCursor cursor = new AuditCursor(5, 6);
    io.portcullis.proto.v1.AuditQuery p =
        io.portcullis.proto.v1.AuditQuery.newBuilder()
            .setSince(Timestamp.newBuilder().setSeconds(100))
            .setUntil(Timestamp.newBuilder().setSeconds(200))
            .setDecision("deny")
            .setReason("rate_limited")
            .setSegment("partners")
            .setPrincipal("alice")
            .setClient("acme")
            .setSourceIp("10.0.0.1")
            .setPathPrefix("/v1/")
            .setLimit(50)
            .setCursor(cursor.encode())
            .setDryRun(true)
            .build();

    assertThat(AuditQuery.fromProto(p))
        .isEqualTo(
            new AuditQuery(
                Instant.ofEpochSecond(100),
                Instant.ofEpochSecond(200),
                "deny",
                "rate_limited",
                "partners",
                "alice",
                "acme",
                "10.0.0.1",
                "/v1/",
                true,
                50,
                cursor));
    assertThat(AuditQuery.fromProto(io.portcullis.proto.v1.AuditQuery.getDefaultInstance()))
        .isEqualTo(AuditQuery.all());
  }

  @Test
  void summaryDimensions_parseFromGroupByList() {
    assertThat(SummaryDimension.parseList("segment, decision,,dry_run_reason,segment"))
        .containsExactly(
            SummaryDimension.SEGMENT, SummaryDimension.DECISION, SummaryDimension.DRY_RUN_REASON);
    assertThat(SummaryDimension.parseList("dry_run_reason,segment,dry_run_rule"))
        .containsExactly(
            SummaryDimension.DRY_RUN_REASON,
            SummaryDimension.SEGMENT,
            SummaryDimension.DRY_RUN_RULE);
    assertThatThrownBy(() -> SummaryDimension.parseList("segment,path"))
        .hasMessageContaining("'path'")
        .hasMessageContaining("dry_run_rule");
  }

  @Test
  void grpcRequests_nameEveryFilterFieldAsTheHttpParameter_soOneParserReadsBoth() {
    // fromProto finds the fields by these names: a renamed field would silently filter nothing.
    for (String name : AuditFilters.NAMES) {
      assertThat(io.portcullis.proto.v1.AuditQuery.getDescriptor().findFieldByName(name))
          .as("AuditQuery.%s", name)
          .isNotNull();
      if (!name.equals("cursor")) {
        assertThat(AuditSummaryRequest.getDescriptor().findFieldByName(name))
            .as("AuditSummaryRequest.%s", name)
            .isNotNull();
      }
    }
  }

  @Test
  void fromProto_summaryRequest_readsEveryFilterAndTheLimit() {
    AuditSummaryRequest r =
        AuditSummaryRequest.newBuilder()
            .setSince(Timestamp.newBuilder().setSeconds(1_700_000_000))
            .setUntil(Timestamp.newBuilder().setSeconds(1_700_003_600))
            .setDecision("allow")
            .setReason("invalid_token")
            .setSegment("partners")
            .setPrincipal("alice")
            .setClient("acme")
            .setSourceIp("::ffff:10.0.0.2")
            .setPathPrefix("/v1")
            .setDryRun(true)
            .setLimit(7)
            .build();

    assertThat(AuditQuery.fromProto(r))
        .isEqualTo(
            AuditQuery.builder()
                .since(Instant.ofEpochSecond(1_700_000_000))
                .until(Instant.ofEpochSecond(1_700_003_600))
                .decision("allow")
                .reason("invalid_token")
                .segment("partners")
                .principal("alice")
                .client("acme")
                .sourceIp("10.0.0.2")
                .pathPrefix("/v1")
                .dryRunOnly()
                .limit(7)
                .build());
    assertThat(AuditQuery.fromProto(AuditSummaryRequest.getDefaultInstance()))
        .isEqualTo(AuditQuery.all());
  }
}
