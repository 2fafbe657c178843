package io.portcullis.payload;

import com.google.re2j.Pattern;
import com.google.re2j.PatternSyntaxException;
import com.networknt.schema.regex.RegularExpression;
import com.networknt.schema.regex.RegularExpressionFactory;
import com.networknt.schema.regex.RegularExpressions;

/**
 * Compiles the regular expressions of body schemas ({@code pattern}, {@code patternProperties})
 * with RE2/J, whose matching takes time linear in the input. ({@code format: regex} would compile
 * the body's values; {@link BodyFormats} refuses it.)
 *
 * <p>Design note. The validator's default engine is {@link java.util.regex}, a backtracking
 * matcher: a schema pattern such as {@code ^([a-zA-Z0-9]+\s?){1,100}$} takes exponential time on a
 * 33-character value ending in {@code !}, and {@code ^(ab|cd)*$} recurses once per repetition, so a
 * 60 KB value overflows the stack. Either lets one request hold a core or kill its thread. RE2
 * (Cox, "Regular Expression Matching Can Be Simple And Fast", swtch.com/~rsc/regexp) simulates the
 * automaton instead, so no input makes it slow; the price is that it has no lookaround and no
 * backreferences, which {@link #getRegularExpression} refuses with {@link UnsupportedPattern}. The
 * validator compiles {@code pattern} and {@code patternProperties} when the schema is loaded, so
 * such a pattern fails the policy load, never a request.
 *
 * <p>JSON Schema patterns are ECMA-262 and unanchored: a value matches when the pattern is found
 * anywhere in it ({@link com.google.re2j.Matcher#find()}). RE2's {@code $} matches only at the end
 * of the text, as ECMA-262's does; long-form Unicode property names ({@code \p{Letter}}) are
 * shortened as the validator does for its own engines.
 *
 * <p>Stateless and thread-safe; compiled expressions are immutable.
 */
final class Re2jRegularExpressionFactory implements RegularExpressionFactory {
  static final Re2jRegularExpressionFactory INSTANCE = new Re2jRegularExpressionFactory();

  private Re2jRegularExpressionFactory() {}

  /**
   * A pattern RE2 cannot compile: lookaround, backreferences, or a syntax error.
   *
   * @see #pattern()
   */
  static final class UnsupportedPattern extends RuntimeException {
    private static final long serialVersionUID = 1L;
    private final String pattern;
    private final String reason;

    UnsupportedPattern(String pattern, PatternSyntaxException cause) {
      super("pattern '" + pattern + "' is not supported", cause);
      this.pattern = pattern;
      this.reason =
          cause.getDescription()
              + (cause.getPattern().isEmpty() ? "" : " '" + cause.getPattern() + "'")
              + " (patterns run on RE2, which has no lookaround and no backreferences)";
    }

    /** The pattern as written in the schema. */
    String pattern() {
      return pattern;
    }

    /** Why RE2 refused it, e.g. {@code invalid or unsupported Perl syntax '(?='}. */
    String reason() {
      return reason;
    }
  }

  /**
   * Compiles {@code regex}.
   *
   * @throws UnsupportedPattern when RE2 cannot compile it
   */
  @Override
  public RegularExpression getRegularExpression(String regex) {
    Pattern compiled;
    try {
      compiled =
          Pattern.compile(
              unicodeEscapes(RegularExpressions.replaceLongformCharacterProperties(regex)));
    } catch (PatternSyntaxException e) {
      throw new UnsupportedPattern(regex, e);
    }
    return value -> compiled.matcher(value).find();
  }

  /**
   * ECMA-262's backslash-u escape of four hex digits (valid in JSON Schema patterns, refused by
   * RE2) as RE2's backslash-x-brace form; an escaped backslash before the u is left alone.
   */
  static String unicodeEscapes(String regex) {
    if (regex.indexOf("\\u") < 0) {
      return regex;
    }
    StringBuilder out = new StringBuilder(regex.length());
    for (int i = 0; i < regex.length(); i++) {
      char c = regex.charAt(i);
      if (c != '\\' || i + 1 >= regex.length()) {
        out.append(c);
        continue;
      }
      char next = regex.charAt(i + 1);
      if (next == 'u' && isHex4(regex, i + 2)) {
        out.append("\\x{").append(regex, i + 2, i + 6).append('}');
        i += 5;
      } else {
        out.append(c).append(next); // any other escape, an escaped backslash included, as is
        i++;
      }
    }
    return out.toString();
  }

  private static boolean isHex4(String s, int from) {
    if (from + 4 > s.length()) {
      return false;
    }
    for (int i = from; i < from + 4; i++) {
      if (Character.digit(s.charAt(i), 16) < 0) {
        return false;
      }
    }
    return true;
  }
}
