package io.portcullis.testing;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Writes the smallest MaxMind DB files (format 2.0, https://maxmind.github.io/MaxMind-DB/): an IPv4
 * search tree of one node whose both records point at the same data record, so every IPv4 address
 * finds it. Enough to make databases MaxMind does not publish test copies of: another {@code
 * database_type} (an ASN database), or a Country database whose record has the wrong shape.
 * MaxMind's own writer ({@code com.maxmind.db:maxmind-db-writer}) is not a dependency.
 *
 * <p>Data values: {@link String}, {@link Integer} (uint32), {@link Map} with string keys, {@link
 * List}.
 */
public final class MmdbFiles {
  private MmdbFiles() {}

  private static final byte[] METADATA_MARKER = {
    (byte) 0xAB, (byte) 0xCD, (byte) 0xEF, 'M', 'a', 'x', 'M', 'i', 'n', 'd', '.', 'c', 'o', 'm'
  };

  /** Writes {@code file}: every IPv4 address maps to {@code record}. */
  public static Path write(Path file, String databaseType, Map<String, ?> record)
      throws IOException {
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    // search tree: node_count 1, record_size 24; a record > node_count points into the data
    // section at (record - node_count - 16)
    int pointer = 1 + 16;
    for (int i = 0; i < 2; i++) {
      out.write(pointer >>> 16);
      out.write(pointer >>> 8);
      out.write(pointer);
    }
    out.write(new byte[16]); // the data section separator
    encode(out, record);
    out.write(METADATA_MARKER);
    Map<String, Object> metadata = new LinkedHashMap<>();
    metadata.put("binary_format_major_version", 2);
    metadata.put("binary_format_minor_version", 0);
    metadata.put("build_epoch", 0);
    metadata.put("database_type", databaseType);
    metadata.put("description", Map.of("en", "written by MmdbFiles for a test"));
    metadata.put("ip_version", 4);
    metadata.put("languages", List.of("en"));
    metadata.put("node_count", 1);
    metadata.put("record_size", 24);
    encode(out, metadata);
    return Files.write(file, out.toByteArray());
  }

  private static void encode(ByteArrayOutputStream out, Object value) {
    switch (value) {
      case String s -> {
        byte[] bytes = s.getBytes(StandardCharsets.UTF_8);
        control(out, 2, bytes.length);
        out.writeBytes(bytes);
      }
      case Integer n -> {
        byte[] bytes = {(byte) (n >>> 24), (byte) (n >>> 16), (byte) (n >>> 8), n.byteValue()};
        control(out, 6, bytes.length);
        out.writeBytes(bytes);
      }
      case Map<?, ?> m -> {
        control(out, 7, m.size());
        m.forEach(
            (k, v) -> {
              encode(out, (String) k);
              encode(out, v);
            });
      }
      case List<?> l -> {
        control(out, 11, l.size());
        l.forEach(v -> encode(out, v));
      }
      default -> throw new IllegalArgumentException("cannot encode " + value.getClass());
    }
  }

  /**
   * A control byte, the extended type byte for types above 7, then the size byte of sizes from 29
   * (up to 284, enough here).
   */
  private static void control(ByteArrayOutputStream out, int type, int size) {
    if (size >= 29 + 256) {
      throw new IllegalArgumentException("size " + size + " needs a longer size form");
    }
    int low = Math.min(size, 29);
    if (type <= 7) {
      out.write(type << 5 | low);
    } else {
      out.write(low);
      out.write(type - 7);
    }
    if (size >= 29) {
      out.write(size - 29);
    }
  }
}
