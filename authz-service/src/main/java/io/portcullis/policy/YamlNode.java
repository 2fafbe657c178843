package io.portcullis.policy;

import java.util.List;

/**
 * The policy file as a tree of positioned nodes, after environment substitution and the checks of
 * {@link YamlTree} (no duplicate keys, no custom tags, bounded size). Positions are 1-based.
 */
public sealed interface YamlNode permits YamlNode.Scalar, YamlNode.Mapping, YamlNode.Sequence {

  int line();

  int column();

  /** How the node is described in a type error: "a string", "a mapping", "a list", ... */
  String describe();

  /** The YAML 1.2 core-schema type of a scalar. */
  enum ScalarType {
    STRING("a string"),
    INT("an integer"),
    FLOAT("a number"),
    BOOL("a boolean"),
    NULL("null");

    final String description;

    ScalarType(String description) {
      this.description = description;
    }
  }

  /**
   * A scalar.
   *
   * @param value the text after {@code ${NAME}} substitution
   * @param broken substitution failed (already reported), or named a variable that is not set where
   *     the reader does not require it ({@link YamlTree#read(String, Diagnostics,
   *     java.util.function.Function, java.util.function.Predicate)}): binders skip the value
   *     silently so that one missing variable does not cascade into more errors
   */
  record Scalar(String value, ScalarType type, boolean broken, int line, int column)
      implements YamlNode {
    @Override
    public String describe() {
      return type.description;
    }
  }

  /** A mapping; keys are unique strings (checked when the tree is built). */
  record Mapping(List<Entry> entries, int line, int column) implements YamlNode {
    public Mapping {
      entries = List.copyOf(entries);
    }

    @Override
    public String describe() {
      return "a mapping";
    }
  }

  /** One key and its value. */
  record Entry(Scalar key, YamlNode value) {}

  /** A sequence (a YAML list). */
  record Sequence(List<YamlNode> items, int line, int column) implements YamlNode {
    public Sequence {
      items = List.copyOf(items);
    }

    @Override
    public String describe() {
      return "a list";
    }
  }
}
