package io.portcullis.audit;

import io.portcullis.proto.v1.DecisionRecord;
import org.jspecify.annotations.Nullable;

/**
 * One stored record of a chain as {@link AuditStore#readChain} returns it: its chain columns, and
 * the record, or {@code null} when its stored bytes do not parse as a record, or parse as a record
 * of another instance or {@code seq} than the row's, or as one no writer makes (marked {@code
 * unreadable}, or with a time no timestamp can hold): damaged or tampered with, which {@link
 * AuditStore#verify} reports. Such a row is returned rather than failing the read, so that a reader
 * can say which record it is and go on with the rest of the chain.
 *
 * @param seq the record's place in its chain
 * @param prevHash the {@code prev_hash} column
 * @param hash the {@code hash} column
 * @param record the record with its chain fields, or {@code null} if it cannot be read
 */
public record ChainEntry(long seq, String prevHash, String hash, @Nullable DecisionRecord record) {

  /** A readable record, with the chain columns it carries. */
  public static ChainEntry of(DecisionRecord record) {
    return new ChainEntry(record.getSeq(), record.getPrevHash(), record.getHash(), record);
  }
}
