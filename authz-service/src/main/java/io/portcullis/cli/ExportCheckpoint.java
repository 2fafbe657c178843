package io.portcullis.cli;

import io.portcullis.store.OwnerOnly;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.channels.OverlappingFileLockException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.Collections;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import tools.jackson.core.JacksonException;
import tools.jackson.core.StreamReadFeature;
import tools.jackson.databind.JsonNode;
import tools.jackson.databind.json.JsonMapper;

/**
 * The checkpoint of {@code portcullis audit export}: a JSON object naming, per instance, the {@code
 * seq} of the last record exported ({@code {"pc-1":1234,"pc-2":99}}).
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
  private final Map<String, Long> positions;

  private ExportCheckpoint(
      Path file, FileChannel lockChannel, FileLock lock, Map<String, Long> positions) {
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

  private static Map<String, Long> read(Path file) throws Invalid {
    byte[] bytes;
    try {
      bytes = Files.readAllBytes(file);
    } catch (NoSuchFileException e) {
      return new TreeMap<>();
    } catch (IOException e) {
      throw new Invalid(file, "cannot be read: " + e.getMessage());
    }
    JsonNode node;
    try {
      node = MAPPER.readTree(new String(bytes, StandardCharsets.UTF_8));
    } catch (JacksonException e) {
      throw new Invalid(file, "is not valid JSON: " + e.getOriginalMessage());
    }
    if (node == null || !node.isObject()) {
      throw new Invalid(
          file, "is not an export checkpoint (a JSON object of instance: last exported seq)");
    }
    Map<String, Long> positions = new TreeMap<>();
    for (Map.Entry<String, JsonNode> e : node.properties()) {
      JsonNode v = e.getValue();
      if (!v.isIntegralNumber() || !v.canConvertToLong() || v.longValue() < 0) {
        throw new Invalid(
            file,
            "the seq of instance '"
                + e.getKey()
                + "' is not a non-negative integer (a JSON object of instance: last exported"
                + " seq)");
      }
      positions.put(e.getKey(), v.longValue());
    }
    return positions;
  }

  /** The last exported {@code seq} per instance, as read. */
  Map<String, Long> positions() {
    return Collections.unmodifiableMap(positions);
  }

  /** Where it is saved. */
  Path file() {
    return file;
  }

  /** Replaces the checkpoint with {@code positions}, atomically and durably. */
  void save(Map<String, Long> positions) throws IOException {
    byte[] json = MAPPER.writeValueAsBytes(new TreeMap<>(positions));
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

  @Override
  public void close() throws IOException {
    try {
      lock.release();
    } finally {
      lockChannel.close();
    }
  }
}
