package io.portcullis.gateway;

import static io.portcullis.gateway.GatewayExamples.lower;
import static io.portcullis.gateway.GatewayExamples.map;
import static io.portcullis.gateway.GatewayExamples.strings;
import static io.portcullis.gateway.GatewayExamples.yaml;
import static org.assertj.core.api.Assertions.assertThat;

import io.portcullis.decision.HeaderNames;
import io.portcullis.gateway.GatewayExamples.ApisixRoute;
import io.portcullis.gateway.GatewayExamples.TraefikRouter;
import io.portcullis.testing.RepoRoot;
import java.io.IOException;
import java.net.ServerSocket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

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
    List<ApisixRoute> routes = GatewayExamples.apisixRoutes();
    assertThat(routes).isNotEmpty();

    for (ApisixRoute route : routes) {
      String id = route.id();
      Map<String, Object> plugins = route.plugins();
      Map<String, Object> auth = route.forwardAuth();

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
        assertThat(strings(route.route().get("methods"))).containsExactly("POST");
      }
    }
    assertThat(routes)
        .as("body_schema routes get the body")
        .anyMatch(
            r ->
                r.route().get("plugins") != null
                    && "POST".equals(r.forwardAuth().get("request_method")));
  }

  // ---------------------------------------------------------------- Traefik

  @Test
  void traefik_everyRouterStripsThenAsksPortcullis_trustingForwardHeadersOnlyFromTrustedIps() {
    List<TraefikRouter> routers = GatewayExamples.traefikRouters();
    assertThat(routers).isNotEmpty();

    boolean anyTrustsForwardHeaders = false;
    for (TraefikRouter router : routers) {
      int strip = -1;
      int auth = -1;
      for (int i = 0; i < router.middlewares().size(); i++) {
        Map<String, Object> mw = router.middlewares().get(i);
        List<String> emptied = GatewayExamples.removedRequestHeaders(mw);
        if (emptied.containsAll(IDENTITY_HEADERS) && emptied.contains(GEO_HEADER)) {
          strip = i;
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
      assertThat(strip).as("%s strips client copies", router.name()).isNotNegative();
      assertThat(auth).as("%s asks Portcullis after stripping", router.name()).isGreaterThan(strip);
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
}
