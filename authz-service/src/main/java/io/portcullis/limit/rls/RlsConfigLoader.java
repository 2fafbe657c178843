package io.portcullis.limit.rls;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.stream.Stream;
import org.jspecify.annotations.Nullable;
import org.snakeyaml.engine.v2.api.LoadSettings;
import org.snakeyaml.engine.v2.api.lowlevel.Compose;
import org.snakeyaml.engine.v2.exceptions.Mark;
import org.snakeyaml.engine.v2.exceptions.MarkedYamlEngineException;
import org.snakeyaml.engine.v2.exceptions.YamlEngineException;
import org.snakeyaml.engine.v2.nodes.MappingNode;
import org.snakeyaml.engine.v2.nodes.Node;
import org.snakeyaml.engine.v2.nodes.NodeTuple;
import org.snakeyaml.engine.v2.nodes.ScalarNode;
import org.snakeyaml.engine.v2.nodes.SequenceNode;

/**
 * Reads envoyproxy/ratelimit's YAML configuration format unchanged:
 *
 * <pre>{@code
 * domain: <unique domain>
 * descriptors:
 *   - key: <required>
 *     value: <optional; a trailing * matches any value with that prefix>
 *     rate_limit:                      # optional
 *       unit: second|minute|hour|day|week|month|year
 *       requests_per_unit: <uint32>
 *       unlimited: <bool>              # instead of unit and requests_per_unit
 *       name: <optional>
 *       replaces: [ { name: <limit name> } ]
 *     shadow_mode: <bool>
 *     detailed_metric: <bool>          # accepted; metrics detail only
 *     descriptors: [ ... ]             # nested, same shape
 * }</pre>
 *
 * <p>The rules are that project's: a domain appears in one file only; a level may not repeat a
 * key/value pair; {@code unlimited} takes no {@code unit}; a limit never replaces itself. Stricter
 * where that project is silent: keys are checked per level (an unknown or misplaced key is an error
 * naming the expected ones), {@code requests_per_unit} is required unless {@code unlimited}, and
 * values must have the right type. Every problem in every file is reported at once, each with file,
 * line, column and field.
 */
final class RlsConfigLoader {
  private static final Set<String> ROOT_KEYS = Set.of("domain", "descriptors");
  private static final Set<String> DESCRIPTOR_KEYS =
      Set.of(
          "key",
          "value",
          "rate_limit",
          "shadow_mode",
          "detailed_metric",
          "value_to_metric",
          "descriptors");
  private static final Set<String> RATE_LIMIT_KEYS =
      Set.of("unit", "requests_per_unit", "unlimited", "name", "replaces");
  private static final Set<String> REPLACES_KEYS = Set.of("name");

  private final String file;
  private final List<RlsConfigException.Problem> problems;

  private RlsConfigLoader(String file, List<RlsConfigException.Problem> problems) {
    this.file = file;
    this.problems = problems;
  }

  static RlsConfig loadDirectory(Path directory) throws RlsConfigException, IOException {
    Map<String, String> files = new LinkedHashMap<>();
    List<Path> paths;
    try (Stream<Path> s = Files.list(directory)) {
      paths =
          s.filter(Files::isRegularFile)
              .filter(
                  p -> {
                    String n = p.getFileName().toString();
                    return !n.startsWith(".") && (n.endsWith(".yaml") || n.endsWith(".yml"));
                  })
              .sorted()
              .toList();
    }
    for (Path p : paths) {
      files.put(p.toString(), Files.readString(p, StandardCharsets.UTF_8));
    }
    return parse(files);
  }

  static RlsConfig parse(Map<String, String> files) throws RlsConfigException {
    List<RlsConfigException.Problem> problems = new ArrayList<>();
    Map<String, RlsConfig.Node> domains = new LinkedHashMap<>();
    Map<String, String> domainFiles = new HashMap<>();
    for (Map.Entry<String, String> f : files.entrySet()) {
      RlsConfigLoader loader = new RlsConfigLoader(f.getKey(), problems);
      loader.loadFile(f.getValue(), domains, domainFiles);
    }
    if (!problems.isEmpty()) {
      throw new RlsConfigException(problems);
    }
    return new RlsConfig(domains);
  }

  private void loadFile(
      String text, Map<String, RlsConfig.Node> domains, Map<String, String> domainFiles) {
    Optional<Node> doc;
    try {
      doc = new Compose(LoadSettings.builder().setLabel(file).build()).composeString(text);
    } catch (MarkedYamlEngineException e) {
      problemAt(e.getProblemMark().orElse(null), "", "not valid YAML: " + e.getProblem());
      return;
    } catch (YamlEngineException e) {
      problemAt(null, "", "not valid YAML: " + e.getMessage());
      return;
    }
    if (doc.isEmpty() || !(doc.get() instanceof MappingNode root)) {
      problem(doc.orElse(null), "", "expected a mapping with 'domain' and 'descriptors'");
      return;
    }
    Map<String, NodeTuple> fields = fields(root, "", ROOT_KEYS);
    String domain = scalar(fields.get("domain"), "domain", true);
    if (domain != null && domain.isEmpty()) {
      problem(
          fields.get("domain").getValueNode(), "domain", "config file cannot have empty domain");
      domain = null;
    }
    RlsConfig.Node tree = new RlsConfig.Node();
    NodeTuple descriptors = fields.get("descriptors");
    if (descriptors != null) {
      loadDescriptors(
          tree, descriptors.getValueNode(), "descriptors", domain == null ? "" : domain);
    }
    if (domain == null) {
      if (fields.get("domain") == null) {
        problem(root, "domain", "config file cannot have empty domain");
      }
      return;
    }
    String other = domainFiles.putIfAbsent(domain, file);
    if (other != null) {
      problem(
          fields.get("domain").getValueNode(),
          "domain",
          "duplicate domain '" + domain + "' (also in " + other + ")");
      return;
    }
    domains.put(domain, tree);
  }

  private void loadDescriptors(RlsConfig.Node parent, Node list, String path, String parentKey) {
    if (!(list instanceof SequenceNode seq)) {
      problem(list, path, "expected a list of descriptors");
      return;
    }
    for (int i = 0; i < seq.getValue().size(); i++) {
      Node item = seq.getValue().get(i);
      String here = path + "[" + i + "]";
      if (!(item instanceof MappingNode m)) {
        problem(item, here, "expected a descriptor mapping with 'key'");
        continue;
      }
      Map<String, NodeTuple> f = fields(m, here, DESCRIPTOR_KEYS);
      String key = scalar(f.get("key"), here + ".key", true);
      if (key == null || key.isEmpty()) {
        if (key != null || f.get("key") == null) {
          problem(m, here + ".key", "descriptor has empty key");
        }
        continue;
      }
      String value = scalar(f.get("value"), here + ".value", false);
      String finalKey = value == null || value.isEmpty() ? key : key + "_" + value;
      String fullKey = parentKey + "." + finalKey;
      boolean shadow = bool(f.get("shadow_mode"), here + ".shadow_mode");
      bool(f.get("detailed_metric"), here + ".detailed_metric");
      bool(f.get("value_to_metric"), here + ".value_to_metric");
      RlsConfig.Node node = new RlsConfig.Node();
      NodeTuple rl = f.get("rate_limit");
      if (rl != null) {
        node.limit = rateLimit(rl.getValueNode(), here + ".rate_limit", fullKey, shadow);
      }
      NodeTuple nested = f.get("descriptors");
      if (nested != null) {
        loadDescriptors(node, nested.getValueNode(), here + ".descriptors", fullKey);
      }
      if (parent.children.containsKey(finalKey)) {
        problem(m, here, "duplicate descriptor composite key '" + fullKey + "'");
        continue;
      }
      parent.children.put(finalKey, node);
      if (finalKey.endsWith("*")) {
        parent.wildcardKeys.add(finalKey);
      }
    }
  }

  private @Nullable RlsLimit rateLimit(Node n, String path, String fullKey, boolean shadow) {
    if (!(n instanceof MappingNode m)) {
      problem(n, path, "expected a mapping with 'unit' and 'requests_per_unit', or 'unlimited'");
      return null;
    }
    int before = problems.size();
    Map<String, NodeTuple> f = fields(m, path, RATE_LIMIT_KEYS);
    boolean unlimited = bool(f.get("unlimited"), path + ".unlimited");
    String unitText = scalar(f.get("unit"), path + ".unit", false);
    RlsUnit unit = unitText == null ? null : RlsUnit.parse(unitText);
    if (unlimited) {
      if (unit != null) {
        problem(
            f.get("unit").getKeyNode(),
            path + ".unit",
            "should not specify rate limit unit when unlimited");
      }
      unit = null;
    } else if (unit == null) {
      problem(
          unitText == null ? m : f.get("unit").getValueNode(),
          path + ".unit",
          "invalid rate limit unit '"
              + (unitText == null ? "" : unitText)
              + "' (expected second, minute, hour, day, week, month or year)");
    }
    long rpu = 0;
    NodeTuple rpuNode = f.get("requests_per_unit");
    if (rpuNode != null) {
      String t = scalar(rpuNode, path + ".requests_per_unit", true);
      if (t != null) {
        try {
          rpu = Long.parseLong(t);
          if (rpu < 0 || rpu > 0xFFFF_FFFFL) {
            throw new NumberFormatException();
          }
        } catch (NumberFormatException e) {
          problem(
              rpuNode.getValueNode(),
              path + ".requests_per_unit",
              "expected a whole number from 0 to 4294967295, got '" + t + "'");
        }
      }
    } else if (!unlimited) {
      problem(m, path + ".requests_per_unit", "missing (expected a whole number; 0 refuses all)");
    }
    String name = scalar(f.get("name"), path + ".name", false);
    if (name != null && name.isEmpty()) {
      name = null;
    }
    List<String> replaces = new ArrayList<>();
    NodeTuple rep = f.get("replaces");
    if (rep != null) {
      if (!(rep.getValueNode() instanceof SequenceNode seq)) {
        problem(rep.getValueNode(), path + ".replaces", "expected a list of {name: ...}");
      } else {
        for (int i = 0; i < seq.getValue().size(); i++) {
          Node item = seq.getValue().get(i);
          String here = path + ".replaces[" + i + "]";
          if (!(item instanceof MappingNode rm)) {
            problem(item, here, "expected a mapping {name: ...}");
            continue;
          }
          String r = scalar(fields(rm, here, REPLACES_KEYS).get("name"), here + ".name", false);
          if (r == null || r.isEmpty()) {
            problem(rm, here + ".name", "should not have an empty replaces entry");
          } else if (r.equals(name)) {
            problem(rm, here + ".name", "replaces should not contain name of same descriptor");
          } else {
            replaces.add(r);
          }
        }
      }
    }
    if (problems.size() > before) {
      return null;
    }
    return new RlsLimit(fullKey, rpu, unit, name, unlimited, shadow, replaces);
  }

  /** The mapping's entries by key; reports unknown, duplicate and non-scalar keys. */
  private Map<String, NodeTuple> fields(MappingNode m, String path, Set<String> allowed) {
    Map<String, NodeTuple> out = new LinkedHashMap<>();
    for (NodeTuple t : m.getValue()) {
      String where = path.isEmpty() ? "" : path + ".";
      if (!(t.getKeyNode() instanceof ScalarNode k)) {
        problem(t.getKeyNode(), path, "config error, key is not of type string");
        continue;
      }
      if (!allowed.contains(k.getValue())) {
        problem(
            k,
            where + k.getValue(),
            "config error, unknown key '"
                + k.getValue()
                + "' (expected one of "
                + String.join(", ", allowed.stream().sorted().toList())
                + ")");
        continue;
      }
      if (out.putIfAbsent(k.getValue(), t) != null) {
        problem(k, where + k.getValue(), "duplicate key '" + k.getValue() + "'");
      }
    }
    return out;
  }

  /** A scalar's text, {@code null} if absent (reported when {@code required}) or not a scalar. */
  private @Nullable String scalar(@Nullable NodeTuple t, String path, boolean required) {
    if (t == null) {
      return null;
    }
    Node v = t.getValueNode();
    if (v instanceof ScalarNode s) {
      boolean isNull = s.getTag().getValue().endsWith(":null");
      return isNull ? (required ? "" : null) : s.getValue();
    }
    problem(v, path, "expected a single value, not a list or mapping");
    return null;
  }

  private boolean bool(@Nullable NodeTuple t, String path) {
    String v = scalar(t, path, false);
    if (v == null) {
      return false;
    }
    return switch (v.toLowerCase(Locale.ROOT)) {
      case "true" -> true;
      case "false" -> false;
      default -> {
        problem(t.getValueNode(), path, "expected true or false, got '" + v + "'");
        yield false;
      }
    };
  }

  private void problem(@Nullable Node at, String field, String message) {
    problemAt(at == null ? null : at.getStartMark().orElse(null), field, message);
  }

  private void problemAt(@Nullable Mark at, String field, String message) {
    problems.add(
        new RlsConfigException.Problem(
            file,
            at == null ? 0 : at.getLine() + 1,
            at == null ? 0 : at.getColumn() + 1,
            field,
            message));
  }
}
