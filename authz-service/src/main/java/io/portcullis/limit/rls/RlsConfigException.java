package io.portcullis.limit.rls;

import java.util.List;
import java.util.stream.Collectors;

/**
 * The rate limit service configuration is invalid. Lists every problem at once, each with file,
 * line and column; a configuration with problems is never used (a running service keeps the last
 * good one).
 */
public final class RlsConfigException extends Exception {
  private static final long serialVersionUID = 1L;

  private final transient List<Problem> problems;

  /**
   * One problem.
   *
   * @param file the file's name
   * @param line 1-based line, or 0 when it concerns the whole file
   * @param column 1-based column, or 0
   * @param field the YAML path of the offending field ({@code descriptors[0].rate_limit.unit}), or
   *     empty
   * @param message what is wrong and what was expected
   */
  public record Problem(String file, int line, int column, String field, String message) {
    @Override
    public String toString() {
      return file
          + (line > 0 ? ":" + line + ":" + column : "")
          + ": "
          + (field.isEmpty() ? "" : field + ": ")
          + message;
    }
  }

  public RlsConfigException(List<Problem> problems) {
    super(problems.stream().map(Problem::toString).collect(Collectors.joining("\n")));
    this.problems = List.copyOf(problems);
  }

  public List<Problem> problems() {
    return problems;
  }
}
