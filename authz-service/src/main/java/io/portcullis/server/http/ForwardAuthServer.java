package io.portcullis.server.http;

import io.portcullis.decision.Decision;
import io.portcullis.decision.DecisionPipeline;
import io.portcullis.decision.HeaderNames;
import io.portcullis.decision.ResponseHeader;
import io.portcullis.net.CidrSet;
import io.portcullis.request.Body;
import io.portcullis.request.Headers;
import io.portcullis.request.RequestAttributes;
import java.io.InputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import org.eclipse.jetty.http.HttpField;
import org.eclipse.jetty.http.HttpHeader;
import org.eclipse.jetty.http.UriCompliance;
import org.eclipse.jetty.http2.server.HTTP2CServerConnectionFactory;
import org.eclipse.jetty.server.Handler;
import org.eclipse.jetty.server.HttpConfiguration;
import org.eclipse.jetty.server.HttpConnectionFactory;
import org.eclipse.jetty.server.Request;
import org.eclipse.jetty.server.Response;
import org.eclipse.jetty.server.Server;
import org.eclipse.jetty.server.ServerConnector;
import org.eclipse.jetty.util.Callback;
import org.eclipse.jetty.util.thread.QueuedThreadPool;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Forward-auth on the check port (default 9192, HTTP/1.1 and h2c): {@code /check/**} for APISIX
 * {@code forward-auth}, nginx {@code auth_request}, Traefik {@code ForwardAuth} and Envoy's
 * ext_authz HTTP mode. The same decision pipeline and audit as the gRPC API.
 *
 * <p>Allow: 200 with the identity headers ({@code x-portcullis-*}) and the client headers (decision
 * id, RateLimit) as response headers, for the proxy to copy upstream. Deny: the policy status,
 * headers and problem+json body. Request bodies larger than {@code maxBodyBytes} are treated as
 * truncated (a rule with a body schema answers 413).
 */
public final class ForwardAuthServer implements AutoCloseable {
  private static final Logger log = LoggerFactory.getLogger(ForwardAuthServer.class);

  private final Server server;
  private final ServerConnector connector;

  private ForwardAuthServer(
      InetSocketAddress address,
      DecisionPipeline pipeline,
      CidrSet trustedProxies,
      int maxBodyBytes) {
    QueuedThreadPool threads = new QueuedThreadPool(200, 8);
    threads.setName("forward-auth");
    this.server = new Server(threads);
    HttpConfiguration http = new HttpConfiguration();
    http.setSendServerVersion(false);
    http.setSendDateHeader(false);
    // Let the pipeline's normalizer judge every path (and audit the refusal) instead of Jetty
    // rejecting ambiguous ones with a bare 400 first.
    http.setUriCompliance(UriCompliance.UNSAFE);
    // No per-connection header cache: forward-auth headers (bearer tokens, forwarded URIs) rarely
    // repeat, and each HTTP/1.1 connection's cache grew to ~100 KB; with the ~2,000 keep-alive
    // connections a proxy opens under load that filled a 256 MB heap (load suite, forward-auth
    // at 10k/s: 211 MB of char[] in 2,145 connections' caches, then OutOfMemoryError).
    http.setHeaderCacheSize(0);
    this.connector =
        new ServerConnector(
            server, new HttpConnectionFactory(http), new HTTP2CServerConnectionFactory(http));
    connector.setHost(address.getHostString());
    connector.setPort(address.getPort());
    server.addConnector(connector);
    server.setHandler(
        new CheckHandler(pipeline, new ForwardedRequests(trustedProxies), maxBodyBytes));
  }

  public static ForwardAuthServer create(
      InetSocketAddress address,
      DecisionPipeline pipeline,
      CidrSet trustedProxies,
      int maxBodyBytes) {
    return new ForwardAuthServer(address, pipeline, trustedProxies, maxBodyBytes);
  }

  public ForwardAuthServer start() throws Exception {
    server.start();
    log.info("forward-auth listening on {}:{}", connector.getHost(), connector.getLocalPort());
    return this;
  }

  public int port() {
    return connector.getLocalPort();
  }

  @Override
  public void close() throws Exception {
    server.stop();
  }

  private static final class CheckHandler extends Handler.Abstract {
    private final DecisionPipeline pipeline;
    private final ForwardedRequests forwarded;
    private final int maxBodyBytes;

    CheckHandler(DecisionPipeline pipeline, ForwardedRequests forwarded, int maxBodyBytes) {
      this.pipeline = pipeline;
      this.forwarded = forwarded;
      this.maxBodyBytes = maxBodyBytes;
    }

    @Override
    public boolean handle(Request request, Response response, Callback callback) throws Exception {
      String path = request.getHttpURI().getPath();
      if (path == null
          || !(path.equals(ForwardedRequests.PREFIX)
              || path.startsWith(ForwardedRequests.PREFIX + "/"))) {
        JettyExchange.write(
            response, callback, AdminResponse.problem(404, "not_found", "Not found", ""));
        return true;
      }
      String rawPath = request.getHttpURI().getPath();
      String query = request.getHttpURI().getQuery();
      String pathAndQuery = query == null ? rawPath : rawPath + "?" + query;
      Headers.Builder hb = Headers.builder();
      for (HttpField f : request.getHeaders()) {
        hb.add(f.getName(), f.getValue());
      }
      Headers headers = hb.build();
      boolean partial = "true".equalsIgnoreCase(headers.get(HeaderNames.ENVOY_PARTIAL_BODY));
      byte[] bytes;
      try (InputStream in = Request.asInputStream(request)) {
        bytes = in.readNBytes(maxBodyBytes + 1);
      }
      if (bytes.length > maxBodyBytes) {
        bytes = java.util.Arrays.copyOf(bytes, maxBodyBytes);
        partial = true;
      }
      InetAddress peer = RequestAttributes.parseIp(Request.getRemoteAddr(request));
      RequestAttributes attrs =
          forwarded.original(
              request.getMethod(), pathAndQuery, headers, peer, Body.of(bytes, partial));
      Decision decision = pipeline.decide(attrs);
      response.setStatus(decision.response().status());
      if (decision instanceof Decision.Allow) {
        for (ResponseHeader h : decision.response().upstreamHeaders()) {
          response.getHeaders().put(h.name(), h.value());
        }
      }
      for (ResponseHeader h : decision.response().clientHeaders()) {
        response.getHeaders().put(h.name(), h.value());
      }
      response.getHeaders().put(HttpHeader.CACHE_CONTROL, "no-store");
      byte[] body = decision.response().body().getBytes(StandardCharsets.UTF_8);
      response.write(true, ByteBuffer.wrap(body), callback);
      return true;
    }
  }
}
