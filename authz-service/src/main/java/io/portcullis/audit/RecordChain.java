package io.portcullis.audit;

import com.google.protobuf.CodedOutputStream;
import io.portcullis.digest.Sha256;
import io.portcullis.proto.v1.DecisionRecord;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.security.MessageDigest;
import java.util.HexFormat;

/**
 * The per-instance SHA-256 hash chain over decision records: what makes the audit log
 * tamper-evident.
 *
 * <p>Design note. Each instance writes its own chain; record {@code n} ({@code seq = n}, counting
 * from 1) stores the hash of record {@code n-1} as {@code prev_hash} (empty for {@code n = 1}), and
 *
 * <pre>
 *   hash = hex( SHA-256( bytes(prev_hash) || canonical(record) ) )
 * </pre>
 *
 * where {@code hex} is lower-case hexadecimal, {@code bytes(prev_hash)} is the 32 raw digest bytes
 * of the previous hash (no bytes for the first record), and {@code canonical(record)} is the
 * record's protobuf encoding with {@code prev_hash} and {@code hash} empty, written with {@code
 * CodedOutputStream#useDeterministicSerialization()}. That encoding is stable here because (1)
 * protobuf-java writes known fields in ascending field-number order and, in proto3, omits fields at
 * their default value, so equal records give equal bytes; (2) {@code DecisionRecord} has no map
 * fields (the only source of nondeterminism, which deterministic mode sorts anyway) and no repeated
 * fields; (3) the writer builds records from scratch, so they carry no unknown fields. Because
 * {@code seq}, {@code instance} and {@code time} are inside the encoding, renumbering, moving a
 * record to another chain or re-timing it changes its hash.
 *
 * <p>The store keeps these canonical bytes as they were hashed (the {@code record} column), so
 * verification hashes the stored bytes and never depends on re-encoding them: a future version of
 * the record with more fields verifies old rows unchanged. Editing a row changes its bytes or its
 * column copies (caught by the hash or the column check), deleting one breaks the {@code seq}
 * sequence and the next record's {@code prev_hash}, reordering breaks {@code seq} and the links. A
 * truncated tail is caught against the chain head the store keeps; retention deletes a chain's
 * oldest records and keeps the last deleted hash as the anchor the remaining chain starts from.
 *
 * <p>What it does not protect against: someone who can write the database and recompute every later
 * hash (the chain has no external anchor such as a signed checkpoint). It makes silent edits by an
 * operator or an attacker with SQL access detectable, as in Crosby and Wallach, "Efficient Data
 * Structures for Tamper-Evident Logging" (USENIX Security 2009), §2 (the linear hash chain).
 *
 * <p>Stateless and thread-safe.
 */
public final class RecordChain {
  private static final HexFormat HEX = HexFormat.of();

  private RecordChain() {}

  /**
   * The bytes the hash covers: {@code record} without its hash fields, deterministically encoded.
   */
  public static byte[] canonical(DecisionRecord record) {
    DecisionRecord bare =
        record.getPrevHash().isEmpty() && record.getHash().isEmpty()
            ? record
            : record.toBuilder().clearPrevHash().clearHash().build();
    byte[] out = new byte[bare.getSerializedSize()];
    CodedOutputStream cos = CodedOutputStream.newInstance(out);
    cos.useDeterministicSerialization();
    try {
      bare.writeTo(cos);
    } catch (IOException e) {
      throw new UncheckedIOException(e); // cannot happen: writing to an array of the exact size
    }
    cos.checkNoSpaceLeft();
    return out;
  }

  /**
   * The hash of a record with these canonical bytes following {@code prevHash}.
   *
   * @param prevHash the previous record's hash, or empty for an instance's first record
   * @throws IllegalArgumentException if {@code prevHash} is neither empty nor 64 hex digits
   */
  public static String hash(String prevHash, byte[] canonical) {
    MessageDigest sha256 = Sha256.newDigest();
    if (!prevHash.isEmpty()) {
      if (prevHash.length() != 64) {
        throw new IllegalArgumentException("prev_hash must be 64 hex digits");
      }
      sha256.update(HEX.parseHex(prevHash));
    }
    sha256.update(canonical);
    return HEX.formatHex(sha256.digest());
  }

  /**
   * {@code record} placed after {@code head}: {@code seq}, {@code prev_hash} and {@code hash} set.
   * Any chain fields {@code record} had are replaced.
   */
  public static DecisionRecord link(DecisionRecord record, ChainHead head) {
    return linked(record, head).record();
  }

  /**
   * As {@link #link}, keeping the canonical bytes the hash covers, so that the store need not
   * encode and hash the record again ({@link AuditStore#appendLinked}).
   */
  public static LinkedRecord linked(DecisionRecord record, ChainHead head) {
    return linked(record.toBuilder(), head);
  }

  /**
   * As {@link #linked(DecisionRecord, ChainHead)}, for a record not built yet: one build instead of
   * a build and a rebuild. {@code record} is changed (its chain fields) and must not be used after.
   */
  static LinkedRecord linked(DecisionRecord.Builder record, ChainHead head) {
    record.setSeq(head.seq() + 1);
    if (!record.getPrevHash().isEmpty() || !record.getHash().isEmpty()) {
      record.clearPrevHash().clearHash();
    }
    DecisionRecord placed = record.build();
    byte[] canonical = canonical(placed);
    return new LinkedRecord(placed, head.hash(), hash(head.hash(), canonical), canonical);
  }

  /** Whether {@code record} directly continues {@code head} and carries its correct hash. */
  public static boolean continues(DecisionRecord record, ChainHead head) {
    return record.getSeq() == head.seq() + 1
        && record.getPrevHash().equals(head.hash())
        && hashMatches(record, canonical(record));
  }

  /**
   * Whether {@code record}'s hash is the one of these canonical bytes after its {@code prev_hash};
   * false also when {@code prev_hash} is not a hash at all.
   */
  static boolean hashMatches(DecisionRecord record, byte[] canonical) {
    try {
      return record.getHash().equals(hash(record.getPrevHash(), canonical));
    } catch (IllegalArgumentException e) {
      return false;
    }
  }

  /** {@code record} with {@code seq}, {@code prev_hash} and {@code hash} cleared. */
  static DecisionRecord unchained(DecisionRecord record) {
    return record.toBuilder().clearSeq().clearPrevHash().clearHash().build();
  }
}
