package io.portcullis.server.http;

import java.net.InetSocketAddress;
import org.eclipse.jetty.http.UriCompliance;
import org.eclipse.jetty.http2.server.HTTP2CServerConnectionFactory;
import org.eclipse.jetty.server.ConnectionFactory;
import org.eclipse.jetty.server.Handler;
import org.eclipse.jetty.server.HttpConfiguration;
import org.eclipse.jetty.server.HttpConnectionFactory;
import org.eclipse.jetty.server.Server;
import org.eclipse.jetty.server.ServerConnector;
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

  private final String name;
  private final Server server;
  private final ServerConnector connector;

  /**
   * @param name thread and log name
   * @param maxThreads the thread pool's size
   * @param h2c also speak HTTP/2 over cleartext
   * @param uriCompliance how strictly Jetty itself judges request URIs
   */
  JettyListener(
      String name,
      InetSocketAddress address,
      int maxThreads,
      boolean h2c,
      UriCompliance uriCompliance,
      Handler handler) {
    this.name = name;
    QueuedThreadPool threads = new QueuedThreadPool(maxThreads, Math.min(8, maxThreads));
    threads.setName(name);
    this.server = new Server(threads);
    HttpConfiguration http = new HttpConfiguration();
    http.setSendServerVersion(false);
    http.setSendDateHeader(false);
    http.setUriCompliance(uriCompliance);
    // No per-connection header cache: our headers (bearer tokens, forwarded URIs) rarely repeat,
    // and each HTTP/1.1 connection's cache grew to ~100 KB; with the ~2,000 keep-alive
    // connections a proxy opens under load that filled a 256 MB heap (load suite, forward-auth
    // at 10k/s: 211 MB of char[] in 2,145 connections' caches, then OutOfMemoryError).
    http.setHeaderCacheSize(0);
    ConnectionFactory[] factories =
        h2c
            ? new ConnectionFactory[] {
              new HttpConnectionFactory(http), new HTTP2CServerConnectionFactory(http)
            }
            : new ConnectionFactory[] {new HttpConnectionFactory(http)};
    this.connector = new ServerConnector(server, factories);
    connector.setHost(address.getHostString());
    connector.setPort(address.getPort());
    server.addConnector(connector);
    server.setHandler(handler);
    // Jetty's default error page quotes the request URI (query string and its tokens included).
    server.setErrorHandler(new ProblemErrorHandler());
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
}
