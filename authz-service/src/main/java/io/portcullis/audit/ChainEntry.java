package io.portcullis.audit;

import io.portcullis.proto.v1.DecisionRecord;

/**
 * One stored record of a chain as {@link AuditStore#readChain} returns it: its chain columns, and
 * the record, or, when the row's stored bytes cannot be read, the entry {@link AuditStore#query}
 * returns in its place ({@code unreadable} set, with only the row's {@code instance}, {@code seq},
 * {@code decision_id}, {@code time}, {@code prev_hash} and {@code hash}). A row cannot be read when
 * its bytes do not parse as a record, or parse as a record of another instance or {@code seq} than
 * the row's, or as one no writer makes (marked {@code unreadable}, or with a time no timestamp can
 * hold): damaged or tampered with, which {@link AuditStore#verify} reports. Such a row is returned
 * rather than failing the read, so that a reader can say which record it is and go on with the rest
 * of the chain.
 *
 * @param seq the record's place in its chain
 * @param prevHash the {@code prev_hash} column
 * @param hash the {@code hash} column
 * @param record the record with its chain fields, or the unreadable entry in its place
 */
public record ChainEntry(long seq, String prevHash, String hash, DecisionRecord record) {

  /** A readable record, with the chain columns it carries. */
  public static ChainEntry of(DecisionRecord record) {
    return new ChainEntry(record.getSeq(), record.getPrevHash(), record.getHash(), record);
  }

  /** Whether {@link #record()} is the stored record, not an unreadable entry in its place. */
  public boolean readable() {
    return !record.getUnreadable();
  }
}
