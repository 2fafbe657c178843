package io.portcullis.audit;

import io.portcullis.proto.v1.AuditSummary;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * One group of an audit summary.
 *
 * @param group the value of each requested dimension, by field name ({@code segment -> partners});
 *     an empty value means the record had none (e.g. the reason of an allow)
 * @param count how many records fall in the group
 */
public record SummaryRow(Map<String, String> group, long count) {
  public SummaryRow {
    group = Collections.unmodifiableMap(new LinkedHashMap<>(group));
  }

  /** The admin gRPC/JSON form of a whole summary. */
  public static AuditSummary toProto(List<SummaryRow> rows) {
    AuditSummary.Builder b = AuditSummary.newBuilder();
    for (SummaryRow r : rows) {
      b.addRows(AuditSummary.Row.newBuilder().putAllGroup(r.group()).setCount(r.count()));
    }
    return b.build();
  }
}
