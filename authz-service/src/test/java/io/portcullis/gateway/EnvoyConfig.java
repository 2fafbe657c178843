package io.portcullis.gateway;

import com.google.protobuf.Any;
import com.google.protobuf.InvalidProtocolBufferException;
import com.google.protobuf.Message;
import io.envoyproxy.envoy.config.bootstrap.v3.Bootstrap;
import io.envoyproxy.envoy.config.cluster.v3.Cluster;
import io.envoyproxy.envoy.config.listener.v3.Filter;
import io.envoyproxy.envoy.config.listener.v3.FilterChain;
import io.envoyproxy.envoy.config.listener.v3.Listener;
import io.envoyproxy.envoy.config.route.v3.Route;
import io.envoyproxy.envoy.config.route.v3.VirtualHost;
import io.envoyproxy.envoy.extensions.filters.http.ext_authz.v3.ExtAuthz;
import io.envoyproxy.envoy.extensions.filters.http.ext_authz.v3.ExtAuthzPerRoute;
import io.envoyproxy.envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager;
import io.envoyproxy.envoy.extensions.filters.network.http_connection_manager.v3.HttpFilter;
import io.envoyproxy.envoy.extensions.transport_sockets.tls.v3.DownstreamTlsContext;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

/**
 * A parsed Envoy bootstrap with the lookups the gateway tests need: connection managers per filter
 * chain with their TLS context, HTTP filters by type, routes, clusters. Every {@code typed_config}
 * is unpacked into its generated class, so assertions read fields, never text.
 */
record EnvoyConfig(Path file, Bootstrap bootstrap) {
  static final String EXT_AUTHZ_FILTER = "envoy.filters.http.ext_authz";

  static EnvoyConfig load(Path file) {
    try {
      return new EnvoyConfig(file, EnvoyBootstrapLoader.load(file));
    } catch (IOException e) {
      throw new UncheckedIOException(file + ": " + e.getMessage(), e);
    }
  }

  /** One HTTP connection manager and where it runs. */
  record Hcm(Listener listener, FilterChain chain, HttpConnectionManager config) {
    Optional<DownstreamTlsContext> tls() {
      if (!chain.hasTransportSocket()) {
        return Optional.empty();
      }
      return Optional.of(
          unpack(chain.getTransportSocket().getTypedConfig(), DownstreamTlsContext.class));
    }

    String name() {
      return listener.getName();
    }

    /** The first HTTP filter whose typed_config is a {@code type}, with its position. */
    <T extends Message> Optional<Named<T>> httpFilter(Class<T> type) {
      List<HttpFilter> filters = config.getHttpFiltersList();
      for (int i = 0; i < filters.size(); i++) {
        HttpFilter f = filters.get(i);
        if (f.hasTypedConfig() && f.getTypedConfig().is(type)) {
          return Optional.of(new Named<>(f.getName(), i, unpack(f.getTypedConfig(), type)));
        }
      }
      return Optional.empty();
    }

    List<VirtualHost> virtualHosts() {
      return config.getRouteConfig().getVirtualHostsList();
    }

    List<Route> routes() {
      return virtualHosts().stream().flatMap(v -> v.getRoutesList().stream()).toList();
    }
  }

  /** An HTTP filter's name, position in the chain and configuration. */
  record Named<T>(String name, int position, T config) {}

  List<Hcm> connectionManagers() {
    List<Hcm> out = new ArrayList<>();
    for (Listener listener : bootstrap.getStaticResources().getListenersList()) {
      for (FilterChain chain : listener.getFilterChainsList()) {
        for (Filter filter : chain.getFiltersList()) {
          if (filter.getTypedConfig().is(HttpConnectionManager.class)) {
            out.add(
                new Hcm(
                    listener, chain, unpack(filter.getTypedConfig(), HttpConnectionManager.class)));
          }
        }
      }
    }
    return out;
  }

  /** Connection managers that authorize with Portcullis (every one that is not a redirect). */
  List<Hcm> authorizing() {
    return connectionManagers().stream()
        .filter(h -> h.httpFilter(ExtAuthz.class).isPresent())
        .toList();
  }

  Optional<Cluster> cluster(String name) {
    return bootstrap.getStaticResources().getClustersList().stream()
        .filter(c -> c.getName().equals(name))
        .findFirst();
  }

  static Optional<ExtAuthzPerRoute> extAuthzPerRoute(Route route) {
    Any any = route.getTypedPerFilterConfigMap().get(EXT_AUTHZ_FILTER);
    return any == null ? Optional.empty() : Optional.of(unpack(any, ExtAuthzPerRoute.class));
  }

  static <T extends Message> T unpack(Any any, Class<T> type) {
    try {
      return any.unpack(type);
    } catch (InvalidProtocolBufferException e) {
      throw new IllegalStateException("typed_config is not a " + type.getSimpleName(), e);
    }
  }

  @Override
  public String toString() {
    return file.getFileName().toString();
  }
}
