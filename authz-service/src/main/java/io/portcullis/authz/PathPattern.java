package io.portcullis.authz;

import io.portcullis.request.NormalizedPath;
import io.portcullis.request.PathNormalizer;
import java.util.ArrayList;
import java.util.List;

/**
 * A rule's path pattern, compiled once: {@code *} matches exactly one non-empty segment, {@code **}
 * zero or more segments, and a {@code *} inside a segment ({@code *.json}, {@code v*}) any
 * characters of one segment. Everything else matches literally and case-sensitively against the
 * {@link NormalizedPath}. Literal parts are normalized like request paths, so {@code /v1/%7Euser}
 * and {@code /v1/~user} are the same pattern.
 *
 * <p>Matching walks the segments with backtracking only at {@code **}; no regular expressions.
 * Immutable and thread-safe.
 */
public final class PathPattern {
  private static final int LITERAL = 0;
  private static final int ONE = 1;
  private static final int ANY = 2;
  private static final int GLOB = 3;

  private final String pattern;
  private final int[] kinds;
  private final String[] literals;
  private final String[][] globParts;
  private final boolean hasAny;

  private PathPattern(String pattern, int[] kinds, String[] literals, String[][] globParts) {
    this.pattern = pattern;
    this.kinds = kinds;
    this.literals = literals;
    this.globParts = globParts;
    boolean any = false;
    for (int k : kinds) {
      any |= k == ANY;
    }
    this.hasAny = any;
  }

  /**
   * Compiles a pattern such as {@code /v1/orders/*} or {@code /v1/admin/**}.
   *
   * @throws IllegalArgumentException saying what is wrong: not starting with {@code /}, a query,
   *     {@code **} inside a segment, {@code ***}, an empty or dot segment, or an invalid encoding
   */
  public static PathPattern compile(String pattern) {
    if (pattern.isEmpty() || pattern.charAt(0) != '/') {
      throw new IllegalArgumentException("path pattern must start with '/'");
    }
    if (pattern.indexOf('?') >= 0 || pattern.indexOf('#') >= 0) {
      throw new IllegalArgumentException("path pattern must not contain '?' or '#'");
    }
    if (pattern.equals("/")) {
      return new PathPattern(pattern, new int[0], new String[0], new String[0][]);
    }
    String[] raw = pattern.substring(1).split("/", -1);
    int n = raw.length;
    int[] kinds = new int[n];
    String[] literals = new String[n];
    String[][] globs = new String[n][];
    for (int i = 0; i < n; i++) {
      String s = raw[i];
      boolean last = i == n - 1;
      if (s.isEmpty()) {
        if (!last) {
          throw new IllegalArgumentException("path pattern has an empty segment ('//')");
        }
        kinds[i] = LITERAL;
        literals[i] = "";
      } else if (s.equals("**")) {
        kinds[i] = ANY;
      } else if (s.equals("*")) {
        kinds[i] = ONE;
      } else if (s.contains("**")) {
        throw new IllegalArgumentException(
            "'**' must be a whole segment (segment '" + s + "'); use '*' within a segment");
      } else if (s.indexOf('*') >= 0) {
        kinds[i] = GLOB;
        String[] parts = s.split("\\*", -1);
        for (int p = 0; p < parts.length; p++) {
          parts[p] = normalizeLiteral(parts[p], s);
        }
        globs[i] = parts;
      } else {
        kinds[i] = LITERAL;
        literals[i] = normalizeLiteral(s, s);
        if (literals[i].equals(".") || literals[i].equals("..")) {
          throw new IllegalArgumentException(
              "path pattern must not contain '.' or '..' segments (requests are normalized first)");
        }
      }
    }
    return new PathPattern(pattern, kinds, literals, globs);
  }

  private static String normalizeLiteral(String part, String segment) {
    if (part.isEmpty()) {
      return part;
    }
    // Reuse the request normalizer so that pattern and path agree on encodings.
    PathNormalizer.Result r = PathNormalizer.normalize("/" + part);
    if (r instanceof PathNormalizer.Normalized(NormalizedPath p)
        && p.segmentCount() == 1
        && !p.segment(0).isEmpty()) {
      return p.segment(0);
    }
    if (part.equals(".") || part.equals("..")) {
      return part;
    }
    String why = r instanceof PathNormalizer.Malformed(String w) ? w : "not a single segment";
    throw new IllegalArgumentException("invalid path segment '" + segment + "': " + why);
  }

  /** Whether the normalized path matches. */
  public boolean matches(NormalizedPath path) {
    return matches(path, path.segmentCount());
  }

  /**
   * Whether the path made of the first {@code count} segments of {@code path} matches (a deny rule
   * tries the path without its trailing {@code /} this way, without building it).
   */
  boolean matches(NormalizedPath path, int count) {
    return matches(path, count, false);
  }

  /**
   * Whether the path made of the first {@code count} segments of {@code path} matches, literal
   * characters compared with ASCII letters folded to one case when {@code ignoreCase} (deny rules:
   * {@link Rule#matchingPattern}). Paths are ASCII once normalized, so ASCII folding is all there
   * is; a percent-encoded byte stays as it was encoded.
   */
  boolean matches(NormalizedPath path, int count, boolean ignoreCase) {
    if (!hasAny) {
      if (count != kinds.length) {
        return false;
      }
      for (int i = 0; i < kinds.length; i++) {
        if (!segmentMatches(i, path.segment(i), ignoreCase)) {
          return false;
        }
      }
      return true;
    }
    return matchWithWildcards(path, count, ignoreCase);
  }

  /**
   * The classic wildcard match with one backtracking point (as for {@code *} in strings), over
   * segments: on a mismatch only the most recent {@code **} absorbs one more segment. Each {@code
   * **} can only move forward, so the cost is O(pattern × path) in the worst case instead of the
   * exponential (pattern^k) of naive recursion — a long path cannot be used to burn CPU.
   */
  private boolean matchWithWildcards(NormalizedPath path, int n, boolean ignoreCase) {
    int pi = 0;
    int si = 0;
    int starPi = -1;
    int starSi = -1;
    while (si < n) {
      if (pi < kinds.length && kinds[pi] == ANY) {
        starPi = pi++;
        starSi = si;
      } else if (pi < kinds.length && segmentMatches(pi, path.segment(si), ignoreCase)) {
        pi++;
        si++;
      } else if (starPi >= 0) {
        pi = starPi + 1;
        si = ++starSi;
      } else {
        return false;
      }
    }
    while (pi < kinds.length && kinds[pi] == ANY) {
      pi++;
    }
    return pi == kinds.length;
  }

  private boolean segmentMatches(int i, String segment, boolean ignoreCase) {
    return switch (kinds[i]) {
      case LITERAL ->
          ignoreCase
              ? Globs.equalsAsciiIgnoreCase(literals[i], segment)
              : literals[i].equals(segment);
      case ONE -> !segment.isEmpty();
      case GLOB ->
          !segment.isEmpty() && Globs.matchesWithinSegment(globParts[i], segment, ignoreCase);
      default -> false;
    };
  }

  /** Whether the pattern matches every path: it consists of {@code **} segments only. */
  public boolean matchesEverything() {
    if (kinds.length == 0) {
      return false;
    }
    for (int k : kinds) {
      if (k != ANY) {
        return false;
      }
    }
    return true;
  }

  /**
   * Whether every path {@code other} matches is matched by this pattern too (policy lint).
   * Conservative: {@code true} only when that follows segment by segment ({@code **} covers any run
   * of segments, {@code *} any non-empty segment, a glob the literals it matches, a literal
   * itself); a glob is compared with another glob only for equality.
   */
  public boolean subsumes(PathPattern other) {
    // covers[i][j]: segments i.. of this pattern cover segments j.. of other. Filled from the end,
    // one row at a time: O(this x other) steps. The recursive search this replaces tried every
    // split at each "**" again, exponential in their number ("/**/x/**/x/.../y" against a long
    // literal path: ~10^11 steps, hanging start-up, reload and "policy check").
    int m = other.kinds.length;
    boolean[] next = new boolean[m + 1];
    boolean[] row = new boolean[m + 1];
    next[m] = true; // past the end of this pattern: only the end of the other is covered
    for (int i = kinds.length - 1; i >= 0; i--) {
      if (kinds[i] == ANY) {
        // "**" covers any run of the other's segments: covers[i][j] = OR of covers[i + 1][j..m].
        boolean any = false;
        for (int j = m; j >= 0; j--) {
          any |= next[j];
          row[j] = any;
        }
      } else {
        row[m] = false;
        for (int j = 0; j < m; j++) {
          row[j] = next[j + 1] && other.kinds[j] != ANY && segmentCovers(i, other, j);
        }
      }
      boolean[] done = next;
      next = row;
      row = done;
    }
    return next[0];
  }

  /** Whether segment {@code i} of this pattern matches whatever segment {@code j} of q matches. */
  private boolean segmentCovers(int i, PathPattern q, int j) {
    int qk = q.kinds[j];
    return switch (kinds[i]) {
      case LITERAL -> qk == LITERAL && literals[i].equals(q.literals[j]);
      case ONE -> qk == ONE || qk == GLOB || (qk == LITERAL && !q.literals[j].isEmpty());
      case GLOB ->
          (qk == LITERAL
                  && !q.literals[j].isEmpty()
                  && Globs.matchesWithinSegment(globParts[i], q.literals[j]))
              || (qk == GLOB && java.util.Arrays.equals(globParts[i], q.globParts[j]));
      default -> false;
    };
  }

  /** The pattern as written in the policy. */
  public String pattern() {
    return pattern;
  }

  /** Literal leading segments (before any wildcard), for indexing and overlap analysis. */
  public List<String> literalPrefix() {
    List<String> out = new ArrayList<>();
    for (int i = 0; i < kinds.length && kinds[i] == LITERAL; i++) {
      out.add(literals[i]);
    }
    return out;
  }

  @Override
  public boolean equals(Object o) {
    return o instanceof PathPattern p && p.pattern.equals(pattern);
  }

  @Override
  public int hashCode() {
    return pattern.hashCode();
  }

  @Override
  public String toString() {
    return pattern;
  }
}
