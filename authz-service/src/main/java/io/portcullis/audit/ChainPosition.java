package io.portcullis.audit;

/**
 * Where one instance's chain stands in the store: the records {@code anchor.seq < seq <= head.seq}
 * are stored, those up to the anchor were deleted by retention.
 *
 * @param instance the chain
 * @param anchor the last record retention deleted; {@link ChainHead#GENESIS} if it deleted none
 * @param head the newest stored record; {@link ChainHead#GENESIS} before the first
 */
public record ChainPosition(String instance, ChainHead anchor, ChainHead head) {

  /** The {@code seq} of the last record retention deleted; 0 if it deleted none. */
  public long anchorSeq() {
    return anchor.seq();
  }

  /** The {@code seq} of the newest stored record; 0 before the first. */
  public long headSeq() {
    return head.seq();
  }
}
