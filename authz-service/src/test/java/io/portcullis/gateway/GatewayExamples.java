package io.portcullis.gateway;

import static org.assertj.core.api.Assertions.assertThat;

import io.portcullis.testing.RepoRoot;
import java.io.IOException;
import java.nio.file.Files;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.snakeyaml.engine.v2.api.Load;
import org.snakeyaml.engine.v2.api.LoadSettings;

/**
 * Reads the gateway examples under {@code examples/} the way the gateways do, for the tests that
 * check them ({@link GatewayExamplesTest} structurally, {@link ForwardAuthExamplesTest} against a
 * running forward-auth endpoint), so neither keeps a second copy of a header list or an address.
 */
final class GatewayExamples {
  private GatewayExamples() {}

  /**
   * One APISIX route with its effective plugins: the plugin config's, overridden per plugin by the
   * route's own (APISIX merges them that way).
   */
  record ApisixRoute(String id, Map<String, Object> route, Map<String, Object> plugins) {
    Map<String, Object> forwardAuth() {
      return map(plugins.get("forward-auth"));
    }
  }

  /** Every route of {@code examples/apisix/apisix.yaml}. */
  static List<ApisixRoute> apisixRoutes() {
    Map<String, Object> config = yaml("examples/apisix/apisix.yaml");
    Map<String, Map<String, Object>> pluginConfigs = new HashMap<>();
    for (Map<String, Object> pc : maps(config.get("plugin_configs"))) {
      pluginConfigs.put((String) pc.get("id"), map(pc.get("plugins")));
    }
    List<ApisixRoute> routes = new ArrayList<>();
    for (Map<String, Object> route : maps(config.get("routes"))) {
      Map<String, Object> plugins = new HashMap<>();
      if (route.get("plugin_config_id") != null) {
        plugins.putAll(pluginConfigs.get((String) route.get("plugin_config_id")));
      }
      if (route.get("plugins") != null) {
        plugins.putAll(map(route.get("plugins")));
      }
      routes.add(new ApisixRoute((String) route.get("id"), route, plugins));
    }
    return routes;
  }

  /**
   * One Traefik router of {@code examples/traefik/dynamic.yml} with its middlewares, in the order
   * Traefik runs them.
   *
   * @param middlewares each middleware's configuration ({@code {headers: ...}}, {@code
   *     {forwardAuth: ...}}), in chain order
   */
  record TraefikRouter(String name, List<String> chain, List<Map<String, Object>> middlewares) {}

  /** Every router of {@code examples/traefik/dynamic.yml}. */
  static List<TraefikRouter> traefikRouters() {
    Map<String, Object> http = map(yaml("examples/traefik/dynamic.yml").get("http"));
    Map<String, Object> middlewares = map(http.get("middlewares"));
    List<TraefikRouter> out = new ArrayList<>();
    map(http.get("routers"))
        .forEach(
            (name, router) -> {
              List<String> chain = strings(map(router).get("middlewares"));
              List<Map<String, Object>> configs = new ArrayList<>();
              for (String mw : chain) {
                assertThat(middlewares).as("router %s uses %s", name, mw).containsKey(mw);
                configs.add(map(middlewares.get(mw)));
              }
              out.add(new TraefikRouter(name, chain, configs));
            });
    return out;
  }

  /**
   * The request headers a Traefik {@code headers} middleware removes (a {@code
   * customRequestHeaders} entry with an empty value), lower case; empty for other middlewares.
   */
  static List<String> removedRequestHeaders(Map<String, Object> middleware) {
    if (middleware.get("headers") == null) {
      return List.of();
    }
    Object custom = map(middleware.get("headers")).get("customRequestHeaders");
    if (custom == null) {
      return List.of();
    }
    List<String> removed = new ArrayList<>();
    map(custom)
        .forEach(
            (name, value) -> {
              if ("".equals(value)) {
                removed.add(name.toLowerCase(Locale.ROOT));
              }
            });
    return removed;
  }

  /**
   * The {@code X-Forwarded-*} headers a gateway's README lists in its "what it sends Portcullis"
   * table (rows of the form {@code | `X-Forwarded-Proto` | ... |}, indented or not), in table
   * order.
   */
  static List<String> forwardedHeadersTable(String readme) {
    String text = read(readme);
    Matcher m =
        Pattern.compile("^[ \\t]*\\|\\s*`(X-Forwarded-[A-Za-z-]+)`\\s*\\|", Pattern.MULTILINE)
            .matcher(text);
    List<String> names = new ArrayList<>();
    while (m.find()) {
      names.add(m.group(1));
    }
    assertThat(names).as("X-Forwarded-* table in %s", readme).isNotEmpty();
    return names;
  }

  static Map<String, Object> yaml(String relative) {
    return map(
        new Load(LoadSettings.builder().setLabel(relative).build()).loadFromString(read(relative)));
  }

  static String read(String relative) {
    try {
      return Files.readString(RepoRoot.resolve(relative));
    } catch (IOException e) {
      throw new AssertionError("cannot read " + relative, e);
    }
  }

  @SuppressWarnings("unchecked")
  static Map<String, Object> map(Object o) {
    assertThat(o).isInstanceOf(Map.class);
    return (Map<String, Object>) o;
  }

  @SuppressWarnings("unchecked")
  static List<Map<String, Object>> maps(Object o) {
    assertThat(o).isInstanceOf(List.class);
    return (List<Map<String, Object>>) o;
  }

  static List<String> strings(Object o) {
    assertThat(o).isInstanceOf(List.class);
    return ((List<?>) o).stream().map(String::valueOf).toList();
  }

  static List<String> lower(Object o) {
    return strings(o).stream().map(s -> s.toLowerCase(Locale.ROOT)).toList();
  }
}
