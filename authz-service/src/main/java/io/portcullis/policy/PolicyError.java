package io.portcullis.policy;

import java.util.Comparator;
import java.util.Objects;

/**
 * One problem found in a policy file: where it is and what is wrong.
 *
 * <p>{@link #format()} renders {@code policy.yaml:12:7: segments[1].rules[0].paths[2]: '**' must be
 * a whole segment} — the shape compilers and editors understand, so a terminal can jump to it.
 *
 * @param file the policy file as it was given to the loader
 * @param line 1-based line of the offending node (for an unknown key: of the key); 0 when the
 *     problem concerns the whole file (unreadable, too large)
 * @param column 1-based column, 0 with {@code line} 0
 * @param field the path of the field, e.g. {@code segments[1].rules[0].paths[2]}; empty for the
 *     whole file
 * @param message what is wrong and, where it helps, what was expected; never a secret's value
 * @param severity an error makes the policy invalid; a warning does not
 */
public record PolicyError(
    String file, int line, int column, String field, String message, Severity severity) {

  /** Orders by position in the file (whole-file problems first). */
  public static final Comparator<PolicyError> BY_POSITION =
      Comparator.comparingInt(PolicyError::line).thenComparingInt(PolicyError::column);

  /** Whether a problem rejects the policy. */
  public enum Severity {
    /** The policy is invalid and is not loaded. */
    ERROR,
    /** Worth fixing, but the policy loads (lint). */
    WARNING
  }

  public PolicyError {
    Objects.requireNonNull(file, "file");
    Objects.requireNonNull(field, "field");
    Objects.requireNonNull(message, "message");
    Objects.requireNonNull(severity, "severity");
  }

  public boolean isError() {
    return severity == Severity.ERROR;
  }

  /**
   * {@code file:line:column: field: message}; position and field are left out when absent, and a
   * warning is marked {@code warning:} after the position.
   */
  public String format() {
    StringBuilder sb = new StringBuilder(file);
    if (line > 0) {
      sb.append(':').append(line).append(':').append(column);
    }
    sb.append(": ");
    if (severity == Severity.WARNING) {
      sb.append("warning: ");
    }
    if (!field.isEmpty()) {
      sb.append(field).append(": ");
    }
    return sb.append(message).toString();
  }

  @Override
  public String toString() {
    return format();
  }
}
