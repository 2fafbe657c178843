package io.portcullis.server.http;

import io.portcullis.identity.Secret;
import io.portcullis.request.RequestAttributes;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.util.Objects;
import java.util.function.BooleanSupplier;
import java.util.function.Supplier;
import org.eclipse.jetty.http.HttpHeader;
import org.eclipse.jetty.server.Handler;
import org.eclipse.jetty.server.Request;
import org.eclipse.jetty.server.Response;
import org.eclipse.jetty.util.Callback;
import org.jspecify.annotations.Nullable;

/**
 * The admin port (default {@code 127.0.0.1:9193}): {@code /metrics} (Prometheus text), {@code
 * /healthz} (the process is up), {@code /readyz} (a policy is loaded and the service is not
 * draining: 200 {@code ready}, else 503 {@code not ready} while starting or {@code draining} once
 * shutdown began), and {@code /admin/*} behind the bearer admin token (constant-time comparison).
 * Static pages (the audit web page) are served by an optional handler for other paths.
 *
 * <p>Refuses to start on a non-loopback address without an admin token.
 *
 * <p>Bound to a loopback address (the default), it answers only requests whose {@code Host} names
 * loopback: {@code localhost} or a loopback address literal ({@code 127.0.0.1}, {@code [::1]}), any
 * port; anything else is 421 problem+json. Otherwise a web page in the operator's browser could
 * DNS-rebind its own name to 127.0.0.1 and read {@code /metrics}, {@code /healthz} and the audit
 * page as same-origin (the {@code /admin/*} API needs the token, which the page does not have).
 * Bound to any other address, every {@code Host} is answered: the port is then reachable from the
 * network by design, under names this process cannot know, and the admin token is required.
 */
public final class AdminHttpServer implements AutoCloseable {
  private static final int MAX_BODY = 1024 * 1024;

  private final JettyListener listener;

  private AdminHttpServer(Builder b) {
    if (b.token == null && !b.address.getAddress().isLoopbackAddress()) {
      throw new IllegalStateException(
          "the admin API listens on "
              + b.address
              + " without an admin token: set server.admin.token or bind it to 127.0.0.1");
    }
    this.listener = JettyListener.builder("admin-http", b.address, new AdminHandler(b)).build();
  }

  public static Builder builder(InetSocketAddress address) {
    return new Builder(address);
  }

  public AdminHttpServer start() throws Exception {
    listener.start();
    return this;
  }

  public int port() {
    return listener.port();
  }

  @Override
  public void close() throws Exception {
    listener.close();
  }

  private static final class AdminHandler extends Handler.Abstract {
    private final @Nullable Secret token;
    private final AdminRouter router;
    private final Supplier<String> metrics;
    private final BooleanSupplier ready;
    private final BooleanSupplier draining;
    private final @Nullable StaticPages pages;
    private final boolean loopbackOnly;

    AdminHandler(Builder b) {
      this.loopbackOnly = b.address.getAddress().isLoopbackAddress();
      this.token = b.token;
      this.router = b.router;
      this.metrics = b.metrics;
      this.ready = b.ready;
      this.draining = b.draining;
      this.pages = b.pages;
    }

    @Override
    public boolean handle(Request request, Response response, Callback callback) throws Exception {
      String path = Request.getPathInContext(request);
      AdminResponse r;
      if (loopbackOnly && !namesLoopback(request)) {
        r =
            AdminResponse.problem(
                421,
                "misdirected_request",
                "Misdirected request",
                "the admin port answers only Host: localhost, 127.0.0.1 or [::1]");
      } else if (path.equals("/healthz")) {
        r = AdminResponse.json(200, "{\"status\":\"ok\"}");
      } else if (path.equals("/readyz")) {
        r =
            draining.getAsBoolean()
                ? AdminResponse.json(503, "{\"status\":\"draining\"}")
                : ready.getAsBoolean()
                    ? AdminResponse.json(200, "{\"status\":\"ready\"}")
                    : AdminResponse.json(503, "{\"status\":\"not ready\"}");
      } else if (path.equals("/metrics")) {
        r = AdminResponse.text(200, "text/plain; version=0.0.4; charset=utf-8", metrics.get());
      } else if (path.startsWith("/admin/")) {
        r = admin(request, path);
      } else if (pages != null && pages.serves(path)) {
        r = pages.get(path);
      } else {
        r = AdminResponse.problem(404, "not_found", "Not found", "");
      }
      JettyExchange.write(response, callback, r);
      return true;
    }

    private AdminResponse admin(Request request, String path) throws Exception {
      if (token != null && !authorized(request.getHeaders().get("authorization"))) {
        return AdminResponse.problem(401, "unauthorized", "Admin token required", "")
            .withHeader("WWW-Authenticate", "Bearer realm=\"portcullis-admin\"");
      }
      byte[] body;
      try {
        body = JettyExchange.body(request, MAX_BODY);
      } catch (JettyExchange.BodyTooLarge e) {
        return AdminResponse.problem(413, "body_too_large", "Request body too large", "");
      }
      AdminRequest ar =
          new AdminRequest(
              request.getMethod(),
              path,
              JettyExchange.query(request),
              java.util.Map.of(),
              JettyExchange.headers(request),
              body);
      return router.dispatch(ar);
    }

    /** Whether the request's {@code Host} (or absolute URI) names a loopback host. */
    private static boolean namesLoopback(Request request) {
      String host = request.getHeaders().get(HttpHeader.HOST);
      if (host == null) {
        // HTTP/1.0 without Host (no browser sends that), or HTTP/2's :authority.
        host = request.getHttpURI().getAuthority();
      }
      return host == null || host.isEmpty() || isLoopbackHost(host);
    }

    /**
     * {@code localhost} or a loopback address literal, with or without a port. Names are never
     * resolved: a name other than {@code localhost} is what a rebinding attack would send.
     */
    static boolean isLoopbackHost(String hostAndPort) {
      String host = hostAndPort.trim();
      if (host.startsWith("[")) {
        int end = host.indexOf(']');
        if (end < 0 || !(end == host.length() - 1 || host.charAt(end + 1) == ':')) {
          return false;
        }
        host = host.substring(1, end);
      } else {
        int colon = host.indexOf(':');
        if (colon >= 0) {
          if (host.indexOf(':', colon + 1) >= 0) {
            return false; // an IPv6 literal must be bracketed in Host
          }
          host = host.substring(0, colon);
        }
        if (host.endsWith(".")) {
          host = host.substring(0, host.length() - 1);
        }
        if (host.equalsIgnoreCase("localhost")) {
          return true;
        }
      }
      InetAddress literal = RequestAttributes.parseIp(host);
      return literal != null && literal.isLoopbackAddress();
    }

    private boolean authorized(@Nullable String header) {
      if (header == null
          || header.length() < 7
          || !header.regionMatches(true, 0, "Bearer ", 0, 7)) {
        return false;
      }
      return Objects.requireNonNull(token).matches(header.substring(7).trim());
    }
  }

  /** Serves static pages (the audit web page) on the admin port. */
  public interface StaticPages {
    boolean serves(String path);

    AdminResponse get(String path);
  }

  /** Builds an {@link AdminHttpServer}; not thread-safe. */
  public static final class Builder {
    private final InetSocketAddress address;
    private @Nullable Secret token;
    private AdminRouter router = new AdminRouter();
    private Supplier<String> metrics = () -> "";
    private BooleanSupplier ready = () -> false;
    private BooleanSupplier draining = () -> false;
    private @Nullable StaticPages pages;

    private Builder(InetSocketAddress address) {
      this.address = address;
    }

    public Builder token(@Nullable Secret token) {
      this.token = token;
      return this;
    }

    public Builder router(AdminRouter router) {
      this.router = router;
      return this;
    }

    /** Supplies the Prometheus exposition text. */
    public Builder metrics(Supplier<String> metrics) {
      this.metrics = metrics;
      return this;
    }

    /** Whether the service is ready: {@code /readyz} answers 200 while it is and not draining. */
    public Builder ready(BooleanSupplier ready) {
      this.ready = ready;
      return this;
    }

    /** Whether shutdown has begun: {@code /readyz} then answers 503 {@code draining}. */
    public Builder draining(BooleanSupplier draining) {
      this.draining = draining;
      return this;
    }

    public Builder pages(@Nullable StaticPages pages) {
      this.pages = pages;
      return this;
    }

    public AdminHttpServer build() {
      return new AdminHttpServer(this);
    }
  }
}
