package io.portcullis.audit;

import java.util.Objects;

/**
 * The end of an instance's hash chain: the newest record's position and hash.
 *
 * @param seq the newest record's {@code seq}; 0 before the first record
 * @param hash the newest record's hash (lower-case hex SHA-256); empty before the first record
 */
public record ChainHead(long seq, String hash) {
  /** The head of an instance that has never written a record. */
  public static final ChainHead GENESIS = new ChainHead(0, "");

  public ChainHead {
    if (seq < 0) {
      throw new IllegalArgumentException("seq must not be negative");
    }
    Objects.requireNonNull(hash, "hash");
  }
}
