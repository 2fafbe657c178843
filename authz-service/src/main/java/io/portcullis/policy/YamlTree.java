package io.portcullis.policy;

import io.portcullis.config.StrictUtf8;
import java.io.IOException;
import java.nio.charset.CharacterCodingException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.function.Function;
import java.util.function.Predicate;
import org.jspecify.annotations.Nullable;
import org.snakeyaml.engine.v2.api.LoadSettings;
import org.snakeyaml.engine.v2.api.lowlevel.Compose;
import org.snakeyaml.engine.v2.api.lowlevel.Parse;
import org.snakeyaml.engine.v2.common.ScalarStyle;
import org.snakeyaml.engine.v2.events.Event;
import org.snakeyaml.engine.v2.exceptions.Mark;
import org.snakeyaml.engine.v2.exceptions.MarkedYamlEngineException;
import org.snakeyaml.engine.v2.exceptions.YamlEngineException;
import org.snakeyaml.engine.v2.nodes.MappingNode;
import org.snakeyaml.engine.v2.nodes.Node;
import org.snakeyaml.engine.v2.nodes.NodeTuple;
import org.snakeyaml.engine.v2.nodes.ScalarNode;
import org.snakeyaml.engine.v2.nodes.SequenceNode;
import org.snakeyaml.engine.v2.nodes.Tag;
import org.snakeyaml.engine.v2.resolver.ScalarResolver;
import org.snakeyaml.engine.v2.schema.CoreSchema;

/**
 * Reads policy YAML into a positioned {@link YamlNode} tree.
 *
 * <p>Design note. snakeyaml-engine composes a node graph with start marks (YAML 1.2 core schema, so
 * {@code NO} stays a string). The graph is then copied into {@link YamlNode}s, which is where the
 * policy-specific rules apply: <code>${NAME}</code> substitution from the injected environment (
 * <code>$${</code> is a literal <code>${</code>), duplicate keys, non-string keys and custom tags
 * are errors. Limits against hostile input ("billion laughs" and deep nesting), on top of the
 * loader's 1 MiB file cap:
 *
 * <ul>
 *   <li>nesting depth at most {@value #MAX_DEPTH}, checked on the event stream <em>before</em>
 *       composing, so that a deeply nested file cannot exhaust the stack;
 *   <li>at most {@value #MAX_ALIASES} aliases to collections (snakeyaml-engine's own check);
 *   <li>at most {@value #MAX_NODES} nodes after expanding aliases, and no recursive alias;
 *   <li>at most four times the document's length (but at least {@value #MIN_TEXT_BUDGET})
 *       characters of scalar text after expanding aliases and substituting variables. The alias
 *       limit counts only aliases to collections, so without this a 1 MiB file of one long string
 *       and a hundred thousand aliases to it read as tens of gigabytes (and as many errors quoting
 *       it).
 * </ul>
 *
 * <p>A YAML syntax error ends reading (nothing after it can be trusted); every other problem is
 * collected and reading goes on.
 */
public final class YamlTree {
  static final int MAX_DEPTH = 64;
  static final int MAX_ALIASES = 50;
  static final int MAX_NODES = 100_000;
  static final int MIN_TEXT_BUDGET = 1 << 20;

  private static final ScalarResolver CORE = new CoreSchema().getScalarResolver();

  private final Diagnostics diagnostics;
  private final @Nullable Function<String, @Nullable String> env;
  private final Predicate<String> variablesRequiredAt;
  private final Map<Node, Boolean> inProgress = new IdentityHashMap<>();
  private final long textBudget;
  private int nodes;
  private long textChars;
  private boolean tooMany;

  private YamlTree(
      Diagnostics diagnostics,
      @Nullable Function<String, @Nullable String> env,
      Predicate<String> variablesRequiredAt,
      long textBudget) {
    this.diagnostics = diagnostics;
    this.env = env;
    this.variablesRequiredAt = variablesRequiredAt;
    this.textBudget = textBudget;
  }

  /**
   * A YAML file as read from disk: its bytes (policy versions hash them) and its text.
   *
   * @param bytes the file's bytes
   * @param text the bytes decoded as UTF-8, without a byte-order mark
   */
  public record Source(byte[] bytes, String text) {}

  /**
   * Reads a YAML file of at most {@code maxBytes} strict UTF-8 (a byte-order mark is dropped).
   * Problems are whole-file errors naming the file as {@code what} ("the policy file").
   *
   * @return the source, or {@code null} after reporting why there is none
   */
  public static @Nullable Source readSource(
      Path file, String what, int maxBytes, Diagnostics diagnostics) {
    byte[] bytes;
    try {
      if (Files.exists(file) && !Files.isRegularFile(file)) {
        // a FIFO would block the reader (and every later reload) forever; a device never ends
        diagnostics.error(0, 0, "", what + " is not a regular file");
        return null;
      }
      try (java.io.InputStream in = Files.newInputStream(file)) {
        bytes = in.readNBytes(maxBytes + 1); // never trust Files.size: /proc files report 0
      }
    } catch (NoSuchFileException e) {
      diagnostics.error(0, 0, "", what + " does not exist");
      return null;
    } catch (IOException e) {
      diagnostics.error(0, 0, "", "cannot read " + what + ": " + e.getClass().getSimpleName());
      return null;
    }
    if (bytes.length > maxBytes) {
      diagnostics.error(0, 0, "", what + " is larger than " + (maxBytes >> 20) + " MiB");
      return null;
    }
    String text;
    try {
      text = StrictUtf8.decode(bytes);
    } catch (CharacterCodingException e) {
      diagnostics.error(0, 0, "", what + " is not valid UTF-8");
      return null;
    }
    if (text.startsWith("\uFEFF")) {
      text = text.substring(1);
    }
    return new Source(bytes, text);
  }

  /**
   * Parses {@code text}; returns the root, or {@code null} after reporting why there is none
   * (syntax error, empty document, a limit exceeded).
   */
  public static @Nullable YamlNode read(
      String text, Diagnostics diagnostics, Function<String, @Nullable String> env) {
    return parse(text, diagnostics, env, path -> true);
  }

  /**
   * As {@link #read(String, Diagnostics, Function)}, but a variable that is not set is an error
   * only in a value whose path {@code variablesRequiredAt} accepts ({@code store.url}; keys have
   * their mapping's path, the root's keys {@code ""}). Elsewhere the value is left broken without
   * an error, so binders skip it as they skip any broken value: for a command that reads only some
   * sections of a file and must not need the variables of the others.
   */
  public static @Nullable YamlNode read(
      String text,
      Diagnostics diagnostics,
      Function<String, @Nullable String> env,
      Predicate<String> variablesRequiredAt) {
    return parse(text, diagnostics, env, variablesRequiredAt);
  }

  /**
   * Parses a data document (policy test cases, an explain request; JSON is YAML too) with the same
   * positions and limits, but without <code>${NAME}</code> substitution: the text is taken as it
   * is.
   */
  public static @Nullable YamlNode readData(String text, Diagnostics diagnostics) {
    return parse(text, diagnostics, null, path -> true);
  }

  private static @Nullable YamlNode parse(
      String text,
      Diagnostics diagnostics,
      @Nullable Function<String, @Nullable String> env,
      Predicate<String> variablesRequiredAt) {
    LoadSettings settings =
        LoadSettings.builder()
            .setLabel(diagnostics.file())
            .setSchema(new CoreSchema())
            .setMaxAliasesForCollections(MAX_ALIASES)
            .setAllowRecursiveKeys(false)
            .setAllowNonScalarKeys(false)
            .setUseMarks(true)
            .build();
    try {
      if (!depthWithinLimit(settings, text, diagnostics)) {
        return null;
      }
      Optional<Node> root = new Compose(settings).composeString(text);
      if (root.isEmpty()) {
        diagnostics.error(
            1, 1, "", env == null ? "the document is empty" : "the policy file is empty");
        return null;
      }
      YamlTree tree =
          new YamlTree(
              diagnostics, env, variablesRequiredAt, Math.max(4L * text.length(), MIN_TEXT_BUDGET));
      YamlNode node = tree.convert(root.get(), "");
      return tree.tooMany ? null : node;
    } catch (MarkedYamlEngineException e) {
      Mark m = e.getProblemMark().or(e::getContextMark).orElse(null);
      String problem = e.getProblem() == null ? e.getMessage() : e.getProblem();
      String context = e.getContext() == null ? "" : e.getContext() + ": ";
      diagnostics.error(
          m == null ? 1 : m.getLine() + 1,
          m == null ? 1 : m.getColumn() + 1,
          "",
          "invalid YAML: " + context + problem);
      return null;
    } catch (YamlEngineException e) {
      String message = e.getMessage() == null ? "" : e.getMessage();
      diagnostics.error(
          1,
          1,
          "",
          message.contains("aliases")
              ? "too many aliases: at most "
                  + MAX_ALIASES
                  + " aliases to lists or mappings (a defence against alias bombs)"
              : "invalid YAML: " + message);
      return null;
    }
  }

  private static boolean depthWithinLimit(LoadSettings settings, String text, Diagnostics d) {
    int depth = 0;
    for (Event e : new Parse(settings).parseString(text)) {
      switch (e.getEventId()) {
        case MappingStart, SequenceStart -> {
          if (++depth > MAX_DEPTH) {
            Mark m = e.getStartMark().orElse(null);
            d.error(
                m == null ? 1 : m.getLine() + 1,
                m == null ? 1 : m.getColumn() + 1,
                "",
                "nesting deeper than " + MAX_DEPTH + " levels");
            return false;
          }
        }
        case MappingEnd, SequenceEnd -> depth--;
        default -> {}
      }
    }
    return true;
  }

  private @Nullable YamlNode convert(Node node, String path) {
    if (tooMany) {
      return null;
    }
    if (++nodes > MAX_NODES) {
      tooMany = true;
      diagnostics.error(
          line(node), column(node), path, "more than " + MAX_NODES + " nodes (aliases expanded)");
      return null;
    }
    if (inProgress.containsKey(node)) {
      diagnostics.error(line(node), column(node), path, "recursive alias");
      return null;
    }
    inProgress.put(node, Boolean.TRUE);
    try {
      return switch (node) {
        case ScalarNode s -> scalar(s, path);
        case SequenceNode s -> sequence(s, path);
        case MappingNode m -> mapping(m, path);
        default -> {
          diagnostics.error(line(node), column(node), path, "unsupported YAML node");
          yield null;
        }
      };
    } finally {
      inProgress.remove(node);
    }
  }

  private YamlNode.Sequence sequence(SequenceNode s, String path) {
    checkTag(s, Tag.SEQ, path);
    List<YamlNode> items = new ArrayList<>();
    List<Node> values = s.getValue();
    for (int i = 0; i < values.size(); i++) {
      YamlNode item = convert(values.get(i), path + "[" + i + "]");
      if (item != null) {
        items.add(item);
      } else {
        // Keep indexes aligned with the file: a broken item becomes a broken scalar.
        items.add(
            new YamlNode.Scalar(
                "", YamlNode.ScalarType.NULL, true, line(values.get(i)), column(values.get(i))));
      }
    }
    return new YamlNode.Sequence(items, line(s), column(s));
  }

  private YamlNode.Mapping mapping(MappingNode m, String path) {
    checkTag(m, Tag.MAP, path);
    List<YamlNode.Entry> entries = new ArrayList<>();
    Set<String> seen = new HashSet<>();
    for (NodeTuple t : m.getValue()) {
      Node k = t.getKeyNode();
      if (!(k instanceof ScalarNode keyNode)) {
        diagnostics.error(line(k), column(k), path, "keys must be strings");
        continue;
      }
      YamlNode.Scalar key = scalar(keyNode, path);
      String childPath = path.isEmpty() ? key.value() : path + "." + key.value();
      if (!seen.add(key.value())) {
        diagnostics.error(key, childPath, "duplicate key '" + key.value() + "'");
        continue;
      }
      YamlNode value = convert(t.getValueNode(), childPath);
      if (value != null) {
        entries.add(new YamlNode.Entry(key, value));
      }
    }
    return new YamlNode.Mapping(entries, line(m), column(m));
  }

  private YamlNode.Scalar scalar(ScalarNode s, String path) {
    Tag tag = s.getTag();
    String raw = s.getValue();
    Substitution sub = substitute(raw);
    List<String> missing = sub.missing();
    String error =
        missing.isEmpty() || !variablesRequiredAt.test(path)
            ? sub.error()
            : (missing.size() == 1
                    ? "environment variable '" + missing.get(0) + "' is not set"
                    : "environment variables " + missing + " are not set")
                + (sub.error() == null ? "" : "; " + sub.error());
    if (error != null) {
      diagnostics.error(line(s), column(s), path, error);
    }
    // a variable that is not set where it is not required: skipped by binders, without an error
    boolean broken = error != null || !missing.isEmpty();
    String value = sub.value;
    textChars += value.length();
    if (textChars > textBudget && !tooMany) {
      tooMany = true;
      diagnostics.error(
          line(s),
          column(s),
          path,
          "more than "
              + textBudget
              + " characters of text (aliases expanded): at most four times the document's size");
    }
    if (s.getScalarStyle() == ScalarStyle.PLAIN
        && (tag.equals(Tag.ENV_TAG) || (!value.equals(raw) && isCoreTag(tag)))) {
      // A plain scalar's type follows its text: resolve again after substitution. The core
      // resolver tags "${X}" with snakeyaml's own (disabled) !ENV_VARIABLE: substitution is ours.
      tag = CORE.resolve(value, true);
      if (tag.equals(Tag.ENV_TAG)) {
        tag = Tag.STR;
      }
    }
    YamlNode.ScalarType type;
    if (tag.equals(Tag.STR)) {
      type = YamlNode.ScalarType.STRING;
    } else if (tag.equals(Tag.INT)) {
      type = YamlNode.ScalarType.INT;
    } else if (tag.equals(Tag.FLOAT)) {
      type = YamlNode.ScalarType.FLOAT;
    } else if (tag.equals(Tag.BOOL)) {
      type = YamlNode.ScalarType.BOOL;
    } else if (tag.equals(Tag.NULL)) {
      type = YamlNode.ScalarType.NULL;
    } else {
      diagnostics.error(line(s), column(s), path, "unsupported tag " + tag.getValue());
      type = YamlNode.ScalarType.STRING;
      broken = true;
    }
    return new YamlNode.Scalar(value, type, broken, line(s), column(s));
  }

  private static boolean isCoreTag(Tag tag) {
    return tag.equals(Tag.STR)
        || tag.equals(Tag.INT)
        || tag.equals(Tag.FLOAT)
        || tag.equals(Tag.BOOL)
        || tag.equals(Tag.NULL);
  }

  private void checkTag(Node n, Tag expected, String path) {
    if (!n.getTag().equals(expected)) {
      diagnostics.error(line(n), column(n), path, "unsupported tag " + n.getTag().getValue());
    }
  }

  /**
   * A scalar after substitution.
   *
   * @param error a malformed reference, or {@code null}
   * @param missing the variables that are not set (and have no default)
   */
  private record Substitution(String value, @Nullable String error, List<String> missing) {}

  /**
   * Replaces each <code>${NAME}</code> (NAME: letters, digits, {@code _}, not starting with a
   * digit) with its environment value, and <code>${NAME:-default}</code> with the value or, when
   * the variable is unset or empty, the default (as in POSIX shells and docker compose); <code>$${
   * </code> stands for a literal <code>${</code>. Substituted text is not scanned again. A default
   * holding <code>${</code> is an error: the reference ends at the first <code>}</code>, so <code>
   * ${A:-${B}}</code> would silently read as A's value or the literal text <code>${B}</code>. (In
   * YAML flow collections a plain <code>${X}</code> clashes with the braces: quote it there.)
   */
  private Substitution substitute(String raw) {
    if (env == null || raw.indexOf('$') < 0) {
      return new Substitution(raw, null, List.of());
    }
    StringBuilder out = new StringBuilder(raw.length());
    List<String> missing = new ArrayList<>();
    String error = null;
    int i = 0;
    while (i < raw.length()) {
      char c = raw.charAt(i);
      if (c == '$' && raw.startsWith("$${", i)) {
        out.append("${");
        i += 3;
      } else if (c == '$' && raw.startsWith("${", i)) {
        int end = raw.indexOf('}', i + 2);
        String ref = end < 0 ? "" : raw.substring(i + 2, end);
        int dflt = ref.indexOf(":-");
        String name = dflt < 0 ? ref : ref.substring(0, dflt);
        String fallback = dflt < 0 ? null : ref.substring(dflt + 2);
        if (end < 0 || !isVariableName(name)) {
          error =
              "invalid variable reference: expected ${NAME} with NAME of letters, digits and '_'"
                  + " (write $${ for a literal ${)";
          out.append(raw, i, raw.length());
          break;
        }
        if (fallback != null && fallback.contains("${")) {
          // The reference ends at the first '}': ${A:-${B}} would read as A or the literal ${B.
          error =
              "nested ${...} in a default is not supported: write the default literally, or set"
                  + " the variable";
          out.append(raw, i, raw.length());
          break;
        }
        String value = env.apply(name);
        if (value == null || (value.isEmpty() && fallback != null)) {
          value = fallback;
        }
        if (value == null) {
          missing.add(name);
        } else {
          out.append(value);
        }
        i = end + 1;
      } else {
        out.append(c);
        i++;
      }
    }
    return new Substitution(out.toString(), error, List.copyOf(missing));
  }

  private static boolean isVariableName(String s) {
    if (s.isEmpty() || Character.isDigit(s.charAt(0))) {
      return false;
    }
    for (int i = 0; i < s.length(); i++) {
      char c = s.charAt(i);
      if (!(c == '_'
          || (c >= 'A' && c <= 'Z')
          || (c >= 'a' && c <= 'z')
          || (c >= '0' && c <= '9'))) {
        return false;
      }
    }
    return true;
  }

  private static int line(Node n) {
    return n.getStartMark().map(m -> m.getLine() + 1).orElse(1);
  }

  private static int column(Node n) {
    return n.getStartMark().map(m -> m.getColumn() + 1).orElse(1);
  }
}
