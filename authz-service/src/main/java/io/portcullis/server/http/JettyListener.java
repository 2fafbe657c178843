package io.portcullis.server.http;

import java.net.InetSocketAddress;
import java.time.Duration;
import org.eclipse.jetty.http.UriCompliance;
import org.eclipse.jetty.http2.server.HTTP2CServerConnectionFactory;
import org.eclipse.jetty.server.ConnectionFactory;
import org.eclipse.jetty.server.Handler;
import org.eclipse.jetty.server.HttpConfiguration;
import org.eclipse.jetty.server.HttpConnectionFactory;
import org.eclipse.jetty.server.NetworkConnectionLimit;
import org.eclipse.jetty.server.Server;
import org.eclipse.jetty.server.ServerConnector;
import org.eclipse.jetty.server.handler.GracefulHandler;
import org.eclipse.jetty.util.thread.QueuedThreadPool;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One Jetty server with one connector: what the admin and forward-auth listeners share. No server
 * version or date headers; HTTP/1.1, plus h2c when asked for. What Jetty refuses itself is answered
 * by {@link ProblemErrorHandler}, never with Jetty's error page.
 */
final class JettyListener implements AutoCloseable {
  private static final Logger log = LoggerFactory.getLogger(JettyListener.class);

  /**
   * The idle timeout of every connection while {@code maxConnections} are open (else 30 s). It may
   * be shorter than a handler's own deadline for a request body, which then sees it first.
   */
  static final Duration AT_LIMIT_IDLE_TIMEOUT = Duration.ofSeconds(5);

  private final String name;
  private final Server server;
  private final ServerConnector connector;

  private JettyListener(Builder b) {
    this.name = b.name;
    QueuedThreadPool threads = new QueuedThreadPool(b.maxThreads, Math.min(8, b.maxThreads));
    threads.setName(name);
    this.server = new Server(threads);
    HttpConfiguration http = new HttpConfiguration();
    http.setSendServerVersion(false);
    http.setSendDateHeader(false);
    http.setUriCompliance(b.uriCompliance);
    // Jetty 12.1 applies this to the HTTP/1.1 request line and headers, and to HTTP/2's header
    // list (the HPACK decoder's limit and the SETTINGS_MAX_HEADER_LIST_SIZE it advertises).
    http.setRequestHeaderSize(b.requestHeaderBytes);
    // No per-connection header cache: our headers (bearer tokens, forwarded URIs) rarely repeat,
    // and each HTTP/1.1 connection's cache grew to ~100 KB; with the ~2,000 keep-alive
    // connections a proxy opens under load that filled a 256 MB heap (load suite, forward-auth
    // at 10k/s: 211 MB of char[] in 2,145 connections' caches, then OutOfMemoryError).
    http.setHeaderCacheSize(0);
    ConnectionFactory[] factories;
    if (b.h2cMaxConcurrentStreams > 0) {
      HTTP2CServerConnectionFactory h2c = new HTTP2CServerConnectionFactory(http);
      h2c.setMaxConcurrentStreams(b.h2cMaxConcurrentStreams);
      factories = new ConnectionFactory[] {new HttpConnectionFactory(http), h2c};
    } else {
      factories = new ConnectionFactory[] {new HttpConnectionFactory(http)};
    }
    this.connector = new ServerConnector(server, factories);
    connector.setHost(b.address.getHostString());
    connector.setPort(b.address.getPort());
    server.addConnector(connector);
    if (b.maxConnections > 0) {
      NetworkConnectionLimit limit = new NetworkConnectionLimit(b.maxConnections, connector);
      // At the limit, idle connections (kept alive, or a stalled client's) are closed sooner.
      limit.setEndPointIdleTimeout(AT_LIMIT_IDLE_TIMEOUT.toMillis());
      server.addBean(limit);
    }
    if (b.drainGrace.isPositive()) {
      // stop() first stops accepting and answers new requests 503, then waits for those in flight
      server.setHandler(new GracefulHandler(b.handler));
      server.setStopTimeout(b.drainGrace.toMillis());
    } else {
      server.setHandler(b.handler);
    }
    // Jetty's default error page quotes the request URI (query string and its tokens included).
    server.setErrorHandler(new ProblemErrorHandler());
  }

  /**
   * @param name thread and log name
   */
  static Builder builder(String name, InetSocketAddress address, Handler handler) {
    return new Builder(name, address, handler);
  }

  void start() throws Exception {
    server.start();
    log.info("{} listening on {}:{}", name, connector.getHost(), connector.getLocalPort());
  }

  int port() {
    return connector.getLocalPort();
  }

  @Override
  public void close() throws Exception {
    server.stop();
  }

  /** Builds a {@link JettyListener}; not thread-safe. */
  static final class Builder {
    private final String name;
    private final InetSocketAddress address;
    private final Handler handler;
    private int maxThreads = 16;
    private int h2cMaxConcurrentStreams;
    private UriCompliance uriCompliance = UriCompliance.DEFAULT;
    private int requestHeaderBytes = new HttpConfiguration().getRequestHeaderSize();
    private int maxConnections;
    private Duration drainGrace = Duration.ZERO;

    private Builder(String name, InetSocketAddress address, Handler handler) {
      this.name = name;
      this.address = address;
      this.handler = handler;
    }

    /** The thread pool's size (default 16). */
    Builder maxThreads(int maxThreads) {
      this.maxThreads = maxThreads;
      return this;
    }

    /**
     * Also speak HTTP/2 over cleartext (default HTTP/1.1 only), with at most {@code
     * maxConcurrentStreams} streams open on a connection (advertised in SETTINGS; a client that
     * opens more has them refused).
     */
    Builder h2c(int maxConcurrentStreams) {
      this.h2cMaxConcurrentStreams = maxConcurrentStreams;
      return this;
    }

    /** How strictly Jetty itself judges request URIs (default {@link UriCompliance#DEFAULT}). */
    Builder uriCompliance(UriCompliance uriCompliance) {
      this.uriCompliance = uriCompliance;
      return this;
    }

    /**
     * The most bytes of request line and headers (HTTP/1.1) or of header list (HTTP/2) Jetty reads
     * before refusing a request itself (Jetty's default 8 KiB): 431 over HTTP/1.1, the whole
     * connection over HTTP/2.
     */
    Builder requestHeaderBytes(int requestHeaderBytes) {
      this.requestHeaderBytes = requestHeaderBytes;
      return this;
    }

    /**
     * The most open connections (default unlimited): past it Jetty accepts no more until one
     * closes, and the open ones' idle timeout drops to {@link #AT_LIMIT_IDLE_TIMEOUT}.
     */
    Builder maxConnections(int maxConnections) {
      this.maxConnections = maxConnections;
      return this;
    }

    /**
     * How long {@link JettyListener#close()} lets requests in flight finish after it stops
     * accepting (default zero: they are cut off).
     */
    Builder drainGrace(Duration drainGrace) {
      this.drainGrace = drainGrace;
      return this;
    }

    JettyListener build() {
      return new JettyListener(this);
    }
  }
}
