package io.portcullis.policy;

import java.util.Collection;
import org.jspecify.annotations.Nullable;

/** "did you mean ...?" for misspelt keys and names: the closest candidate by edit distance. */
final class Suggestions {
  static final int MAX_WORD = 64;

  private Suggestions() {}

  /**
   * The candidate closest to {@code word} (optimal string alignment distance: insertions,
   * deletions, substitutions and adjacent transpositions; case-insensitive), if it is close enough
   * to be a likely typo: one edit for words of up to five characters, two for longer ones. Words
   * longer than {@value #MAX_WORD} characters get no suggestion, and candidates whose length is too
   * far off are skipped unmeasured: the distance costs length times length, and a policy value can
   * be a megabyte long.
   */
  static @Nullable String closest(String word, Collection<String> candidates) {
    if (word.length() > MAX_WORD) {
      return null;
    }
    String best = null;
    int bestDistance = Integer.MAX_VALUE;
    String w = word.toLowerCase(java.util.Locale.ROOT);
    int allowed = word.length() <= 5 ? 1 : 2;
    for (String c : candidates) {
      String lower = c.toLowerCase(java.util.Locale.ROOT);
      if (Math.abs(lower.length() - w.length()) > allowed) {
        continue; // the distance is at least the difference in length
      }
      int d = distance(w, lower);
      if (d < bestDistance) {
        best = c;
        bestDistance = d;
      }
    }
    if (best == null || bestDistance > allowed || bestDistance >= word.length()) {
      return null;
    }
    return best;
  }

  /** {@code "; did you mean 'x'?"} or the empty string. */
  static String hint(String word, Collection<String> candidates) {
    String s = closest(word, candidates);
    return s == null ? "" : "; did you mean '" + s + "'?";
  }

  static int distance(String a, String b) {
    int[][] d = new int[a.length() + 1][b.length() + 1];
    for (int i = 0; i <= a.length(); i++) {
      d[i][0] = i;
    }
    for (int j = 0; j <= b.length(); j++) {
      d[0][j] = j;
    }
    for (int i = 1; i <= a.length(); i++) {
      for (int j = 1; j <= b.length(); j++) {
        int cost = a.charAt(i - 1) == b.charAt(j - 1) ? 0 : 1;
        d[i][j] = Math.min(Math.min(d[i - 1][j] + 1, d[i][j - 1] + 1), d[i - 1][j - 1] + cost);
        if (i > 1
            && j > 1
            && a.charAt(i - 1) == b.charAt(j - 2)
            && a.charAt(i - 2) == b.charAt(j - 1)) {
          d[i][j] = Math.min(d[i][j], d[i - 2][j - 2] + 1);
        }
      }
    }
    return d[a.length()][b.length()];
  }
}
