package io.portcullis.audit;

import io.portcullis.proto.v1.DecisionRecord;

/**
 * A record placed in a chain by {@link RecordChain#linked}, with the canonical bytes its hash was
 * computed over.
 *
 * <p>Only {@link RecordChain} makes these, and only by hashing those bytes, so holding one is proof
 * that its hash matches its content: {@link AuditStore#appendLinked} stores it after checking that
 * it continues the chain ({@code seq}, {@code prev_hash}) without encoding and hashing it again.
 * Records from anywhere else (the journal on disk, a caller of {@link AuditStore#append}) are plain
 * {@link DecisionRecord}s and get the full check. Immutable and thread-safe.
 */
public final class LinkedRecord {
  private final DecisionRecord content;
  private final String prevHash;
  private final String hash;
  private final byte[] canonical;

  /**
   * @param content the record with {@code seq} set and {@code prev_hash}, {@code hash} empty
   * @param canonical {@link RecordChain#canonical} of {@code content}, not to be modified
   */
  LinkedRecord(DecisionRecord content, String prevHash, String hash, byte[] canonical) {
    this.content = content;
    this.prevHash = prevHash;
    this.hash = hash;
    this.canonical = canonical;
  }

  /** The whole record, chain fields set (built on each call: for the journal and for callers). */
  public DecisionRecord record() {
    return content.toBuilder().setPrevHash(prevHash).setHash(hash).build();
  }

  public long seq() {
    return content.getSeq();
  }

  public String prevHash() {
    return prevHash;
  }

  public String hash() {
    return hash;
  }

  /** The chain position after this record. */
  public ChainHead head() {
    return new ChainHead(content.getSeq(), hash);
  }

  /** The record without {@code prev_hash} and {@code hash} ({@code seq} set). */
  DecisionRecord content() {
    return content;
  }

  /** The bytes the hash covers; shared, not copied: callers in this package never modify it. */
  byte[] canonical() {
    return canonical;
  }
}
