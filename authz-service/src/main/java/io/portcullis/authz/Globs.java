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
    return matchesWithinSegment(parts, s, false);
  }

  /**
   * {@link #matchesWithinSegment(String[], String)}, with ASCII letters of the parts and of {@code
   * s} folded to one case when {@code ignoreCase}.
   */
  public static boolean matchesWithinSegment(String[] parts, String s, boolean ignoreCase) {
    if (parts.length == 1) {
      return ignoreCase ? equalsAsciiIgnoreCase(parts[0], s) : parts[0].equals(s);
    }
    String first = parts[0];
    String last = parts[parts.length - 1];
    if (s.length() < first.length() + last.length()
        || !regionEquals(s, 0, first, ignoreCase)
        || !regionEquals(s, s.length() - last.length(), last, ignoreCase)) {
      return false;
    }
    int pos = first.length();
    int limit = s.length() - last.length();
    for (int p = 1; p < parts.length - 1; p++) {
      int at = indexOf(s, parts[p], pos, ignoreCase);
      if (at < 0 || at + parts[p].length() > limit) {
        return false;
      }
      pos = at + parts[p].length();
    }
    return true;
  }

  /** Whether {@code a} and {@code b} are equal with ASCII letters folded to one case. */
  public static boolean equalsAsciiIgnoreCase(String a, String b) {
    return a.length() == b.length() && regionEquals(a, 0, b, true);
  }

  /** Whether {@code s} holds {@code part} at {@code offset} (which must leave room for it). */
  private static boolean regionEquals(String s, int offset, String part, boolean ignoreCase) {
    if (!ignoreCase) {
      return s.startsWith(part, offset);
    }
    for (int i = 0; i < part.length(); i++) {
      if (foldAscii(s.charAt(offset + i)) != foldAscii(part.charAt(i))) {
        return false;
      }
    }
    return true;
  }

  private static int indexOf(String s, String part, int from, boolean ignoreCase) {
    if (!ignoreCase) {
      return s.indexOf(part, from);
    }
    for (int at = from, last = s.length() - part.length(); at <= last; at++) {
      if (regionEquals(s, at, part, true)) {
        return at;
      }
    }
    return -1;
  }

  private static char foldAscii(char c) {
    return c >= 'A' && c <= 'Z' ? (char) (c + ('a' - 'A')) : c;
  }
}
