package io.portcullis.keys;

import java.time.Instant;
import java.util.Objects;
import org.jspecify.annotations.Nullable;

/**
 * An API key as the store holds it: its metadata and the hashes of its secrets (never a secret).
 *
 * @param metadata what may be shown
 * @param secretHash the hash of the current secret
 * @param previousHash the hash of the secret the last rotation replaced, or {@code null} if the key
 *     was never rotated; only the one secret just replaced is remembered
 * @param previousValidUntil until when the previous secret still verifies (exclusive), or {@code
 *     null} if there is none
 */
public record StoredKey(
    KeyMetadata metadata,
    KeyHash secretHash,
    @Nullable KeyHash previousHash,
    @Nullable Instant previousValidUntil) {

  public StoredKey {
    Objects.requireNonNull(metadata, "metadata");
    Objects.requireNonNull(secretHash, "secretHash");
    if ((previousHash == null) != (previousValidUntil == null)) {
      throw new IllegalArgumentException("previousHash and previousValidUntil go together");
    }
  }

  /** A newly issued key: generation 1, no previous secret. */
  public static StoredKey issued(KeyMetadata metadata, KeyHash secretHash) {
    return new StoredKey(metadata, secretHash, null, null);
  }

  public String id() {
    return metadata.id();
  }
}
