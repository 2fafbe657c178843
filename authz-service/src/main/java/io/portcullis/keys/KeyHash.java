package io.portcullis.keys;

import io.portcullis.digest.Sha256;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.util.Arrays;

/**
 * What the key store keeps of a secret: the SHA-256 of the whole key ({@code pck_<id>_<secret>
 * <checksum>}, ASCII). Compared in constant time ({@link MessageDigest#isEqual}); never shown in
 * {@code toString}, the admin API or the CLI.
 *
 * <p>Why plain SHA-256 and not a slow password hash or an HMAC with a pepper: a key's secret has
 * 256 bits of entropy ({@link KeyFormat}), so a leaked table of hashes cannot be inverted by
 * guessing (2^256 candidates) whatever the hash costs. Slow hashes (bcrypt, Argon2) exist to make
 * guessing low-entropy passwords expensive; here they would only cost milliseconds on every cache
 * miss and make a flood of well-formed keys a cheap denial of service. A pepper (HMAC key) likewise
 * protects only guessable secrets; it would add a second secret that every instance and the CLI
 * (which opens the store directly) must share, whose loss invalidates every key. SHA-256 is
 * preimage-resistant, which is all a high-entropy secret needs. Hashing the whole key binds the
 * hash to the key id too.
 *
 * <p>Immutable and thread-safe.
 */
public final class KeyHash {
  /** Bytes of a SHA-256 digest. */
  public static final int LENGTH = 32;

  private final byte[] digest;

  private KeyHash(byte[] digest) {
    this.digest = digest;
  }

  /** The hash of a whole presented or generated key. */
  public static KeyHash of(String key) {
    return new KeyHash(Sha256.of(key.getBytes(StandardCharsets.US_ASCII)));
  }

  /**
   * A stored hash.
   *
   * @throws IllegalArgumentException if it is not {@value #LENGTH} bytes
   */
  public static KeyHash fromBytes(byte[] digest) {
    if (digest.length != LENGTH) {
      throw new IllegalArgumentException("a key hash is " + LENGTH + " bytes");
    }
    return new KeyHash(digest.clone());
  }

  /** A copy of the digest, for storing. */
  public byte[] bytes() {
    return digest.clone();
  }

  /** Constant-time comparison. */
  public boolean matches(KeyHash other) {
    return MessageDigest.isEqual(digest, other.digest);
  }

  @Override
  public boolean equals(Object o) {
    return o instanceof KeyHash h && matches(h);
  }

  @Override
  public int hashCode() {
    return Arrays.hashCode(digest);
  }

  @Override
  public String toString() {
    return "KeyHash[redacted]";
  }
}
