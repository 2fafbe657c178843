package io.portcullis.segment;

import io.portcullis.authz.Globs;

/**
 * A principal glob such as {@code spiffe://prod.example.com/ns/*}{@code /sa/*}: {@code *} matches
 * exactly one {@code /}-separated segment (any characters but {@code /}), {@code **} any rest of
 * the principal. Case-sensitive; no regular expressions. Immutable and thread-safe.
 */
public final class PrincipalPattern {
  private final String pattern;
  private final String[][] segments; // per '/'-segment: null for "**", else glob parts
  private final boolean exact;

  private PrincipalPattern(String pattern, String[][] segments, boolean exact) {
    this.pattern = pattern;
    this.segments = segments;
    this.exact = exact;
  }

  /**
   * Compiles a principal glob.
   *
   * @throws IllegalArgumentException for an empty pattern, or {@code **} that is not the last whole
   *     segment
   */
  public static PrincipalPattern compile(String pattern) {
    if (pattern.isEmpty()) {
      throw new IllegalArgumentException("principal pattern must not be empty");
    }
    if (pattern.indexOf('*') < 0) {
      return new PrincipalPattern(pattern, new String[0][], true);
    }
    String[] raw = pattern.split("/", -1);
    String[][] segs = new String[raw.length][];
    for (int i = 0; i < raw.length; i++) {
      String s = raw[i];
      if (s.equals("**")) {
        if (i != raw.length - 1) {
          throw new IllegalArgumentException("'**' is only allowed as the last segment");
        }
        segs[i] = null;
      } else if (s.contains("**")) {
        throw new IllegalArgumentException("'**' must be a whole segment (segment '" + s + "')");
      } else {
        segs[i] = s.split("\\*", -1);
      }
    }
    return new PrincipalPattern(pattern, segs, false);
  }

  public boolean matches(String principal) {
    if (exact) {
      return pattern.equals(principal);
    }
    int pos = 0;
    for (int i = 0; i < segments.length; i++) {
      String[] seg = segments[i];
      if (seg == null) {
        return true; // "**": the rest, including nothing
      }
      int slash = principal.indexOf('/', pos);
      boolean lastPattern = i == segments.length - 1;
      int end = slash < 0 ? principal.length() : slash;
      if (lastPattern && slash >= 0) {
        return false; // principal has more segments than the pattern
      }
      if (!lastPattern && slash < 0) {
        return false; // principal has fewer segments than the pattern
      }
      String part = principal.substring(pos, end);
      if (part.isEmpty() && isOnlyStar(seg)) {
        return false; // '*' needs a non-empty segment
      }
      if (!Globs.matchesWithinSegment(seg, part)) {
        return false;
      }
      pos = end + 1;
    }
    return true;
  }

  private static boolean isOnlyStar(String[] seg) {
    return seg.length == 2 && seg[0].isEmpty() && seg[1].isEmpty();
  }

  public String pattern() {
    return pattern;
  }

  @Override
  public String toString() {
    return pattern;
  }
}
