package io.portcullis.gateway;

import static org.assertj.core.api.Assertions.assertThat;

import io.envoyproxy.envoy.config.bootstrap.v3.Bootstrap;
import io.envoyproxy.envoy.config.cluster.v3.Cluster;
import io.envoyproxy.envoy.config.core.v3.SocketAddress;
import io.envoyproxy.envoy.config.listener.v3.Filter;
import io.envoyproxy.envoy.config.listener.v3.Listener;
import io.envoyproxy.envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager;
import io.envoyproxy.envoy.extensions.filters.network.http_connection_manager.v3.HttpFilter;
import io.portcullis.testing.RepoRoot;
import java.util.List;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * The configuration {@link EnvoyIT} runs is {@code envoy/envoy-dev.yaml} with the clusters
 * re-pointed and, without a rate limit service, the rate-limit filter dropped, and nothing else
 * changed: it still parses into Envoy's {@code Bootstrap} and satisfies Envoy's validation rules.
 * Runs without Docker, so the derivation is checked everywhere.
 */
class EnvoyDevVariantTest {
  private static final int PORTCULLIS_PORT = 19191;
  private static final int UPSTREAM_PORT = 18081;

  @ParameterizedTest(name = "rate limit service: {0}")
  @ValueSource(booleans = {true, false})
  void derived_pointsTheClustersAtTheHost_andKeepsEverythingElse(boolean rateLimitService)
      throws Exception {
    Bootstrap original = EnvoyBootstrapLoader.load(RepoRoot.resolve(EnvoyDevVariant.SOURCE));
    Bootstrap derived =
        EnvoyBootstrapLoader.parse(
            EnvoyDevVariant.derive(PORTCULLIS_PORT, UPSTREAM_PORT, rateLimitService),
            "derived envoy-dev.yaml");

    assertThat(PgvRules.check(derived, EnvoyBootstrapLoader.REGISTRY)).isEmpty();
    assertThat(derived.getAdmin()).isEqualTo(original.getAdmin());
    assertThat(derived.getOverloadManager()).isEqualTo(original.getOverloadManager());

    List<Cluster> clusters = derived.getStaticResources().getClustersList();
    assertThat(clusters).hasSameSizeAs(original.getStaticResources().getClustersList());
    for (int i = 0; i < clusters.size(); i++) {
      Cluster before = original.getStaticResources().getClusters(i);
      Cluster after = clusters.get(i);
      int port =
          switch (after.getName()) {
            case EnvoyDevVariant.PORTCULLIS_CLUSTER -> PORTCULLIS_PORT;
            case EnvoyDevVariant.UPSTREAM_CLUSTER -> UPSTREAM_PORT;
            default -> -1;
          };
      if (port < 0) {
        assertThat(after).isEqualTo(before);
        continue;
      }
      assertThat(after.getType()).isEqualTo(Cluster.DiscoveryType.STRICT_DNS);
      assertThat(socket(after).getAddress()).isEqualTo(EnvoyDevVariant.HOST);
      assertThat(socket(after).getPortValue()).isEqualTo(port);
      Cluster.Builder restored =
          after.toBuilder()
              .setType(before.getType())
              .setDnsLookupFamily(before.getDnsLookupFamily());
      restored
          .getLoadAssignmentBuilder()
          .getEndpointsBuilder(0)
          .getLbEndpointsBuilder(0)
          .getEndpointBuilder()
          .getAddressBuilder()
          .setSocketAddress(socket(before));
      assertThat(restored.build()).as(after.getName()).isEqualTo(before);
    }

    List<Listener> listeners = derived.getStaticResources().getListenersList();
    assertThat(listeners).hasSameSizeAs(original.getStaticResources().getListenersList());
    for (int i = 0; i < listeners.size(); i++) {
      Listener before = original.getStaticResources().getListeners(i);
      Listener after = listeners.get(i);
      assertThat(after.toBuilder().clearFilterChains().build())
          .isEqualTo(before.toBuilder().clearFilterChains().build());
      HttpConnectionManager hcmBefore = hcm(before);
      HttpConnectionManager hcmAfter = hcm(after);
      assertThat(hcmAfter.toBuilder().clearHttpFilters().build())
          .isEqualTo(hcmBefore.toBuilder().clearHttpFilters().build());
      List<HttpFilter> expected =
          hcmBefore.getHttpFiltersList().stream()
              .filter(
                  f -> rateLimitService || !f.getName().equals(EnvoyDevVariant.RATE_LIMIT_FILTER))
              .toList();
      assertThat(hcmAfter.getHttpFiltersList()).containsExactlyElementsOf(expected);
    }
    assertThat(hcm(listeners.getFirst()).getHttpFiltersList())
        .extracting(HttpFilter::getName)
        .contains(EnvoyConfig.EXT_AUTHZ_FILTER);
  }

  private static SocketAddress socket(Cluster cluster) {
    return cluster
        .getLoadAssignment()
        .getEndpoints(0)
        .getLbEndpoints(0)
        .getEndpoint()
        .getAddress()
        .getSocketAddress();
  }

  private static HttpConnectionManager hcm(Listener listener) {
    assertThat(listener.getFilterChainsList()).hasSize(1);
    Filter filter = listener.getFilterChains(0).getFilters(0);
    return EnvoyConfig.unpack(filter.getTypedConfig(), HttpConnectionManager.class);
  }
}
