package io.portcullis.audit;

import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import org.jspecify.annotations.Nullable;

/**
 * What audit summaries can count by ({@code group_by}): each is a record field with a store column
 * of the same name. {@link #DRY_RUN_REASON} and {@link #DRY_RUN_RULE} together with {@link
 * #SEGMENT} make the dry-run report: what a dry-run segment or rule would have denied, and why.
 */
public enum SummaryDimension {
  SEGMENT("segment"),
  DECISION("decision"),
  REASON("reason"),
  DRY_RUN_REASON("dry_run_reason"),
  DRY_RUN_RULE("dry_run_rule"),
  RULE("rule"),
  CLIENT("client"),
  PRINCIPAL("principal"),
  SOURCE_IP("source_ip");

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

  /** Every dimension's field name, in declaration order. */
  public static List<String> names() {
    List<String> out = new ArrayList<>();
    for (SummaryDimension d : values()) {
      out.add(d.fieldName);
    }
    return out;
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
            "group_by '" + part.trim() + "' is not one of " + String.join(", ", names()));
      }
      if (!out.contains(d)) {
        out.add(d);
      }
    }
    return out;
  }
}
