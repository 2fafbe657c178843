package io.portcullis.audit;

import java.nio.charset.StandardCharsets;
import java.util.Base64;
import java.util.Objects;

/**
 * Where a page of newest-first audit records ended: the sort key of its last record. The next page
 * holds the records strictly older in the order {@code (time, decision_id, row id)}, so paging is a
 * keyset seek (no offset) and stays correct while new records arrive.
 *
 * <p>Clients see it only as an opaque string ({@link #encode()}); its layout may change between
 * versions.
 *
 * @param timeMicros the last record's time, epoch microseconds
 * @param decisionId the last record's decision id
 * @param rowId the last record's row id (ties between equal times and ids)
 */
public record AuditCursor(long timeMicros, String decisionId, long rowId) {
  private static final String VERSION = "1";

  public AuditCursor {
    Objects.requireNonNull(decisionId, "decisionId");
  }

  /** The opaque text form: URL-safe base64 without padding. */
  public String encode() {
    String plain = VERSION + "." + timeMicros + "." + rowId + "." + decisionId;
    return Base64.getUrlEncoder()
        .withoutPadding()
        .encodeToString(plain.getBytes(StandardCharsets.UTF_8));
  }

  /**
   * Parses {@link #encode()}'s output.
   *
   * @throws IllegalArgumentException if {@code text} is not a cursor this version issued
   */
  public static AuditCursor parse(String text) {
    try {
      String plain = new String(Base64.getUrlDecoder().decode(text), StandardCharsets.UTF_8);
      String[] parts = plain.split("\\.", 4);
      if (parts.length != 4 || !parts[0].equals(VERSION)) {
        throw new IllegalArgumentException("invalid cursor");
      }
      return new AuditCursor(Long.parseLong(parts[1]), parts[3], Long.parseLong(parts[2]));
    } catch (IllegalArgumentException e) { // includes NumberFormatException
      throw new IllegalArgumentException("invalid cursor", e);
    }
  }

  @Override
  public String toString() {
    return encode();
  }
}
