package io.portcullis.audit;

import io.portcullis.store.Database;
import java.io.IOException;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * At start: warns when the service has just created a new, empty SQLite store although its data
 * directory shows an earlier run (an audit journal, a generated admin token). That usually means
 * the store was lost (deleted, or {@code store.url} pointing somewhere new, a volume not mounted):
 * SQLite creates an empty file silently, and the audit log would start over from nothing.
 */
public final class LostStoreCheck {
  private static final Logger log = LoggerFactory.getLogger(LostStoreCheck.class);

  private LostStoreCheck() {}

  /**
   * Logs a WARN if {@code database} is a SQLite file that {@link Database#open} just created while
   * {@code journalDirectory} holds an audit journal or {@code dataDir} an {@code admin-token}. Call
   * it after opening the store and before the audit writer or the admin token create either.
   *
   * @return what the WARN named as evidence of an earlier run; empty if nothing was logged
   */
  public static List<String> warnIfNewStore(
      Database database, Path dataDir, Path journalDirectory) {
    if (!database.createdFile()) {
      return List.of();
    }
    List<String> evidence = new ArrayList<>();
    if (Files.isDirectory(journalDirectory)) {
      try (DirectoryStream<Path> journals =
          Files.newDirectoryStream(journalDirectory, "*.journal")) {
        for (Path j : journals) {
          evidence.add("the audit journal " + j.toAbsolutePath());
        }
      } catch (IOException e) {
        // unreadable: no evidence either way
      }
    }
    Path token = dataDir.resolve("admin-token");
    if (Files.exists(token)) {
      evidence.add("the admin token " + token.toAbsolutePath());
    }
    if (!evidence.isEmpty()) {
      log.warn(
          "Created a new, empty store at {}, although {} show{} that the service ran here before:"
              + " the earlier store was probably lost (deleted, moved, or a volume not mounted) and"
              + " its audit records and API keys are not in the new one. If that is not intended,"
              + " stop the service and restore the store from a backup (see docs/operations.md,"
              + " \"The audit store file was deleted\"); a journal is stored into whichever store"
              + " the next start opens.",
          database.file().map(Path::toString).orElse(database.url()),
          String.join(" and ", evidence),
          evidence.size() == 1 ? "s" : "");
    }
    return List.copyOf(evidence);
  }
}
