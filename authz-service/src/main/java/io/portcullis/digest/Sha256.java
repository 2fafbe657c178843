package io.portcullis.digest;

import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;

/**
 * SHA-256 for the whole service: token cache keys, API-key hashes, the audit chain, policy versions
 * and digests of credential-bearing limit keys. A fresh digest is a clone of one prototype, which
 * skips the security-provider lookup {@link MessageDigest#getInstance} makes on every call (it
 * shows on the decision path). Thread-safe: every call gets its own digest.
 */
public final class Sha256 {
  private static final MessageDigest PROTOTYPE = lookup();

  private Sha256() {}

  /** A fresh SHA-256 digest, to be updated and used by one thread. */
  public static MessageDigest newDigest() {
    try {
      return (MessageDigest) PROTOTYPE.clone();
    } catch (CloneNotSupportedException e) {
      return lookup();
    }
  }

  /** The SHA-256 of {@code bytes}. */
  public static byte[] of(byte[] bytes) {
    return newDigest().digest(bytes);
  }

  /** The SHA-256 of {@code text} in UTF-8. */
  public static byte[] of(String text) {
    return of(text.getBytes(StandardCharsets.UTF_8));
  }

  private static MessageDigest lookup() {
    try {
      return MessageDigest.getInstance("SHA-256");
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException("SHA-256 is required of every Java platform", e);
    }
  }
}
