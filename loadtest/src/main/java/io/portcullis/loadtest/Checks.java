package io.portcullis.loadtest;

import io.envoyproxy.envoy.config.core.v3.Address;
import io.envoyproxy.envoy.config.core.v3.SocketAddress;
import io.envoyproxy.envoy.service.auth.v3.AttributeContext;
import io.envoyproxy.envoy.service.auth.v3.CheckRequest;

/**
 * Envoy {@code CheckRequest} messages filled the way Envoy fills them: {@code
 * Checks.get("/v1/orders/7").bearer(token).source("10.1.2.3").build()}.
 */
final class Checks {
  private final AttributeContext.HttpRequest.Builder http =
      AttributeContext.HttpRequest.newBuilder()
          .setHost("api.example.com")
          .setScheme("https")
          .setProtocol("HTTP/2");
  private String source = "203.0.113.7";

  private Checks(String method, String path) {
    http.setMethod(method)
        .setPath(path)
        .putHeaders(":method", method)
        .putHeaders(":path", path)
        .putHeaders(":authority", "api.example.com")
        .putHeaders("user-agent", "portcullis-loadtest/1.0")
        .putHeaders("accept", "application/json");
  }

  static Checks get(String path) {
    return new Checks("GET", path);
  }

  static Checks request(String method, String path) {
    return new Checks(method, path);
  }

  Checks header(String name, String value) {
    http.putHeaders(name, value);
    return this;
  }

  Checks bearer(String token) {
    return header("authorization", "Bearer " + token);
  }

  Checks scheme(String scheme) {
    http.setScheme(scheme);
    return this;
  }

  Checks source(String ip) {
    this.source = ip;
    return this;
  }

  CheckRequest build() {
    return CheckRequest.newBuilder()
        .setAttributes(
            AttributeContext.newBuilder()
                .setSource(
                    AttributeContext.Peer.newBuilder()
                        .setAddress(
                            Address.newBuilder()
                                .setSocketAddress(
                                    SocketAddress.newBuilder()
                                        .setAddress(source)
                                        .setPortValue(40000))))
                .setDestination(
                    AttributeContext.Peer.newBuilder()
                        .setAddress(
                            Address.newBuilder()
                                .setSocketAddress(
                                    SocketAddress.newBuilder()
                                        .setAddress("10.0.0.1")
                                        .setPortValue(443))))
                .setRequest(AttributeContext.Request.newBuilder().setHttp(http)))
        .build();
  }
}
