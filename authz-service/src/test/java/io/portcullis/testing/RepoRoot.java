package io.portcullis.testing;

import java.nio.file.Files;
import java.nio.file.Path;

/**
 * The repository's root directory, for tests that check files outside the module (gateway
 * configurations, examples, docker-compose.yml). Found by walking up from {@code user.dir} to the
 * first directory holding the Maven wrapper {@code mvnw}, so it works from the module directory
 * (Surefire's default), the repository root and an IDE alike.
 */
public final class RepoRoot {
  private RepoRoot() {}

  /**
   * @return the absolute, normalized repository root
   * @throws IllegalStateException if no ancestor of {@code user.dir} contains {@code mvnw}
   */
  public static Path path() {
    Path start = Path.of(System.getProperty("user.dir")).toAbsolutePath().normalize();
    for (Path dir = start; dir != null; dir = dir.getParent()) {
      if (Files.isRegularFile(dir.resolve("mvnw"))) {
        return dir;
      }
    }
    throw new IllegalStateException("no directory containing mvnw above " + start);
  }

  /** {@code relative} resolved against the repository root. */
  public static Path resolve(String relative) {
    return path().resolve(relative);
  }
}
