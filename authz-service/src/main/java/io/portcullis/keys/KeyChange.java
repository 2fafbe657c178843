package io.portcullis.keys;

import java.util.Objects;

/**
 * One entry of the key store's change feed: the key {@code keyId} was issued, rotated or revoked.
 * Instances that share the store poll the feed and drop what they cached of that key.
 *
 * @param seq the change's position; strictly increasing in commit order
 * @param keyId the changed key's id
 */
public record KeyChange(long seq, String keyId) {
  public KeyChange {
    Objects.requireNonNull(keyId, "keyId");
  }
}
