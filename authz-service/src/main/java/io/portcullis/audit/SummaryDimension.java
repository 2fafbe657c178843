package io.portcullis.audit;

import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import org.jspecify.annotations.Nullable;

/** What audit summaries can count by ({@code group_by}). */
public enum SummaryDimension {
  SEGMENT("segment"),
  DECISION("decision"),
  REASON("reason"),
  DRY_RUN_REASON("dry_run_reason"),
  RULE("rule"),
  CLIENT("client");

  private final String fieldName;

  SummaryDimension(String fieldName) {
    this.fieldName = fieldName;
  }

  /** The record field and store column, e.g. {@code dry_run_reason}. */
  public String fieldName() {
    return fieldName;
  }

  /** Parses a field name; {@code null} if it is not a dimension. */
  public static @Nullable SummaryDimension parse(String name) {
    String n = name.trim().toLowerCase(Locale.ROOT);
    for (SummaryDimension d : values()) {
      if (d.fieldName.equals(n)) {
        return d;
      }
    }
    return null;
  }

  /**
   * Parses a comma-separated {@code group_by} list such as {@code segment,decision}; empty parts
   * are ignored, duplicates kept once.
   *
   * @throws IllegalArgumentException naming the first unknown dimension and the valid ones
   */
  public static List<SummaryDimension> parseList(String commaSeparated) {
    List<SummaryDimension> out = new ArrayList<>();
    for (String part : commaSeparated.split(",")) {
      if (part.isBlank()) {
        continue;
      }
      SummaryDimension d = parse(part);
      if (d == null) {
        throw new IllegalArgumentException(
            "group_by '"
                + part.trim()
                + "' is not one of segment, decision, reason, dry_run_reason, rule, client");
      }
      if (!out.contains(d)) {
        out.add(d);
      }
    }
    return out;
  }
}
