package io.portcullis.gateway;

import com.google.protobuf.InvalidProtocolBufferException;
import com.google.protobuf.TypeRegistry;
import com.google.protobuf.util.JsonFormat;
import io.envoyproxy.envoy.config.bootstrap.v3.Bootstrap;
import io.envoyproxy.envoy.extensions.access_loggers.file.v3.FileAccessLog;
import io.envoyproxy.envoy.extensions.filters.http.ext_authz.v3.ExtAuthz;
import io.envoyproxy.envoy.extensions.filters.http.ext_authz.v3.ExtAuthzPerRoute;
import io.envoyproxy.envoy.extensions.filters.http.ratelimit.v3.RateLimit;
import io.envoyproxy.envoy.extensions.filters.http.router.v3.Router;
import io.envoyproxy.envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager;
import io.envoyproxy.envoy.extensions.http.early_header_mutation.header_mutation.v3.HeaderMutation;
import io.envoyproxy.envoy.extensions.resource_monitors.downstream_connections.v3.DownstreamConnectionsConfig;
import io.envoyproxy.envoy.extensions.retry.host.previous_hosts.v3.PreviousHostsPredicate;
import io.envoyproxy.envoy.extensions.transport_sockets.tls.v3.DownstreamTlsContext;
import io.envoyproxy.envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext;
import io.envoyproxy.envoy.extensions.upstreams.http.v3.HttpProtocolOptions;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import org.snakeyaml.engine.v2.api.Load;
import org.snakeyaml.engine.v2.api.LoadSettings;
import tools.jackson.databind.json.JsonMapper;

/**
 * Reads an Envoy YAML configuration into Envoy's own {@link Bootstrap} message the way Envoy does
 * (YAML → JSON → proto3 JSON mapping), failing on every field the protos do not define.
 *
 * <p>Every {@code typed_config} type the gateway configurations use must be in {@link #REGISTRY};
 * an unlisted one fails the parse ("Cannot find type for url"), so adding an extension to a
 * configuration is a conscious act here too. JsonFormat checks names and types only: Envoy's
 * protoc-gen-validate constraints are checked separately by {@link PgvRules}.
 */
final class EnvoyBootstrapLoader {
  private EnvoyBootstrapLoader() {}

  /** Every message type that appears as a {@code typed_config} in {@code envoy/*.yaml}. */
  static final TypeRegistry REGISTRY =
      TypeRegistry.newBuilder()
          .add(HttpConnectionManager.getDescriptor())
          .add(Router.getDescriptor())
          .add(ExtAuthz.getDescriptor())
          .add(ExtAuthzPerRoute.getDescriptor())
          .add(RateLimit.getDescriptor())
          .add(DownstreamTlsContext.getDescriptor())
          .add(UpstreamTlsContext.getDescriptor())
          .add(HttpProtocolOptions.getDescriptor())
          .add(FileAccessLog.getDescriptor())
          .add(HeaderMutation.getDescriptor())
          .add(DownstreamConnectionsConfig.getDescriptor())
          .add(PreviousHostsPredicate.getDescriptor())
          .build();

  private static final JsonMapper JSON = JsonMapper.builder().build();

  /**
   * @return the parsed bootstrap
   * @throws InvalidProtocolBufferException on an unknown field, a wrong type or an unregistered
   *     {@code @type}
   */
  static Bootstrap load(Path yamlFile) throws IOException {
    return parse(Files.readString(yamlFile, StandardCharsets.UTF_8), yamlFile.toString());
  }

  /** As {@link #load(Path)}, from text; {@code label} names the source in YAML errors. */
  static Bootstrap parse(String yaml, String label) throws InvalidProtocolBufferException {
    Object tree = new Load(LoadSettings.builder().setLabel(label).build()).loadFromString(yaml);
    String json = JSON.writeValueAsString(tree);
    Bootstrap.Builder bootstrap = Bootstrap.newBuilder();
    JsonFormat.parser().usingTypeRegistry(REGISTRY).merge(json, bootstrap);
    return bootstrap.build();
  }
}
