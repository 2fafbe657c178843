package io.portcullis.keys;

import io.portcullis.identity.ApiKeyVerifier;
import java.security.SecureRandom;
import java.util.zip.CRC32;
import org.jspecify.annotations.Nullable;

/**
 * The API key format: {@code pck_<id>_<secret><checksum>}, for example {@code
 * pck_7Hq2xN0pLmQa_Zr4...W9k1Qe2}.
 *
 * <ul>
 *   <li>{@code pck_} — a fixed prefix, so that a key is recognizable in code, logs and pastes;
 *   <li>{@code id} — {@value #ID_LENGTH} base62 characters (about 71 random bits), the key's public
 *       id: the principal, the audit log's {@code api_key_id}, the handle of {@code keys
 *       rotate|revoke};
 *   <li>{@code secret} — {@value #SECRET_LENGTH} base62 characters drawn uniformly from {@link
 *       SecureRandom}: 43 × log2(62) ≈ 256.03 bits of entropy;
 *   <li>{@code checksum} — {@value #CHECKSUM_LENGTH} base62 characters: the CRC-32 of everything
 *       before it ({@code pck_<id>_<secret>}), left-padded with {@code 0}.
 * </ul>
 *
 * <p>Design. The layout follows GitHub's token format (prefix, base62 body, CRC-32 checksum in
 * base62; "Behind GitHub's new authentication token formats", GitHub blog, 2021): base62 keeps the
 * key one word for double-click selection and needs no URL or header escaping; the prefix and the
 * fixed length make a precise scanner pattern, {@code \bpck_[0-9A-Za-z]{12}_[0-9A-Za-z]{49}\b}; the
 * checksum lets a secret scanner (or this service) discard typos and random strings offline,
 * without a store lookup. The checksum is not a MAC: anyone can make a well-formed key, which is
 * why unknown well-formed keys are cached negatively ({@link StoredKeyVerifier}).
 *
 * <p>Parsing never uses regular expressions and never throws: a presented string either is a
 * well-formed key or {@link #parse} returns {@code null}. Thread-safe.
 */
public final class KeyFormat {
  /** The fixed prefix of every key. */
  public static final String PREFIX = ApiKeyVerifier.KEY_PREFIX;

  /** Characters of the public id. */
  public static final int ID_LENGTH = 12;

  /** Characters of the secret (≥ 256 bits of entropy). */
  public static final int SECRET_LENGTH = 43;

  /** Characters of the CRC-32 checksum in base62 (62^6 > 2^32). */
  public static final int CHECKSUM_LENGTH = 6;

  /** Characters of a whole key. */
  public static final int KEY_LENGTH =
      PREFIX.length() + ID_LENGTH + 1 + SECRET_LENGTH + CHECKSUM_LENGTH;

  /** The pattern a secret scanner can use to find leaked keys (then validate the checksum). */
  public static final String SCANNER_PATTERN = "\\bpck_[0-9A-Za-z]{12}_[0-9A-Za-z]{49}\\b";

  static final String BASE62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

  private static final int ID_START = PREFIX.length();
  private static final int SECRET_START = ID_START + ID_LENGTH + 1;
  private static final int CHECKSUM_START = SECRET_START + SECRET_LENGTH;

  private KeyFormat() {}

  /**
   * A new key: fresh random id and secret, with its checksum.
   *
   * @return the whole key; the caller shows it once and stores only its {@link KeyHash}
   */
  public static String generate(SecureRandom random) {
    return withSecret(randomBase62(random, ID_LENGTH), random);
  }

  /** A key with the given id and a fresh random secret (rotation keeps the id). */
  public static String withSecret(String id, SecureRandom random) {
    if (!isId(id)) {
      throw new IllegalArgumentException("not a key id");
    }
    String body = PREFIX + id + "_" + randomBase62(random, SECRET_LENGTH);
    return body + checksum(body, body.length());
  }

  /**
   * The id of a well-formed key, or {@code null} if {@code presented} is not one: wrong length or
   * prefix, a character outside base62, or a checksum that does not match. Never throws; allocates
   * only the id (and a CRC-32 for a candidate of the right shape).
   */
  public static @Nullable String idOf(String presented) {
    if (presented.length() != KEY_LENGTH
        || !presented.startsWith(PREFIX)
        || presented.charAt(SECRET_START - 1) != '_') {
      return null;
    }
    for (int i = ID_START; i < KEY_LENGTH; i++) {
      if (i != SECRET_START - 1 && !isBase62(presented.charAt(i))) {
        return null;
      }
    }
    long expected = crc32(presented, CHECKSUM_START);
    long actual = decodeBase62(presented, CHECKSUM_START, KEY_LENGTH);
    if (expected != actual) {
      return null;
    }
    return presented.substring(ID_START, ID_START + ID_LENGTH);
  }

  /** Whether {@code id} has the shape of a key id ({@value #ID_LENGTH} base62 characters). */
  public static boolean isId(String id) {
    if (id.length() != ID_LENGTH) {
      return false;
    }
    for (int i = 0; i < id.length(); i++) {
      if (!isBase62(id.charAt(i))) {
        return false;
      }
    }
    return true;
  }

  /** The base62 CRC-32 of {@code s}'s first {@code length} characters (ASCII). */
  static String checksum(String s, int length) {
    long crc = crc32(s, length);
    char[] out = new char[CHECKSUM_LENGTH];
    for (int i = CHECKSUM_LENGTH - 1; i >= 0; i--) {
      out[i] = BASE62.charAt((int) (crc % 62));
      crc /= 62;
    }
    return new String(out);
  }

  private static long crc32(String s, int length) {
    CRC32 crc = new CRC32();
    for (int i = 0; i < length; i++) {
      crc.update(s.charAt(i)); // base62 and '_' are ASCII: one byte each
    }
    return crc.getValue();
  }

  private static long decodeBase62(String s, int from, int to) {
    long v = 0;
    for (int i = from; i < to; i++) {
      v = v * 62 + digit(s.charAt(i));
    }
    return v;
  }

  private static int digit(char c) {
    if (c >= '0' && c <= '9') {
      return c - '0';
    }
    if (c >= 'A' && c <= 'Z') {
      return c - 'A' + 10;
    }
    return c - 'a' + 36;
  }

  private static boolean isBase62(char c) {
    return (c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z');
  }

  /** Uniform base62 characters: {@code nextInt(62)} draws without modulo bias. */
  private static String randomBase62(SecureRandom random, int length) {
    char[] out = new char[length];
    for (int i = 0; i < length; i++) {
      out[i] = BASE62.charAt(random.nextInt(62));
    }
    return new String(out);
  }
}
