package io.portcullis.audit;

import com.google.protobuf.InvalidProtocolBufferException;
import io.portcullis.proto.v1.DecisionRecord;
import io.portcullis.store.OwnerOnly;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.channels.OverlappingFileLockException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.zip.CRC32C;
import org.jspecify.annotations.Nullable;

/**
 * The audit writer's local, append-only spill file: chained records that could not be stored yet,
 * in chain order, replayed when the store is back.
 *
 * <p>Design note. Layout: an 8-byte header {@code PCAJRNL1}, then entries {@code [length: int32
 * big-endian][crc: int32 big-endian CRC32C of the payload][payload: a serialized DecisionRecord
 * with its chain fields]}. A batch is written with one positional write and made durable with one
 * {@code fdatasync} ({@link FileChannel#force force(false)}), so after a crash the file holds every
 * batch that {@link #append} returned for, and possibly a torn last entry. {@link #open} scans the
 * file; an entry that is incomplete, fails its CRC or does not parse is a torn tail only if no
 * valid entry follows it, and the file is cut there; {@link #cutRecords()} says how many entries
 * began in the cut bytes (by their length prefixes), so the writer can count them as dropped. If
 * valid entries do follow (the file was damaged, not torn), the scan resynchronises instead of
 * dropping them: first at the end the bad entry's own length gives (a damaged payload), else at the
 * next offset where a complete entry passes its CRC and parses (a damaged length; a false match
 * needs a 32-bit CRC collision on a parsable record). The bad bytes stay in the file and are
 * stepped over by {@link #read}; {@link #damage()} says where they are and how many records they
 * held, from the {@code seq} gap around them (the journal is one chain), so the writer can count
 * them as dropped. The file is locked while open, so two processes never share a journal. The same
 * framing as LevelDB's log and Kafka's record batches, without blocks.
 *
 * <p>Not thread-safe: only the audit writer's thread uses it.
 */
public final class AuditJournal implements AutoCloseable {
  private static final byte[] MAGIC = "PCAJRNL1".getBytes(StandardCharsets.US_ASCII);
  private static final int ENTRY_HEADER = 8;

  /** The largest entry accepted when reading; records are a few hundred bytes. */
  private static final int MAX_ENTRY = 1 << 20;

  private final Path file;
  private final FileChannel channel;
  private final FileLock lock;
  private long size;
  private long entries;
  private @Nullable DecisionRecord last;
  private final long recoveredBytes;
  private final long cutRecords;
  private final List<Damage> damage;

  /** Where {@link #read} steps over damaged bytes: the offset of each bad region to its end. */
  private final Map<Long, Long> skips = new HashMap<>();

  private AuditJournal(
      Path file,
      FileChannel channel,
      FileLock lock,
      long cutBytes,
      long cutRecords,
      List<Damage> damage) {
    this.file = file;
    this.channel = channel;
    this.lock = lock;
    this.recoveredBytes = cutBytes;
    this.cutRecords = cutRecords;
    this.damage = List.copyOf(damage);
    for (Damage d : damage) {
      skips.put(d.offset(), d.offset() + d.bytes());
    }
  }

  /**
   * Damaged bytes found by {@link #open} between valid entries, stepped over when reading.
   *
   * @param offset where the first bad entry starts
   * @param bytes how many bytes up to the next valid entry
   * @param lostRecords how many records those bytes held, from the {@code seq} gap around them (at
   *     least 1)
   */
  public record Damage(long offset, long bytes, long lostRecords) {}

  /**
   * Opens (creating if needed) the journal at {@code file}, locks it, and cuts a torn tail.
   *
   * @throws IOException if the file cannot be opened, is not a journal, or is locked by another
   *     process
   */
  public static AuditJournal open(Path file) throws IOException {
    Path parent = file.toAbsolutePath().getParent();
    if (parent != null) {
      OwnerOnly.createDirectories(parent); // journaled records hold principals, addresses, paths
    }
    FileChannel ch =
        FileChannel.open(
            file,
            Set.of(StandardOpenOption.CREATE, StandardOpenOption.READ, StandardOpenOption.WRITE),
            OwnerOnly.fileAttributes(file.toAbsolutePath()));
    try {
      FileLock lock;
      try {
        lock = ch.tryLock();
      } catch (OverlappingFileLockException e) {
        lock = null;
      }
      if (lock == null) {
        throw new IOException("audit journal " + file + " is in use by another process");
      }
      long length = ch.size();
      if (length == 0) {
        writeFully(ch, ByteBuffer.wrap(MAGIC), 0);
        ch.force(true);
        length = MAGIC.length;
      } else {
        ByteBuffer magic = ByteBuffer.allocate(MAGIC.length);
        if (length < MAGIC.length
            || readFully(ch, magic, 0) < MAGIC.length
            || !Arrays.equals(magic.array(), MAGIC)) {
          throw new IOException(file + " is not an audit journal (bad header)");
        }
      }
      Scan scan = scan(ch, length);
      long cut = length - scan.validEnd();
      long cutRecords = 0;
      if (cut > 0) {
        cutRecords = entriesFrom(ch, scan.validEnd(), length);
        ch.truncate(scan.validEnd());
        ch.force(true);
      }
      AuditJournal j = new AuditJournal(file, ch, lock, cut, cutRecords, scan.damage());
      j.size = scan.validEnd();
      j.entries = scan.entries();
      j.last = scan.last();
      return j;
    } catch (IOException | RuntimeException e) {
      ch.close();
      throw e;
    }
  }

  private record Scan(
      long validEnd, long entries, @Nullable DecisionRecord last, List<Damage> damage) {}

  private static Scan scan(FileChannel ch, long length) throws IOException {
    long pos = MAGIC.length;
    long count = 0;
    DecisionRecord last = null;
    List<Damage> damage = new ArrayList<>();
    while (true) {
      Entry e = readEntry(ch, pos, length);
      if (e == null) {
        long next = pos < length ? resync(ch, pos, length) : -1;
        if (next < 0) {
          return new Scan(pos, count, last, damage); // the end, or a torn tail to cut
        }
        e = readEntry(ch, next, length);
        if (e == null) {
          throw new IllegalStateException("resync found no entry at " + next);
        }
        long gap = last == null ? 0 : e.record().getSeq() - last.getSeq() - 1;
        damage.add(new Damage(pos, next - pos, Math.max(1, gap)));
      }
      last = e.record();
      count++;
      pos = e.next();
    }
  }

  /**
   * How many entries begin in the torn tail {@code [from, length)}: its length prefixes are
   * followed from {@code from}, and the first that is cut off or cannot be a length (zeros: an
   * extent never written) counts as one entry and ends the count. At least 1; a lower bound, as a
   * batch torn mid-write may have held entries after the bytes that reached the disk.
   */
  private static long entriesFrom(FileChannel ch, long from, long length) throws IOException {
    long count = 0;
    long pos = from;
    ByteBuffer prefix = ByteBuffer.allocate(4);
    while (pos < length) {
      count++;
      prefix.clear();
      if (length - pos < 4 || readFully(ch, prefix, pos) < 4) {
        break;
      }
      int n = prefix.getInt(0);
      if (n <= 0 || n > MAX_ENTRY) {
        break;
      }
      pos += ENTRY_HEADER + n;
    }
    return count;
  }

  /**
   * Where the next valid entry after the bad one at {@code pos} starts, or -1 if none does (a torn
   * tail). Tries the end the bad entry's length gives, then every later offset.
   */
  private static long resync(FileChannel ch, long pos, long length) throws IOException {
    ByteBuffer header = ByteBuffer.allocate(ENTRY_HEADER);
    if (length - pos >= ENTRY_HEADER && readFully(ch, header, pos) == ENTRY_HEADER) {
      int n = header.getInt(0);
      if (n > 0 && n <= MAX_ENTRY && length - pos - ENTRY_HEADER - n > 0) {
        long framed = pos + ENTRY_HEADER + n;
        if (readEntry(ch, framed, length) != null) {
          return framed;
        }
      }
    }
    long from = pos + 1;
    long span = Math.min(length - from, Integer.MAX_VALUE);
    if (span < ENTRY_HEADER) {
      return -1;
    }
    ByteBuffer rest = ch.map(FileChannel.MapMode.READ_ONLY, from, span);
    CRC32C crc = new CRC32C();
    for (int i = 0; i + ENTRY_HEADER < span; i++) {
      int n = rest.getInt(i);
      if (n <= 0 || n > MAX_ENTRY || span - i - ENTRY_HEADER < n) {
        continue;
      }
      crc.reset();
      crc.update(rest.slice(i + ENTRY_HEADER, n));
      if ((int) crc.getValue() == rest.getInt(i + 4) && readEntry(ch, from + i, length) != null) {
        return from + i;
      }
    }
    return -1;
  }

  private record Entry(DecisionRecord record, long next) {}

  /** The entry at {@code pos}, or {@code null} if there is no complete, valid one. */
  private static @Nullable Entry readEntry(FileChannel ch, long pos, long length)
      throws IOException {
    if (length - pos < ENTRY_HEADER) {
      return null;
    }
    ByteBuffer header = ByteBuffer.allocate(ENTRY_HEADER);
    if (readFully(ch, header, pos) < ENTRY_HEADER) {
      return null;
    }
    int n = header.getInt(0);
    int crc = header.getInt(4);
    // No record serializes to nothing, and zeros are what an unwritten extent of a file reads as.
    if (n <= 0 || n > MAX_ENTRY || length - pos - ENTRY_HEADER < n) {
      return null;
    }
    ByteBuffer payload = ByteBuffer.allocate(n);
    if (readFully(ch, payload, pos + ENTRY_HEADER) < n) {
      return null;
    }
    CRC32C c = new CRC32C();
    c.update(payload.array(), 0, n);
    if ((int) c.getValue() != crc) {
      return null;
    }
    try {
      return new Entry(DecisionRecord.parseFrom(payload.array()), pos + ENTRY_HEADER + n);
    } catch (InvalidProtocolBufferException e) {
      return null;
    }
  }

  /**
   * Appends records in order and forces them to disk, as many as fit under {@code maxBytes} (the
   * journal's total size, header included).
   *
   * @return how many records, from the first, were written; the rest did not fit
   * @throws IOException if writing or syncing fails; the journal is then cut back to what it was
   */
  public int append(List<DecisionRecord> records, long maxBytes) throws IOException {
    List<byte[]> payloads = new ArrayList<>(records.size());
    long bytes = 0;
    for (DecisionRecord r : records) {
      byte[] p = r.toByteArray();
      if (size + bytes + ENTRY_HEADER + p.length > maxBytes) {
        break;
      }
      payloads.add(p);
      bytes += ENTRY_HEADER + p.length;
    }
    if (payloads.isEmpty()) {
      return 0;
    }
    ByteBuffer buf = ByteBuffer.allocate(Math.toIntExact(bytes));
    CRC32C crc = new CRC32C();
    for (byte[] p : payloads) {
      crc.reset();
      crc.update(p);
      buf.putInt(p.length).putInt((int) crc.getValue()).put(p);
    }
    buf.flip();
    try {
      writeFully(channel, buf, size);
      channel.force(false);
    } catch (IOException e) {
      try {
        channel.truncate(size);
      } catch (IOException t) {
        e.addSuppressed(t);
      }
      throw e;
    }
    size += bytes;
    entries += payloads.size();
    last = records.get(payloads.size() - 1);
    return payloads.size();
  }

  /**
   * Records in order starting at {@code position} ({@link #start()} for the first).
   *
   * @param max the most records to return
   */
  public Chunk read(long position, int max) throws IOException {
    List<DecisionRecord> out = new ArrayList<>(Math.min(max, 1024));
    long pos = position;
    while (out.size() < max) {
      Entry e = readEntry(channel, pos, size);
      if (e == null) {
        Long skip = skips.get(pos);
        if (skip == null) {
          break;
        }
        pos = skip;
        continue;
      }
      out.add(e.record());
      pos = e.next();
    }
    return new Chunk(out, pos);
  }

  /**
   * Records read from the journal.
   *
   * @param records the records, in journal order
   * @param next the position after the last one
   */
  public record Chunk(List<DecisionRecord> records, long next) {}

  /** Where the first entry starts. */
  public long start() {
    return MAGIC.length;
  }

  /** Empties the journal (after everything in it was stored) and syncs. */
  public void clear() throws IOException {
    channel.truncate(MAGIC.length);
    channel.force(true);
    size = MAGIC.length;
    entries = 0;
    last = null;
    skips.clear();
  }

  public boolean isEmpty() {
    return entries == 0;
  }

  /** Records in the journal. */
  public long entries() {
    return entries;
  }

  /** Bytes in the journal, header included. */
  public long sizeBytes() {
    return size;
  }

  /** The newest record in the journal, or {@code null} if it is empty. */
  public @Nullable DecisionRecord last() {
    return last;
  }

  /** Bytes of a torn or corrupt tail that {@link #open} cut off. */
  public long recoveredBytes() {
    return recoveredBytes;
  }

  /**
   * How many records the tail {@link #open} cut off held: the entries that began in it, counted by
   * their length prefixes (at least 1 when bytes were cut, 0 otherwise). A lower bound: a batch
   * torn mid-write may have held more entries than reached the disk.
   */
  public long cutRecords() {
    return cutRecords;
  }

  /**
   * Damaged regions {@link #open} found with valid entries after them, in file order; empty for a
   * file that was only torn at its end. Not updated by {@link #clear()}: it describes the file as
   * opened.
   */
  public List<Damage> damage() {
    return damage;
  }

  public Path file() {
    return file;
  }

  @Override
  public void close() throws IOException {
    try {
      lock.release();
    } finally {
      channel.close();
    }
  }

  private static void writeFully(FileChannel ch, ByteBuffer buf, long position) throws IOException {
    long pos = position;
    while (buf.hasRemaining()) {
      pos += ch.write(buf, pos);
    }
  }

  private static int readFully(FileChannel ch, ByteBuffer buf, long position) throws IOException {
    int total = 0;
    while (buf.hasRemaining()) {
      int n = ch.read(buf, position + total);
      if (n < 0) {
        break;
      }
      total += n;
    }
    return total;
  }
}
