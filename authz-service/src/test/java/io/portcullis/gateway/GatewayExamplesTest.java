package io.portcullis.gateway;

import static org.assertj.core.api.Assertions.assertThat;

import io.portcullis.decision.HeaderNames;
import io.portcullis.testing.RepoRoot;
import java.io.IOException;
import java.net.ServerSocket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.snakeyaml.engine.v2.api.Load;
import org.snakeyaml.engine.v2.api.LoadSettings;

/**
 * The APISIX, Traefik and nginx examples wire Portcullis's forward-auth endpoint the way their
 * READMEs say: the identity headers Portcullis sets ({@link HeaderNames}) reach the upstream, a
 * client's copies and the trusted geo header never do, deny answers keep their headers, and nothing
 * fails open. When nginx is installed, {@code nginx -t} accepts the templated config.
 */
class GatewayExamplesTest {
  private static final String CHECK_URI = "http://portcullis:9192/check";
  private static final String GEO_HEADER = "x-geo-country";
  private static final List<String> IDENTITY_HEADERS =
      List.of(
          HeaderNames.PRINCIPAL,
          HeaderNames.SEGMENT,
          HeaderNames.CLIENT,
          HeaderNames.CREDENTIAL,
          HeaderNames.DECISION_ID);

  // ---------------------------------------------------------------- APISIX

  @Test
  void apisix_everyRouteAsksPortcullisFailClosed_andOnlyPortcullisSetsIdentityHeaders() {
    Map<String, Object> config = yaml("examples/apisix/apisix.yaml");
    Map<String, Map<String, Object>> pluginConfigs = new HashMap<>();
    for (Map<String, Object> pc : maps(config.get("plugin_configs"))) {
      pluginConfigs.put((String) pc.get("id"), map(pc.get("plugins")));
    }
    List<Map<String, Object>> routes = maps(config.get("routes"));
    assertThat(routes).isNotEmpty();

    for (Map<String, Object> route : routes) {
      Map<String, Object> plugins = new HashMap<>();
      if (route.get("plugin_config_id") != null) {
        plugins.putAll(pluginConfigs.get((String) route.get("plugin_config_id")));
      }
      if (route.get("plugins") != null) {
        plugins.putAll(map(route.get("plugins"))); // route plugins win over the plugin config
      }
      String id = (String) route.get("id");
      Map<String, Object> auth = map(plugins.get("forward-auth"));

      assertThat(auth.get("uri")).as(id).isEqualTo(CHECK_URI);
      assertThat(auth.get("allow_degradation")).as("%s fails closed", id).isEqualTo(false);
      assertThat((Integer) auth.get("status_on_error")).isGreaterThanOrEqualTo(500);
      assertThat(lower(auth.get("upstream_headers"))).containsAll(IDENTITY_HEADERS);
      assertThat(lower(auth.get("client_headers")))
          .contains(
              "content-type",
              HeaderNames.WWW_AUTHENTICATE,
              HeaderNames.RETRY_AFTER,
              HeaderNames.RATELIMIT,
              HeaderNames.DECISION_ID);
      assertThat(lower(auth.get("request_headers")))
          .contains(HeaderNames.AUTHORIZATION, "x-api-key")
          .doesNotContain("cookie")
          .noneMatch(h -> h.startsWith(HeaderNames.PORTCULLIS_PREFIX) || h.equals(GEO_HEADER));
      List<String> removed =
          lower(map(map(plugins.get("proxy-rewrite")).get("headers")).get("remove"));
      assertThat(removed)
          .as("%s strips client copies", id)
          .containsAll(IDENTITY_HEADERS)
          .contains(GEO_HEADER);
      if ("POST".equals(auth.get("request_method"))) {
        assertThat(strings(route.get("methods"))).containsExactly("POST");
      }
    }
    assertThat(routes)
        .as("body_schema routes get the body")
        .anyMatch(
            r ->
                r.get("plugins") != null
                    && "POST"
                        .equals(
                            map(map(r.get("plugins")).get("forward-auth")).get("request_method")));
  }

  // ---------------------------------------------------------------- Traefik

  @Test
  void traefik_everyRouterStripsThenAsksPortcullis_trustingForwardHeadersOnlyFromTrustedIps() {
    Map<String, Object> http = map(yaml("examples/traefik/dynamic.yml").get("http"));
    Map<String, Object> middlewares = map(http.get("middlewares"));
    Map<String, Object> routers = map(http.get("routers"));
    assertThat(routers).isNotEmpty();

    boolean anyTrustsForwardHeaders = false;
    for (Map.Entry<String, Object> router : routers.entrySet()) {
      List<String> chain = strings(map(router.getValue()).get("middlewares"));
      int strip = -1;
      int auth = -1;
      for (int i = 0; i < chain.size(); i++) {
        Map<String, Object> mw = map(middlewares.get(chain.get(i)));
        if (mw.get("headers") != null) {
          Map<String, Object> custom = map(map(mw.get("headers")).get("customRequestHeaders"));
          List<String> emptied = new ArrayList<>();
          custom.forEach(
              (k, v) -> {
                if ("".equals(v)) {
                  emptied.add(k.toLowerCase(Locale.ROOT));
                }
              });
          if (emptied.containsAll(IDENTITY_HEADERS) && emptied.contains(GEO_HEADER)) {
            strip = i;
          }
        }
        if (mw.get("forwardAuth") != null) {
          auth = i;
          Map<String, Object> fa = map(mw.get("forwardAuth"));
          assertThat(fa.get("address")).isEqualTo(CHECK_URI);
          assertThat(lower(fa.get("authResponseHeaders"))).containsAll(IDENTITY_HEADERS);
          assertThat(lower(fa.get("authRequestHeaders")))
              .as("a non-empty list keeps cookies and other headers away from Portcullis")
              .contains(HeaderNames.AUTHORIZATION, "x-api-key")
              .doesNotContain("cookie");
          anyTrustsForwardHeaders |= Boolean.TRUE.equals(fa.get("trustForwardHeader"));
        }
      }
      assertThat(strip).as("%s strips client copies", router.getKey()).isNotNegative();
      assertThat(auth)
          .as("%s asks Portcullis after stripping", router.getKey())
          .isGreaterThan(strip);
    }
    if (anyTrustsForwardHeaders) {
      Map<String, Object> entryPoints =
          map(yaml("examples/traefik/traefik.yml").get("entryPoints"));
      entryPoints.forEach(
          (name, ep) -> {
            Map<String, Object> forwarded = map(map(ep).get("forwardedHeaders"));
            assertThat(forwarded.get("insecure")).as(name).isNotEqualTo(true);
            assertThat(forwarded.get("trustedIPs")).as(name).isInstanceOf(List.class);
          });
    }
  }

  // ---------------------------------------------------------------- nginx

  @Test
  void nginx_copiesPortcullisIdentityUpstream_andMapsEveryDenyStatus() throws IOException {
    String conf = Files.readString(RepoRoot.resolve("examples/nginx/nginx.conf"));

    assertThat(conf).contains("__LISTEN_PORT__", "__PORTCULLIS_PORT__", "__UPSTREAM_PORT__");
    for (String header : IDENTITY_HEADERS) {
      String variable = "\\$(\\w+)";
      assertThat(conf)
          .containsPattern(
              "auth_request_set\\s+"
                  + variable
                  + "\\s+\\$upstream_http_"
                  + header.replace('-', '_')
                  + ";")
          .containsPattern("(?i)proxy_set_header\\s+" + Pattern.quote(header) + "\\s+\\$\\w+;");
    }
    assertThat(conf)
        .containsPattern("(?i)proxy_set_header\\s+X-Geo-Country\\s+\"\";")
        .containsPattern("(?i)proxy_set_header\\s+X-Original-URI\\s+\\$request_uri;")
        .containsPattern("(?i)proxy_set_header\\s+X-Original-Method\\s+\\$request_method;")
        .containsPattern("auth_request_set\\s+\\$\\w+\\s+\\$upstream_status;")
        .containsPattern("error_page 401 = @")
        .containsPattern("error_page 403 = @")
        .containsPattern("error_page 500 = @")
        .containsPattern("location = /_portcullis \\{\\s+internal;")
        .contains("proxy_pass_request_body off;", "underscores_in_headers off;");
    for (int status : List.of(400, 413, 429, 503)) {
      assertThat(conf)
          .as("status %d survives auth_request", status)
          .contains("return " + status + " ");
    }
  }

  @Test
  void nginx_acceptsTheTemplatedConfiguration(@TempDir Path prefix) throws Exception {
    Assumptions.assumeTrue(
        runs("nginx", "-v"),
        "nginx not installed: `nginx -t` on examples/nginx/nginx.conf not run");
    String conf =
        Files.readString(RepoRoot.resolve("examples/nginx/nginx.conf"))
            .replace("__LISTEN_PORT__", String.valueOf(freePort()))
            .replace("__PORTCULLIS_PORT__", String.valueOf(freePort()))
            .replace("__UPSTREAM_PORT__", String.valueOf(freePort()));
    Files.writeString(prefix.resolve("nginx.conf"), conf);
    Files.createDirectories(prefix.resolve("tmp"));

    Process p =
        new ProcessBuilder("nginx", "-t", "-p", prefix.toString(), "-c", "nginx.conf")
            .redirectErrorStream(true)
            .start();
    assertThat(p.waitFor(30, TimeUnit.SECONDS)).isTrue();
    String output = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);

    assertThat(p.exitValue()).as(output).isZero();
    assertThat(output).contains("syntax is ok", "test is successful");
  }

  // ---------------------------------------------------------------- helpers

  private static boolean runs(String... command) {
    try {
      Process p = new ProcessBuilder(command).redirectErrorStream(true).start();
      p.getInputStream().readAllBytes();
      return p.waitFor(10, TimeUnit.SECONDS) && p.exitValue() == 0;
    } catch (IOException e) {
      return false;
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      return false;
    }
  }

  private static int freePort() throws IOException {
    try (ServerSocket s = new ServerSocket(0)) {
      return s.getLocalPort();
    }
  }

  private static Map<String, Object> yaml(String relative) {
    Path file = RepoRoot.resolve(relative);
    try {
      return map(
          new Load(LoadSettings.builder().setLabel(relative).build())
              .loadFromString(Files.readString(file)));
    } catch (IOException e) {
      throw new AssertionError(e);
    }
  }

  @SuppressWarnings("unchecked")
  private static Map<String, Object> map(Object o) {
    assertThat(o).isInstanceOf(Map.class);
    return (Map<String, Object>) o;
  }

  @SuppressWarnings("unchecked")
  private static List<Map<String, Object>> maps(Object o) {
    assertThat(o).isInstanceOf(List.class);
    return (List<Map<String, Object>>) o;
  }

  private static List<String> strings(Object o) {
    assertThat(o).isInstanceOf(List.class);
    return ((List<?>) o).stream().map(String::valueOf).toList();
  }

  private static List<String> lower(Object o) {
    return strings(o).stream().map(s -> s.toLowerCase(Locale.ROOT)).toList();
  }
}
