package io.portcullis.audit;

import com.google.protobuf.InvalidProtocolBufferException;
import com.google.protobuf.util.JsonFormat;
import io.portcullis.proto.v1.DecisionRecord;
import java.io.IOException;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import tools.jackson.databind.json.JsonMapper;

/**
 * The JSON forms of audit results, shared by the admin HTTP API and the CLI (interfaces.md "Admin
 * JSON shapes"): records as JSON lines of protobuf JSON with the original snake_case field names
 * (so {@code int64}/{@code uint64} fields such as {@code remaining}, {@code latency_us} and {@code
 * seq} are strings, and fields at their default are omitted, as protobuf's JSON mapping says), the
 * verify result and the summary as plain JSON objects. Thread-safe.
 *
 * <p>{@code seq} is printed as the store's signed column holds it: a forged negative one as {@code
 * "-5"}, not as the unsigned number protobuf's JSON makes of it. No writer makes such a {@code
 * seq}; it can only come from a damaged or edited row.
 *
 * <p>One exception to the omission: {@code remaining} is printed whenever {@code limit} is set,
 * also when it is 0 (the contract has "{@code limit} and {@code remaining} when a limit applied"; a
 * refused request has 0 left). The record itself is not changed for that: {@code remaining} stays a
 * proto3 field without presence, so records keep the canonical bytes their hashes cover ({@link
 * RecordChain}) and records stored before print the same way.
 */
public final class AuditJson {
  /** The media type of {@link #lines}. */
  public static final String NDJSON = "application/x-ndjson";

  private static final JsonFormat.Printer PRINTER =
      JsonFormat.printer().preservingProtoFieldNames().omittingInsignificantWhitespace();

  /** {@link #PRINTER} that also prints {@code remaining} at 0: for records with a limit. */
  private static final JsonFormat.Printer WITH_REMAINING =
      PRINTER.includingDefaultValueFields(
          Set.of(
              DecisionRecord.getDescriptor()
                  .findFieldByNumber(DecisionRecord.REMAINING_FIELD_NUMBER)));

  private static final JsonFormat.Parser PARSER = JsonFormat.parser();
  private static final JsonMapper MAPPER = JsonMapper.builder().build();

  private AuditJson() {}

  /**
   * One record as a single line of JSON (no trailing newline); {@code remaining} is present
   * whenever {@code limit} is.
   */
  public static String line(DecisionRecord record) {
    String line;
    try {
      line = (record.getLimit().isEmpty() ? PRINTER : WITH_REMAINING).print(record);
    } catch (InvalidProtocolBufferException e) {
      // Only Any fields with unknown types fail to print; DecisionRecord has none.
      throw new IllegalStateException(e);
    }
    long seq = record.getSeq();
    if (seq < 0) {
      // A uint64 at or above 2^63, which protobuf prints unsigned: only a forged row's signed seq
      // column (-5 read as 18446744073709551611) gets here; print it as stored. Quotes inside a
      // string value are escaped, so this text can only be the seq field itself.
      String unsigned = "\"seq\":\"" + Long.toUnsignedString(seq) + "\"";
      line = line.replace(unsigned, "\"seq\":\"" + seq + "\"");
    }
    return line;
  }

  /** Writes each record as one JSON line ending in {@code \n}. */
  public static void lines(List<DecisionRecord> records, Appendable out) throws IOException {
    for (DecisionRecord r : records) {
      out.append(line(r)).append('\n');
    }
  }

  /** Parses one line written by {@link #line}. */
  public static DecisionRecord parseLine(String json) throws InvalidProtocolBufferException {
    DecisionRecord.Builder b = DecisionRecord.newBuilder();
    PARSER.merge(json, b);
    return b.build();
  }

  /**
   * {@code {"ok":true,"checked":N}} or {@code
   * {"ok":false,"checked":N,"first_broken":"<decision_id>","detail":"..."}}.
   */
  public static String verification(ChainVerification v) {
    Map<String, Object> m = new LinkedHashMap<>();
    switch (v) {
      case ChainVerification.Intact i -> {
        m.put("ok", true);
        m.put("checked", i.checked());
      }
      case ChainVerification.Broken b -> {
        m.put("ok", false);
        m.put("checked", b.checked());
        m.put("first_broken", b.decisionId());
        m.put("detail", b.detail());
      }
    }
    return MAPPER.writeValueAsString(m);
  }

  /**
   * {@code {"since":"…","until":"…","width_seconds":60,"buckets":[{"start":"…","allow":3,"deny":1,
   * "dry_run":0},...]}}: the {@code dry_run} allows are also counted in {@code allow}.
   */
  public static String timeline(
      Instant since, Instant until, Duration width, List<TimelineBucket> buckets) {
    Map<String, Object> m = new LinkedHashMap<>();
    m.put("since", since.toString());
    m.put("until", until.toString());
    m.put("width_seconds", width.toSeconds());
    List<Map<String, Object>> out = new ArrayList<>(buckets.size());
    for (TimelineBucket b : buckets) {
      Map<String, Object> row = new LinkedHashMap<>();
      row.put("start", b.start().toString());
      row.put("allow", b.allow());
      row.put("deny", b.deny());
      row.put("dry_run", b.dryRun());
      out.add(row);
    }
    m.put("buckets", out);
    return MAPPER.writeValueAsString(m);
  }

  /** {@code {"rows":[{"group":{"segment":"partners"},"count":42},...]}}. */
  public static String summary(List<SummaryRow> rows) {
    List<Map<String, Object>> out = new ArrayList<>(rows.size());
    for (SummaryRow r : rows) {
      Map<String, Object> row = new LinkedHashMap<>();
      row.put("group", new LinkedHashMap<>(r.group()));
      row.put("count", r.count());
      out.add(row);
    }
    return MAPPER.writeValueAsString(Map.of("rows", out));
  }
}
