package io.portcullis.config;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.BasicFileAttributes;
import java.nio.file.attribute.FileTime;
import org.jspecify.annotations.Nullable;

/**
 * What tells one file at a path from another, for the files the service re-reads when they change
 * (the GeoIP database, the gRPC listener's certificate, key and client CA): a rename over the path
 * gives a new file key (the inode), a rewrite in place a new size or modification time. Symbolic
 * links are followed, so a Kubernetes secret volume's {@code ..data} link swap is a new version.
 */
public record FileVersion(@Nullable Object fileKey, long size, FileTime modified) {

  /** The version of the file at {@code file} now, or {@code null} if it is gone or unreadable. */
  public static @Nullable FileVersion of(Path file) {
    try {
      BasicFileAttributes a = Files.readAttributes(file, BasicFileAttributes.class);
      return new FileVersion(a.fileKey(), a.size(), a.lastModifiedTime());
    } catch (IOException e) {
      return null; // reading it says why
    }
  }
}
