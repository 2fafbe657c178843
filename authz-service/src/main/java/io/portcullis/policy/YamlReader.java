package io.portcullis.policy;

import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import org.jspecify.annotations.Nullable;

/**
 * Typed, positioned reading of a {@link YamlNode} tree: each reader reports a problem at the node
 * it concerns (file, line, column, field) into {@link Diagnostics} and returns {@code null}, so a
 * binder collects every error of a file in one pass. The policy binder and the runtime
 * configuration binder share it.
 */
public abstract class YamlReader {
  protected final Diagnostics d;

  protected YamlReader(Diagnostics d) {
    this.d = Objects.requireNonNull(d, "d");
  }

  protected List<String> strings(YamlNode node, String path, boolean nonEmpty) {
    List<String> out = new ArrayList<>();
    List<YamlNode> items = items(node, path, "a list of strings");
    if (items == null) {
      return out;
    }
    if (nonEmpty && items.isEmpty()) {
      d.error(node, path, "must not be empty");
    }
    for (int i = 0; i < items.size(); i++) {
      String s = string(items.get(i), path + "[" + i + "]");
      if (s != null && s.isEmpty()) {
        d.error(items.get(i), path + "[" + i + "]", "must not be empty");
      } else if (s != null) {
        out.add(s);
      }
    }
    return out;
  }

  protected @Nullable Duration requiredDuration(Fields f, String key) {
    if (f.get(key) == null) {
      f.missing(key, "is required (a duration such as 30s, 1m or 10m)");
      return null;
    }
    return duration(f.get(key), f.path(key));
  }

  /** {@code 500ms}, {@code 30s}, {@code 1m}, {@code 10m}, {@code 24h}, {@code 90d}. */
  protected @Nullable Duration duration(YamlNode node, String path) {
    if (node instanceof YamlNode.Scalar s && s.broken()) {
      return null;
    }
    String expected =
        "expected a duration such as 500ms, 30s, 10m, 24h or 90d (a positive integer and one"
            + " of ms, s, m, h, d)";
    if (!(node instanceof YamlNode.Scalar s)
        || (s.type() != YamlNode.ScalarType.STRING && s.type() != YamlNode.ScalarType.INT)) {
      d.error(node, path, expected + ", got " + node.describe());
      return null;
    }
    Duration parsed = parseDuration(s.value());
    if (parsed == null) {
      d.error(node, path, expected + ", got '" + s.value() + "'");
    }
    return parsed;
  }

  /**
   * Parses a duration as the policy writes it: a positive integer of at most 10^9 and one of {@code
   * ms, s, m, h, d} ({@code 500ms}, {@code 30s}, {@code 24h}, {@code 90d}); {@code null} if {@code
   * s} is not one. Also used for durations on the command line and in admin API parameters.
   */
  public static @Nullable Duration parseDuration(String s) {
    int i = 0;
    while (i < s.length() && s.charAt(i) >= '0' && s.charAt(i) <= '9') {
      i++;
    }
    Long n = positiveLong(s.substring(0, i));
    if (n == null || n > 1_000_000_000L) {
      return null;
    }
    return switch (s.substring(i)) {
      case "ms" -> Duration.ofMillis(n);
      case "s" -> Duration.ofSeconds(n);
      case "m" -> Duration.ofMinutes(n);
      case "h" -> Duration.ofHours(n);
      case "d" -> Duration.ofDays(n);
      default -> null;
    };
  }

  /** A positive decimal integer of at most 18 digits, or {@code null}. */
  protected static @Nullable Long positiveLong(String s) {
    if (s.isEmpty() || s.length() > 18) {
      return null;
    }
    for (int i = 0; i < s.length(); i++) {
      if (s.charAt(i) < '0' || s.charAt(i) > '9') {
        return null;
      }
    }
    long v = Long.parseLong(s);
    return v > 0 ? v : null;
  }

  protected @Nullable Long positiveInteger(YamlNode node, String path) {
    if (node instanceof YamlNode.Scalar s && s.broken()) {
      return null;
    }
    if (!(node instanceof YamlNode.Scalar s) || s.type() != YamlNode.ScalarType.INT) {
      d.error(node, path, "expected a positive integer, got " + node.describe());
      return null;
    }
    Long v = positiveLong(s.value().startsWith("+") ? s.value().substring(1) : s.value());
    if (v == null) {
      d.error(node, path, "expected a positive integer, got " + s.value());
    }
    return v;
  }

  protected @Nullable Boolean bool(YamlNode node, String path) {
    if (node instanceof YamlNode.Scalar s && s.broken()) {
      return null;
    }
    if (!(node instanceof YamlNode.Scalar s) || s.type() != YamlNode.ScalarType.BOOL) {
      d.error(
          node,
          path,
          "expected true or false, got "
              + node.describe()
              + (node instanceof YamlNode.Scalar sc && sc.type() == YamlNode.ScalarType.STRING
                  ? " '" + sc.value() + "'"
                  : ""));
      return null;
    }
    return s.value().equalsIgnoreCase("true");
  }

  /**
   * A string value. Integers and numbers are accepted as their text; booleans and null are type
   * errors (quote them to mean text). {@code null} after an error, or for a broken scalar (already
   * reported).
   */
  protected @Nullable String string(YamlNode node, String path) {
    if (node instanceof YamlNode.Scalar s) {
      if (s.broken()) {
        return null;
      }
      switch (s.type()) {
        case STRING, INT, FLOAT -> {
          return s.value();
        }
        case BOOL ->
            d.error(
                node,
                path,
                "expected a string, got a boolean (write \"" + s.value() + "\" to mean text)");
        case NULL -> d.error(node, path, "expected a string, got null");
      }
      return null;
    }
    d.error(node, path, "expected a string, got " + node.describe());
    return null;
  }

  protected YamlNode.@Nullable Mapping mapping(YamlNode node, String path) {
    if (node instanceof YamlNode.Mapping m) {
      return m;
    }
    if (!(node instanceof YamlNode.Scalar s && s.broken())) {
      d.error(node, path, "expected a mapping, got " + node.describe());
    }
    return null;
  }

  protected @Nullable List<YamlNode> items(YamlNode node, String path, String expected) {
    if (node instanceof YamlNode.Sequence s) {
      return s.items();
    }
    if (!(node instanceof YamlNode.Scalar s && s.broken())) {
      d.error(node, path, "expected " + expected + ", got " + node.describe());
    }
    return null;
  }

  protected interface ItemBinder {
    void bind(YamlNode item, String path);
  }

  protected void forEachItem(YamlNode node, String path, String expected, ItemBinder binder) {
    List<YamlNode> items = items(node, path, expected);
    if (items == null) {
      return;
    }
    for (int i = 0; i < items.size(); i++) {
      binder.bind(items.get(i), path + "[" + i + "]");
    }
  }

  /**
   * The known keys of one mapping: unknown keys are reported on construction (at the key, with a
   * suggestion), known ones are looked up by name.
   */
  protected final class Fields {
    private final YamlNode.Mapping map;
    private final String path;
    private final Map<String, YamlNode.Entry> entries = new LinkedHashMap<>();

    public Fields(YamlNode.Mapping map, String path, List<String> known) {
      this.map = map;
      this.path = path;
      for (YamlNode.Entry e : map.entries()) {
        String k = e.key().value();
        if (known.contains(k)) {
          entries.put(k, e);
        } else if (!e.key().broken()) {
          d.error(
              e.key(),
              path(k),
              "unknown key '"
                  + k
                  + "'"
                  + (Suggestions.closest(k, known) != null
                      ? Suggestions.hint(k, known)
                      : "; expected one of " + String.join(", ", known)));
        }
      }
    }

    public @Nullable YamlNode get(String key) {
      YamlNode.Entry e = entries.get(key);
      return e == null ? null : e.value();
    }

    public YamlNode.@Nullable Scalar key(String key) {
      YamlNode.Entry e = entries.get(key);
      return e == null ? null : e.key();
    }

    public String path(String key) {
      return path.isEmpty() ? key : path + "." + key;
    }

    public void missing(String key, String message) {
      d.error(map, path(key), message);
    }
  }
}
