package io.portcullis.authz;

/** Matching of a {@code *}-split glob against one string; shared by path and principal patterns. */
public final class Globs {
  private Globs() {}

  /**
   * Whether {@code s} matches the glob whose literal parts (split at each {@code *}) are {@code
   * parts}: {@code s} starts with the first part, ends with the last, and contains the middle parts
   * in order. Greedy-free: each middle part is found at its earliest position, which is correct for
   * {@code *} that matches any run of characters.
   */
  public static boolean matchesWithinSegment(String[] parts, String s) {
    if (parts.length == 1) {
      return parts[0].equals(s);
    }
    String first = parts[0];
    String last = parts[parts.length - 1];
    if (s.length() < first.length() + last.length() || !s.startsWith(first) || !s.endsWith(last)) {
      return false;
    }
    int pos = first.length();
    int limit = s.length() - last.length();
    for (int p = 1; p < parts.length - 1; p++) {
      int at = s.indexOf(parts[p], pos);
      if (at < 0 || at + parts[p].length() > limit) {
        return false;
      }
      pos = at + parts[p].length();
    }
    return true;
  }
}
