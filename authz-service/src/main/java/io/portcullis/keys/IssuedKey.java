package io.portcullis.keys;

import io.portcullis.identity.Secret;
import java.time.Instant;
import java.util.Objects;
import org.jspecify.annotations.Nullable;

/**
 * A key just issued or rotated, with its new secret: the only moment the secret exists outside the
 * client. Show {@link #key()} once and drop it.
 *
 * @param metadata the key as stored afterwards
 * @param key the whole key ({@code pck_...}); redacted in {@code toString}
 * @param previousValidUntil after a rotation, until when the replaced secret still verifies; {@code
 *     null} after an issue
 */
public record IssuedKey(KeyMetadata metadata, Secret key, @Nullable Instant previousValidUntil) {
  public IssuedKey {
    Objects.requireNonNull(metadata, "metadata");
    Objects.requireNonNull(key, "key");
  }

  public String id() {
    return metadata.id();
  }
}
