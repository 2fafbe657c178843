package io.portcullis.audit;

import java.nio.charset.StandardCharsets;
import java.util.Base64;

/**
 * Where a page of newest-first audit records ended: the sort key of its last record. The next page
 * holds the records strictly older in the order {@code (time, row id)}, so paging is a keyset seek
 * (no offset) and stays correct while new records arrive.
 *
 * <p>Clients see it only as an opaque string ({@link #encode()}); its layout may change between
 * versions (a cursor of another version is invalid, and the client starts from the first page).
 *
 * @param timeMicros the last record's time, epoch microseconds
 * @param rowId the last record's row id (orders records of equal time; ids only grow)
 */
public record AuditCursor(long timeMicros, long rowId) {
  private static final String VERSION = "2";

  /** The opaque text form: URL-safe base64 without padding. */
  public String encode() {
    String plain = VERSION + "." + timeMicros + "." + rowId;
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
      String[] parts = plain.split("\\.", -1);
      if (parts.length != 3 || !parts[0].equals(VERSION)) {
        throw new IllegalArgumentException("invalid cursor");
      }
      return new AuditCursor(Long.parseLong(parts[1]), Long.parseLong(parts[2]));
    } catch (IllegalArgumentException e) { // includes NumberFormatException
      throw new IllegalArgumentException("invalid cursor", e);
    }
  }

  @Override
  public String toString() {
    return encode();
  }
}
