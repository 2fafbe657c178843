package io.portcullis.store;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.FileAttribute;
import java.nio.file.attribute.PosixFilePermission;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.Set;

/**
 * Creates the service's files and directories readable by its own user only ({@code rw-------},
 * {@code rwx------}): the store, the audit journal and the admin token hold principals, client
 * addresses, paths and secrets. What exists already keeps its permissions (they are the
 * operator's); on a file system without POSIX permissions new ones get its defaults.
 */
public final class OwnerOnly {
  private static final FileAttribute<Set<PosixFilePermission>> DIRECTORY =
      PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rwx------"));
  private static final FileAttribute<Set<PosixFilePermission>> FILE =
      PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rw-------"));
  private static final FileAttribute<?>[] NONE = new FileAttribute<?>[0];

  private OwnerOnly() {}

  /**
   * Creates {@code dir} and any missing parents owner-only; an existing directory is left alone.
   */
  public static void createDirectories(Path dir) throws IOException {
    if (Files.isDirectory(dir)) {
      return;
    }
    if (posix(dir)) {
      Files.createDirectories(dir, DIRECTORY);
    } else {
      Files.createDirectories(dir);
    }
  }

  /** The attributes a new file under {@code dir} is created with ({@code rw-------} on POSIX). */
  public static FileAttribute<?>[] fileAttributes(Path dir) {
    return posix(dir) ? new FileAttribute<?>[] {FILE} : NONE;
  }

  private static boolean posix(Path p) {
    return p.getFileSystem().supportedFileAttributeViews().contains("posix");
  }
}
