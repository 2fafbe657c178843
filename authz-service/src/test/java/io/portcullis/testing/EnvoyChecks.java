package io.portcullis.testing;

import io.envoyproxy.envoy.config.core.v3.Address;
import io.envoyproxy.envoy.config.core.v3.SocketAddress;
import io.envoyproxy.envoy.service.auth.v3.AttributeContext;
import io.envoyproxy.envoy.service.auth.v3.CheckRequest;

/**
 * Builds real {@code envoy.service.auth.v3.CheckRequest} messages the way Envoy fills them: {@code
 * EnvoyChecks.get("/v1/orders").header("x-api-key", "k").source("203.0.113.7").build()}.
 */
public final class EnvoyChecks {
  private final AttributeContext.HttpRequest.Builder http =
      AttributeContext.HttpRequest.newBuilder()
          .setHost("api.example.com")
          .setScheme("https")
          .setProtocol("HTTP/2");
  private final AttributeContext.Builder attrs = AttributeContext.newBuilder();
  private String source = "203.0.113.7";

  private EnvoyChecks(String method, String path) {
    http.setMethod(method)
        .setPath(path)
        .putHeaders(":method", method)
        .putHeaders(":path", path)
        .putHeaders(":authority", "api.example.com");
  }

  public static EnvoyChecks get(String path) {
    return new EnvoyChecks("GET", path);
  }

  public static EnvoyChecks request(String method, String path) {
    return new EnvoyChecks(method, path);
  }

  public EnvoyChecks header(String name, String value) {
    http.putHeaders(name, value);
    return this;
  }

  public EnvoyChecks scheme(String scheme) {
    http.setScheme(scheme);
    return this;
  }

  public EnvoyChecks source(String ip) {
    this.source = ip;
    return this;
  }

  public EnvoyChecks principal(String spiffeId) {
    attrs.getSourceBuilder().setPrincipal(spiffeId);
    return this;
  }

  public EnvoyChecks requestId(String id) {
    http.setId(id);
    return this;
  }

  public EnvoyChecks body(String body) {
    http.setBody(body);
    return this;
  }

  public EnvoyChecks context(String key, String value) {
    attrs.putContextExtensions(key, value);
    return this;
  }

  public CheckRequest build() {
    attrs
        .getSourceBuilder()
        .setAddress(
            Address.newBuilder()
                .setSocketAddress(
                    SocketAddress.newBuilder().setAddress(source).setPortValue(50123)));
    attrs.getRequestBuilder().setHttp(http);
    return CheckRequest.newBuilder().setAttributes(attrs).build();
  }
}
