package io.portcullis.cli;

import io.portcullis.config.StrictUtf8;
import io.portcullis.store.OwnerOnly;
import java.io.IOException;
import java.io.InputStream;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.channels.OverlappingFileLockException;
import java.nio.charset.CharacterCodingException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.regex.Pattern;
import org.jspecify.annotations.Nullable;
import tools.jackson.core.JacksonException;
import tools.jackson.core.StreamReadFeature;
import tools.jackson.databind.JsonNode;
import tools.jackson.databind.json.JsonMapper;
import tools.jackson.databind.node.ArrayNode;
import tools.jackson.databind.node.ObjectNode;

/**
 * The checkpoint of {@code portcullis audit export}: a JSON object naming, per instance, the {@code
 * seq} and {@code hash} of the last record exported, and some earlier exported records as {@code
 * [seq, hash]} pairs, newest first ({@link Position}):
 *
 * <pre>{@code
 * {"pc-1":{"seq":1234,"hash":"9f2c...","earlier":[[1200,"41d0..."],[1000,"07be..."]]},"pc-2":...}
 * }</pre>
 *
 * <p>The hashes let the next run see that the chain it continues is no longer the one it exported
 * from (restored from a backup, its newest records deleted or rewritten, another store), and find
 * the last exported record the store still holds unchanged. The first format, a bare {@code seq}
 * per instance ({@code {"pc-1":1234}}), is still read: a position without a hash.
 *
 * <p>Saved by writing {@code FILE.tmp} beside it (owner-only, {@code rw-------}: instance names are
 * not secret, but the file sits with the store's), forcing it to disk and renaming it over {@code
 * FILE}, then forcing the directory: a crash leaves the old checkpoint or the new one, never a torn
 * one. While an export runs it holds a lock on {@code FILE.lock}, so two exports (an overlapping
 * cron run) cannot both write the checkpoint and ship the same records twice over.
 */
final class ExportCheckpoint implements AutoCloseable {
  private static final JsonMapper MAPPER =
      JsonMapper.builder().enable(StreamReadFeature.STRICT_DUPLICATE_DETECTION).build();

  /** A checkpoint file that cannot be used; the message says which file and why. */
  static class Invalid extends Exception {
    Invalid(Path file, String problem) {
      super(file + ": " + problem);
    }
  }

  /**
   * The checkpoint is locked by another export (an overlapping cron run, a second shipper): not a
   * problem of the file, and gone once that export ends.
   */
  static final class InUse extends Invalid {
    InUse(Path file, Path lockFile) {
      super(file, "another export is using this checkpoint (it holds " + lockFile + ")");
    }
  }

  private final Path file;
  private final Path temp;
  private final FileChannel lockChannel;
  private final FileLock lock;
  private final Map<String, Position> positions;

  /**
   * Where the export of one instance stands.
   *
   * @param seq the last record exported, or deliberately passed over (a gap, the start given by
   *     {@code --since})
   * @param hash that record's hash; {@code null} where not known (passed over, or a checkpoint of
   *     the first format)
   * @param earlier records exported before it, newest first, thinned so that the gaps between them
   *     grow with their distance from {@code seq} ({@link #advancedTo}): after a rewind by {@code
   *     n} records, the export goes back to one at most about {@code n} (or a batch) before the
   *     rewound point, with at most {@link #MAX_EARLIER} entries for any length of chain
   */
  record Position(long seq, @Nullable String hash, List<Mark> earlier) {
    /** The most {@link #earlier} entries kept: enough for a gap ratio of 2 over 2^32 batches. */
    static final int MAX_EARLIER = 64;

    Position {
      earlier = List.copyOf(earlier);
    }

    /** A position without earlier records. */
    static Position at(long seq, @Nullable String hash) {
      return new Position(seq, hash, List.of());
    }

    /**
     * The position after moving on to {@code seq} (exported with {@code hash}, or passed over:
     * {@code null}): this one becomes the newest earlier record, and earlier records whose newer
     * and older neighbours are no further apart than the newer one is from {@code seq} are dropped.
     */
    Position advancedTo(long seq, @Nullable String hash) {
      List<Mark> marks = new ArrayList<>(earlier.size() + 1);
      if (this.hash != null && this.seq < seq) {
        marks.add(new Mark(this.seq, this.hash));
      }
      for (Mark m : earlier) {
        if (m.seq() < seq) {
          marks.add(m);
        }
      }
      // One pass: a mark is dropped when the newest kept one and the mark after it are close
      // enough; the oldest is always kept.
      List<Mark> kept = new ArrayList<>(marks.size());
      for (int i = 0; i < marks.size() && kept.size() < MAX_EARLIER; i++) {
        long newer = kept.isEmpty() ? seq : kept.getLast().seq();
        if (i == marks.size() - 1 || newer - marks.get(i + 1).seq() > seq - newer) {
          kept.add(marks.get(i));
        }
      }
      return new Position(seq, hash, kept);
    }

    /**
     * This position without the earlier records before {@code anchorSeq}, which retention deleted:
     * they can no longer be compared with the store, so a rewind never goes back to them.
     */
    Position above(long anchorSeq) {
      if (earlier.isEmpty() || earlier.getLast().seq() >= anchorSeq) {
        return this;
      }
      return new Position(seq, hash, earlier.stream().filter(m -> m.seq() >= anchorSeq).toList());
    }

    /** Back at the earlier record {@code mark}, with the records exported before it. */
    Position backTo(Mark mark) {
      return new Position(
          mark.seq(), mark.hash(), earlier.stream().filter(m -> m.seq() < mark.seq()).toList());
    }
  }

  /** An exported record: its {@code seq} and {@code hash}. */
  record Mark(long seq, String hash) {}

  private ExportCheckpoint(
      Path file, FileChannel lockChannel, FileLock lock, Map<String, Position> positions) {
    this.file = file;
    this.temp = file.resolveSibling(file.getFileName() + ".tmp");
    this.lockChannel = lockChannel;
    this.lock = lock;
    this.positions = positions;
  }

  /**
   * Locks and reads the checkpoint {@code file}; a file that does not exist yet is an empty
   * checkpoint (its directory must exist).
   *
   * @throws InUse if another export holds the checkpoint
   * @throws Invalid if the directory is missing, or the file cannot be read or is not a checkpoint
   *     (it is left as it is)
   */
  static ExportCheckpoint open(Path file) throws Invalid {
    Path absolute = file.toAbsolutePath();
    Path dir = absolute.getParent();
    if (dir == null || !Files.isDirectory(dir)) {
      throw new Invalid(file, "its directory does not exist");
    }
    Path lockFile = absolute.resolveSibling(absolute.getFileName() + ".lock");
    FileChannel channel;
    try {
      channel =
          FileChannel.open(
              lockFile,
              Set.of(StandardOpenOption.CREATE, StandardOpenOption.WRITE),
              OwnerOnly.fileAttributes(dir));
    } catch (IOException e) {
      throw new Invalid(file, "cannot create its lock file " + lockFile + ": " + e.getMessage());
    }
    try {
      FileLock lock;
      try {
        lock = channel.tryLock();
      } catch (OverlappingFileLockException e) {
        lock = null;
      } catch (IOException e) {
        throw new Invalid(file, "cannot lock " + lockFile + ": " + e.getMessage());
      }
      if (lock == null) {
        throw new InUse(file, lockFile);
      }
      return new ExportCheckpoint(absolute, channel, lock, read(file));
    } catch (Invalid | RuntimeException e) {
      try {
        channel.close();
      } catch (IOException suppressed) {
        e.addSuppressed(suppressed);
      }
      throw e;
    }
  }

  /** The largest checkpoint file read: far above what {@link Position#MAX_EARLIER} allows. */
  static final int MAX_BYTES = 16 << 20;

  /** A record hash: SHA-256 in lower-case hex. */
  private static final Pattern HASH = Pattern.compile("[0-9a-f]{64}");

  private static final String FORMAT =
      " (a JSON object of instance: {\"seq\": last exported seq, \"hash\": its hash, \"earlier\":"
          + " [[seq, hash], ...] newest first, at most "
          + Position.MAX_EARLIER
          + "; a hash is 64 lower-case hex characters})";

  private static Map<String, Position> read(Path file) throws Invalid {
    byte[] bytes;
    try (InputStream in = Files.newInputStream(file)) {
      bytes = in.readNBytes(MAX_BYTES + 1);
    } catch (NoSuchFileException e) {
      return new TreeMap<>();
    } catch (IOException e) {
      throw new Invalid(file, "cannot be read: " + e.getMessage());
    }
    if (bytes.length > MAX_BYTES) {
      throw new Invalid(
          file, "is larger than " + MAX_BYTES + " bytes, far more than a checkpoint holds");
    }
    String text;
    try {
      text = StrictUtf8.decode(bytes);
    } catch (CharacterCodingException e) {
      throw new Invalid(file, "is not UTF-8 text");
    }
    JsonNode node;
    try {
      node = MAPPER.readTree(text);
    } catch (JacksonException e) {
      throw new Invalid(file, "is not valid JSON: " + e.getOriginalMessage());
    }
    if (node == null || !node.isObject()) {
      throw new Invalid(file, "is not an export checkpoint" + FORMAT);
    }
    Map<String, Position> positions = new TreeMap<>();
    for (Map.Entry<String, JsonNode> e : node.properties()) {
      Position p = position(e.getValue());
      if (p == null) {
        throw new Invalid(
            file, "the position of instance '" + e.getKey() + "' is not one" + FORMAT);
      }
      positions.put(e.getKey(), p);
    }
    return positions;
  }

  /** The position {@code v} holds, or {@code null} if it holds none. */
  private static @Nullable Position position(JsonNode v) {
    if (seq(v) != null) { // the first format: the seq alone
      return Position.at(v.longValue(), null);
    }
    if (!v.isObject()) {
      return null;
    }
    for (String key : v.propertyNames()) {
      if (!Set.of("seq", "hash", "earlier").contains(key)) {
        return null;
      }
    }
    Long seq = seq(v.get("seq"));
    JsonNode hash = v.get("hash");
    JsonNode earlier = v.get("earlier");
    if (seq == null
        || (hash != null && !isHash(hash))
        || (earlier != null && (!earlier.isArray() || earlier.size() > Position.MAX_EARLIER))) {
      return null;
    }
    List<Mark> marks = new ArrayList<>();
    long below = seq;
    for (JsonNode pair : earlier == null ? List.<JsonNode>of() : earlier.values()) {
      Long s = pair.isArray() && pair.size() == 2 ? seq(pair.get(0)) : null;
      if (s == null || s >= below || !isHash(pair.get(1))) {
        return null; // not a pair, or not newest first below seq
      }
      marks.add(new Mark(s, pair.get(1).stringValue()));
      below = s;
    }
    return new Position(seq, hash == null ? null : hash.stringValue(), marks);
  }

  /** Whether {@code v} is a record hash: 64 lower-case hex characters. */
  private static boolean isHash(JsonNode v) {
    return v.isString() && HASH.matcher(v.stringValue()).matches();
  }

  /** {@code v} as a seq (a non-negative integer), or {@code null}. */
  private static @Nullable Long seq(@Nullable JsonNode v) {
    return v != null && v.isIntegralNumber() && v.canConvertToLong() && v.longValue() >= 0
        ? v.longValue()
        : null;
  }

  /** Where the export of each instance stands, as read. */
  Map<String, Position> positions() {
    return Collections.unmodifiableMap(positions);
  }

  /** Where it is saved. */
  Path file() {
    return file;
  }

  /** Replaces the checkpoint with {@code positions}, atomically and durably. */
  void save(Map<String, Position> positions) throws IOException {
    byte[] json = MAPPER.writeValueAsBytes(json(positions));
    Files.deleteIfExists(temp); // left by a crash
    try (FileChannel ch =
        FileChannel.open(
            temp,
            Set.of(StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE),
            OwnerOnly.fileAttributes(temp.getParent()))) {
      ByteBuffer b = ByteBuffer.wrap(json);
      while (b.hasRemaining()) {
        ch.write(b);
      }
      ch.force(true);
    }
    Files.move(temp, file, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
    try (FileChannel dir = FileChannel.open(file.getParent(), StandardOpenOption.READ)) {
      dir.force(true); // the rename itself
    } catch (IOException e) {
      // Not every platform opens directories (Windows); the rename is then as durable as it gets.
    }
  }

  /** {@code positions} as the checkpoint holds them, in instance order. */
  static ObjectNode json(Map<String, Position> positions) {
    ObjectNode all = MAPPER.createObjectNode();
    new TreeMap<>(positions)
        .forEach(
            (instance, p) -> {
              ObjectNode o = all.putObject(instance);
              o.put("seq", p.seq());
              if (p.hash() != null) {
                o.put("hash", p.hash());
              }
              if (!p.earlier().isEmpty()) {
                ArrayNode earlier = o.putArray("earlier");
                p.earlier().forEach(m -> earlier.addArray().add(m.seq()).add(m.hash()));
              }
            });
    return all;
  }

  @Override
  public void close() throws IOException {
    try {
      lock.release();
    } finally {
      lockChannel.close();
    }
  }
}
