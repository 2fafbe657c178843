package io.portcullis.gateway;

import static io.portcullis.gateway.GatewayExamples.map;
import static io.portcullis.gateway.GatewayExamples.maps;

import io.portcullis.testing.RepoRoot;
import java.io.IOException;
import java.nio.file.Files;
import java.util.List;
import java.util.Map;
import org.snakeyaml.engine.v2.api.Dump;
import org.snakeyaml.engine.v2.api.DumpSettings;
import org.snakeyaml.engine.v2.api.Load;
import org.snakeyaml.engine.v2.api.LoadSettings;
import org.snakeyaml.engine.v2.common.FlowStyle;
import org.testcontainers.containers.GenericContainer;

/**
 * {@code envoy/envoy-dev.yaml} re-pointed for a container that reaches Portcullis and the upstream
 * on the test's host ({@link EnvoyIT}). Derived from the file, never a second copy of it: only the
 * two clusters' addresses change (to {@code host.testcontainers.internal}, resolved by DNS because
 * the name is not an IP address), and the rate-limit filter is dropped while the Portcullis under
 * test does not serve {@code envoy.service.ratelimit.v3.RateLimitService}: the filter fails closed,
 * so against such a Portcullis every allowed request would end as a 503 and hide what the test
 * looks at. {@link EnvoyDevVariantTest} checks that nothing else changes.
 */
final class EnvoyDevVariant {
  /** Testcontainers' name for the host inside a container ({@code exposeHostPorts}). */
  static final String HOST = GenericContainer.INTERNAL_HOST_HOSTNAME;

  static final String SOURCE = "envoy/envoy-dev.yaml";
  static final String PORTCULLIS_CLUSTER = "portcullis";
  static final String UPSTREAM_CLUSTER = "upstream";
  static final String RATE_LIMIT_FILTER = "envoy.filters.http.ratelimit";
  private static final String HCM = "envoy.filters.network.http_connection_manager";

  private EnvoyDevVariant() {}

  /**
   * @param portcullisPort the host port of Portcullis's gRPC listener
   * @param upstreamPort the host port of the upstream
   * @param rateLimitService whether that Portcullis serves the rate limit service
   * @return the derived configuration as YAML
   */
  static String derive(int portcullisPort, int upstreamPort, boolean rateLimitService)
      throws IOException {
    Map<String, Object> root =
        map(
            new Load(LoadSettings.builder().setLabel(SOURCE).build())
                .loadFromString(Files.readString(RepoRoot.resolve(SOURCE))));
    Map<String, Object> resources = map(root.get("static_resources"));
    for (Map<String, Object> cluster : maps(resources.get("clusters"))) {
      String name = (String) cluster.get("name");
      if (name.equals(PORTCULLIS_CLUSTER)) {
        pointAtHost(cluster, portcullisPort);
      } else if (name.equals(UPSTREAM_CLUSTER)) {
        pointAtHost(cluster, upstreamPort);
      }
    }
    if (!rateLimitService) {
      for (Map<String, Object> listener : maps(resources.get("listeners"))) {
        for (Map<String, Object> chain : maps(listener.get("filter_chains"))) {
          for (Map<String, Object> filter : maps(chain.get("filters"))) {
            if (HCM.equals(filter.get("name"))) {
              List<Map<String, Object>> httpFilters =
                  maps(map(filter.get("typed_config")).get("http_filters"));
              httpFilters.removeIf(f -> RATE_LIMIT_FILTER.equals(f.get("name")));
            }
          }
        }
      }
    }
    return new Dump(DumpSettings.builder().setDefaultFlowStyle(FlowStyle.BLOCK).build())
        .dumpToString(root);
  }

  private static void pointAtHost(Map<String, Object> cluster, int port) {
    cluster.put("type", "STRICT_DNS");
    cluster.put("dns_lookup_family", "V4_ONLY");
    for (Map<String, Object> endpoints :
        maps(map(cluster.get("load_assignment")).get("endpoints"))) {
      for (Map<String, Object> lb : maps(endpoints.get("lb_endpoints"))) {
        Map<String, Object> socket =
            map(map(map(lb.get("endpoint")).get("address")).get("socket_address"));
        socket.put("address", HOST);
        socket.put("port_value", port);
      }
    }
  }
}
