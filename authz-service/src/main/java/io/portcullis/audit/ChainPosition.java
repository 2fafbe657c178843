package io.portcullis.audit;

/**
 * Where one instance's chain stands in the store: the records {@code anchorSeq < seq <= headSeq}
 * are stored, those up to the anchor were deleted by retention.
 *
 * @param instance the chain
 * @param anchorSeq the last record retention deleted; 0 if it deleted none
 * @param headSeq the newest stored record; 0 before the first
 */
public record ChainPosition(String instance, long anchorSeq, long headSeq) {}
