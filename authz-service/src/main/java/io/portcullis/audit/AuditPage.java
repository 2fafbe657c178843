package io.portcullis.audit;

import io.portcullis.proto.v1.DecisionRecord;
import java.util.List;
import org.jspecify.annotations.Nullable;

/**
 * One page of audit records, newest first.
 *
 * @param records the records, each with its {@code prev_hash} and {@code hash}; a stored row whose
 *     record cannot be read is an entry with {@code unreadable} set in its place ({@link
 *     AuditStore#query})
 * @param next where the next page starts, or {@code null} when this is the last page
 */
public record AuditPage(List<DecisionRecord> records, @Nullable AuditCursor next) {
  public AuditPage {
    records = List.copyOf(records);
  }

  /** The next page's opaque cursor ({@code X-Next-Cursor}), or empty on the last page. */
  public String nextCursor() {
    return next == null ? "" : next.encode();
  }

  public io.portcullis.proto.v1.AuditPage toProto() {
    return io.portcullis.proto.v1.AuditPage.newBuilder()
        .addAllRecords(records)
        .setNextCursor(nextCursor())
        .build();
  }
}
