package io.portcullis.limit.rls;

import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.jspecify.annotations.Nullable;

/**
 * A loaded rate limit service configuration: one descriptor tree per domain, immutable.
 *
 * <p>Matching follows envoyproxy/ratelimit: a request descriptor's entries are walked level by
 * level; at each level the entry matches, in order, the node {@code key_value}, then the first node
 * whose value ends in {@code *} and is a prefix of the entry's value (in file order), then the
 * key-only node {@code key}. The limit applies only if the node matched by the <em>last</em> entry
 * has one (a descriptor has to be exactly as deep as the configuration); the walk stops early when
 * a level does not match or has no children.
 */
public final class RlsConfig {
  private final Map<String, Node> domains;

  /** One level of a domain's descriptor tree. */
  static final class Node {
    final Map<String, Node> children = new LinkedHashMap<>();
    final List<String> wildcardKeys = new ArrayList<>();
    @Nullable RlsLimit limit;
  }

  RlsConfig(Map<String, Node> domains) {
    this.domains = Map.copyOf(domains);
  }

  /** A configuration without domains: every descriptor answers {@code OK} without a limit. */
  public static RlsConfig empty() {
    return new RlsConfig(Map.of());
  }

  /**
   * Loads every {@code *.yaml} and {@code *.yml} file directly in {@code directory} (dot files
   * skipped), in name order.
   *
   * @throws RlsConfigException listing every problem with file, line and column
   * @throws IOException when the directory cannot be read
   */
  public static RlsConfig load(Path directory) throws RlsConfigException, IOException {
    return RlsConfigLoader.loadDirectory(directory);
  }

  /**
   * Parses configuration files given as text (name → YAML), as {@link #load} does for a directory.
   */
  public static RlsConfig parse(Map<String, String> files) throws RlsConfigException {
    return RlsConfigLoader.parse(files);
  }

  /** The configured domains. */
  public Set<String> domains() {
    return domains.keySet();
  }

  /**
   * The limit for one request descriptor, or {@code null} when none applies (unknown domain, no
   * matching node, or a match that is not at the descriptor's depth). A descriptor that carries its
   * own limit (Envoy's {@code RateLimitDescriptor.limit}) gets that limit in a known domain.
   */
  public @Nullable RlsLimit find(String domain, RlsRequest.Descriptor descriptor) {
    Node root = domains.get(domain);
    if (root == null) {
      return null;
    }
    List<RlsRequest.Entry> entries = descriptor.entries();
    RlsRequest.LimitOverride override = descriptor.limitOverride();
    if (override != null) {
      return RlsLimit.override(
          domain + "." + describe(entries), override.requestsPerUnit(), override.unit());
    }
    Map<String, Node> level = root.children;
    List<String> wildcards = root.wildcardKeys;
    RlsLimit found = null;
    for (int i = 0; i < entries.size(); i++) {
      RlsRequest.Entry e = entries.get(i);
      String keyValue = e.key() + "_" + e.value();
      Node next = level.get(keyValue);
      if (next == null) {
        for (String w : wildcards) {
          if (keyValue.startsWith(w.substring(0, w.length() - 1))) {
            next = level.get(w);
            break;
          }
        }
      }
      if (next == null) {
        next = level.get(e.key());
      }
      if (next != null && next.limit != null && i == entries.size() - 1) {
        found = next.limit;
      }
      if (next == null || next.children.isEmpty()) {
        break;
      }
      level = next.children;
      wildcards = next.wildcardKeys;
    }
    return found;
  }

  private static String describe(List<RlsRequest.Entry> entries) {
    StringBuilder b = new StringBuilder();
    for (RlsRequest.Entry e : entries) {
      if (!b.isEmpty()) {
        b.append('.');
      }
      b.append(e.key());
      if (!e.value().isEmpty()) {
        b.append('_').append(e.value());
      }
    }
    return b.toString();
  }

  @Override
  public String toString() {
    return "RlsConfig" + domains.keySet();
  }
}
