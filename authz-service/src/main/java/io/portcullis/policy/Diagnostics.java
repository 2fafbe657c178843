package io.portcullis.policy;

import java.util.ArrayList;
import java.util.List;

/**
 * Collects the errors and warnings of one policy load, so that validation reports every problem at
 * once instead of stopping at the first. Not thread-safe: one per load.
 */
public final class Diagnostics {
  private final String file;
  private final List<PolicyError> problems = new ArrayList<>();
  private int errors;

  public Diagnostics(String file) {
    this.file = file;
  }

  public String file() {
    return file;
  }

  public void error(YamlNode at, String field, String message) {
    error(at.line(), at.column(), field, message);
  }

  public void error(int line, int column, String field, String message) {
    errors++;
    problems.add(new PolicyError(file, line, column, field, message, PolicyError.Severity.ERROR));
  }

  public void warning(YamlNode at, String field, String message) {
    warning(at.line(), at.column(), field, message);
  }

  /** A warning at a position; line and column 0 for one about the whole file. */
  public void warning(int line, int column, String field, String message) {
    problems.add(new PolicyError(file, line, column, field, message, PolicyError.Severity.WARNING));
  }

  public boolean hasErrors() {
    return errors > 0;
  }

  public int errorCount() {
    return errors;
  }

  /** Every problem so far, ordered by position (stable for problems at the same node). */
  public List<PolicyError> all() {
    List<PolicyError> sorted = new ArrayList<>(problems);
    sorted.sort(PolicyError.BY_POSITION);
    return List.copyOf(sorted);
  }

  List<PolicyError> warnings() {
    return all().stream().filter(p -> !p.isError()).toList();
  }
}
