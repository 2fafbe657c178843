package io.portcullis.server.http;

import io.portcullis.decision.Decision;
import io.portcullis.decision.DecisionIds;
import io.portcullis.decision.DecisionPipeline;
import io.portcullis.decision.HeaderNames;
import io.portcullis.decision.ResponseHeader;
import io.portcullis.decision.ResponsePlan;
import io.portcullis.decision.Responses;
import io.portcullis.net.CidrSet;
import io.portcullis.request.Body;
import io.portcullis.request.HeaderLimits;
import io.portcullis.request.Headers;
import io.portcullis.request.RequestAttributes;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.time.InstantSource;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.atomic.LongAdder;
import org.eclipse.jetty.http.HttpField;
import org.eclipse.jetty.http.HttpHeader;
import org.eclipse.jetty.http.UriCompliance;
import org.eclipse.jetty.server.Handler;
import org.eclipse.jetty.server.Request;
import org.eclipse.jetty.server.Response;
import org.eclipse.jetty.util.Callback;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Forward-auth on the check port (default 9192, HTTP/1.1 and h2c): {@code /check/**} for APISIX
 * {@code forward-auth}, nginx {@code auth_request}, Traefik {@code ForwardAuth} and Envoy's
 * ext_authz HTTP mode. The same decision pipeline and audit as the gRPC API.
 *
 * <p>Allow: 200 with the identity headers ({@code x-portcullis-*}) and the client headers (decision
 * id, RateLimit) as response headers, for the proxy to copy upstream, and the headers to remove
 * from the upstream request in {@code x-envoy-auth-headers-to-remove}, which Envoy's HTTP mode
 * applies (the other proxies ignore it; their examples remove headers themselves). Deny: the policy
 * status, headers and problem+json body. Request bodies larger than {@code maxBodyBytes} are
 * treated as truncated (a rule with a body schema answers 413).
 *
 * <p>A body is read without holding a thread while it arrives ({@link BodyReader}), and must arrive
 * within {@link #BODY_DEADLINE}; the listener holds at most {@link #MAX_CONNECTIONS} connections,
 * and all unfinished bodies together at most {@link #BODY_BUFFER_BYTES}. So slow or stalled bodies
 * cost connections, not the threads that decide everyone else's checks, nor the heap.
 */
public final class ForwardAuthServer implements AutoCloseable {
  /**
   * Room for what the pipeline's header limits do not count: the request line (Envoy's HTTP mode
   * puts the original path there) and HTTP/2's pseudo-headers, and a request whose headers are over
   * {@code max_headers_bytes} by up to this much, so that it is still decided rather than refused
   * by Jetty.
   */
  static final int REQUEST_LINE_HEADROOM = 32 * 1024;

  /** Forward-auth's thread pool: decisions, which may wait on Redis or an identity provider. */
  static final int MAX_THREADS = 200;

  /**
   * The most open connections; past it, new ones wait in the accept backlog while existing
   * (keep-alive) ones are served. Far above the ~2,000 a proxy opened at 10k checks/s in the load
   * suite.
   */
  static final int MAX_CONNECTIONS = 10_000;

  /** How long a request body may take to arrive, counted from the end of the headers. */
  static final Duration BODY_DEADLINE = Duration.ofSeconds(10);

  /**
   * The most bytes of request bodies held at once, over all connections and streams: 32 MiB, or an
   * eighth of the heap if that is less (32 MiB at the load suite's {@code -Xmx256m}). 512 bodies of
   * the full 64 KiB; a body that would go past it is answered 503 at once, undecided.
   */
  static final long BODY_BUFFER_BYTES = Math.min(32L << 20, Runtime.getRuntime().maxMemory() / 8);

  /**
   * The most concurrent streams on one h2c connection (Jetty's default is 128). Each may hold a
   * body, and a proxy multiplexing its checks needs far fewer.
   */
  static final int MAX_CONCURRENT_STREAMS = 32;

  /** Why a request was answered without a decision; the {@code reason} of the metric. */
  public static final String BODY_TIMEOUT = "body_timeout";

  public static final String BODY_BUDGET = "body_budget";

  private final JettyListener listener;
  private final BodyBudget bodyBudget;
  private final LongAdder bodyTimeouts = new LongAdder();
  private final LongAdder overBudget = new LongAdder();

  private ForwardAuthServer(Builder b) {
    // UriCompliance.UNSAFE: let the pipeline's normalizer judge every path (and audit the
    // refusal) instead of Jetty rejecting ambiguous ones with a bare 400 first. Likewise headers:
    // Jetty admits what request_limits refuse, so the pipeline refuses it.
    this.bodyBudget = new BodyBudget(b.bodyBufferBytes);
    this.listener =
        JettyListener.builder(
                "forward-auth",
                b.address,
                new CheckHandler(
                    b.pipeline,
                    new ForwardedRequests(b.trustedProxies),
                    b.maxBodyBytes,
                    b.bodyDeadline,
                    bodyBudget,
                    bodyTimeouts,
                    overBudget))
            .maxThreads(b.maxThreads)
            .maxConnections(b.maxConnections)
            .h2c(MAX_CONCURRENT_STREAMS)
            .uriCompliance(UriCompliance.UNSAFE)
            .requestHeaderBytes(requestHeaderBytes(b.pipeline.headerLimits()))
            .drainGrace(b.drainGrace)
            .build();
  }

  public static Builder builder(InetSocketAddress address, DecisionPipeline pipeline) {
    return new Builder(address, pipeline);
  }

  /**
   * Jetty's own header limit for {@code limits}: their total, plus framing for {@code
   * max_header_count} fields (RFC 9113 §6.5.2 counts 32 bytes per field in a header list; HTTP/1.1
   * spends 4 on {@code ": "} and CRLF), plus {@link #REQUEST_LINE_HEADROOM}. Jetty refuses a
   * request over its limit before any handler sees it (431 over HTTP/1.1, with no audit record and
   * no decision id; the whole connection over h2c); within it, the pipeline judges the headers and
   * a request over {@code request_limits} is {@code malformed_request}, decided and audited as over
   * gRPC.
   */
  static int requestHeaderBytes(HeaderLimits limits) {
    long bytes = (long) limits.maxTotalBytes() + 32L * limits.maxCount() + REQUEST_LINE_HEADROOM;
    return (int) Math.min(Integer.MAX_VALUE - 8, bytes);
  }

  public ForwardAuthServer start() throws Exception {
    listener.start();
    return this;
  }

  public int port() {
    return listener.port();
  }

  /**
   * Requests answered without a decision ({@code portcullis_forward_auth_undecided_total}): {@link
   * #BODY_TIMEOUT} (408: the body did not arrive in time) or {@link #BODY_BUDGET} (503: the server
   * holds as many unfinished bodies as it may).
   */
  public long undecided(String reason) {
    return switch (reason) {
      case BODY_TIMEOUT -> bodyTimeouts.sum();
      case BODY_BUDGET -> overBudget.sum();
      default -> throw new IllegalArgumentException("unknown reason " + reason);
    };
  }

  /** The bytes of request bodies held now, out of {@link Builder#bodyBufferBytes}. */
  long bufferedBodyBytes() {
    return bodyBudget.held();
  }

  @Override
  public void close() throws Exception {
    listener.close();
  }

  private static final class CheckHandler extends Handler.Abstract {
    private static final Logger log = LoggerFactory.getLogger(ForwardAuthServer.class);

    private final DecisionPipeline pipeline;
    private final DecisionIds ids = new DecisionIds(InstantSource.system());
    private final ForwardedRequests forwarded;
    private final int maxBodyBytes;
    private final Duration bodyDeadline;
    private final BodyBudget bodyBudget;
    private final LongAdder bodyTimeouts;
    private final LongAdder overBudget;

    CheckHandler(
        DecisionPipeline pipeline,
        ForwardedRequests forwarded,
        int maxBodyBytes,
        Duration bodyDeadline,
        BodyBudget bodyBudget,
        LongAdder bodyTimeouts,
        LongAdder overBudget) {
      this.pipeline = pipeline;
      this.forwarded = forwarded;
      this.maxBodyBytes = maxBodyBytes;
      this.bodyDeadline = bodyDeadline;
      this.bodyBudget = bodyBudget;
      this.bodyTimeouts = bodyTimeouts;
      this.overBudget = overBudget;
    }

    @Override
    public boolean handle(Request request, Response response, Callback callback) {
      String path = request.getHttpURI().getPath();
      if (path == null
          || !(path.equals(ForwardedRequests.PREFIX)
              || path.startsWith(ForwardedRequests.PREFIX + "/"))) {
        JettyExchange.write(
            response, callback, AdminResponse.problem(404, "not_found", "Not found", ""));
        return true;
      }
      BodyReader.read(
          request,
          maxBodyBytes,
          bodyDeadline,
          bodyBudget,
          new BodyReader.Listener() {
            @Override
            public void read(byte[] bytes, boolean truncated) {
              decide(request, response, callback, bytes, truncated);
            }

            @Override
            public void expired() {
              // Not a decision: the request never arrived whole. Jetty closes the connection, as
              // the rest of the body is unread.
              bodyTimeouts.increment();
              JettyExchange.write(response, callback, ProblemErrorHandler.problem(408));
            }

            @Override
            public void overBudget() {
              // Not a decision either: the server will not hold more unfinished bodies. A proxy
              // applies its failure policy to the 503, as to any ext_authz error.
              overBudget.increment();
              JettyExchange.write(response, callback, ProblemErrorHandler.problem(503));
            }

            @Override
            public void failed(Throwable failure) {
              callback.failed(failure);
            }
          });
      return true;
    }

    private void decide(
        Request request, Response response, Callback callback, byte[] bytes, boolean truncated) {
      String rawPath = request.getHttpURI().getPath();
      String query = request.getHttpURI().getQuery();
      String pathAndQuery = query == null ? rawPath : rawPath + "?" + query;
      Headers.Builder hb = Headers.builder();
      for (HttpField f : request.getHeaders()) {
        hb.add(f.getName(), f.getValue());
      }
      Headers headers = hb.build();
      // Any "true" among the header's lines and list elements: a client's own copy ("false")
      // beside the proxy's must not make a truncated body count as complete.
      boolean partial =
          truncated || Body.markedPartial(headers.get(HeaderNames.ENVOY_PARTIAL_BODY));
      InetAddress peer = RequestAttributes.parseIp(Request.getRemoteAddr(request));
      ResponsePlan plan;
      boolean allowed;
      try {
        RequestAttributes attrs =
            forwarded.original(
                request.getMethod(), pathAndQuery, headers, peer, Body.of(bytes, partial));
        Decision decision = pipeline.decide(attrs);
        plan = decision.response();
        allowed = decision instanceof Decision.Allow;
      } catch (RuntimeException | StackOverflowError e) {
        String id = ids.mint();
        log.error("decision {} failed unexpectedly; denied with 500", id, e);
        plan = Responses.internalError(id);
        allowed = false;
      }
      response.setStatus(plan.status());
      if (allowed) {
        for (ResponseHeader h : plan.upstreamHeaders()) {
          response.getHeaders().put(h.name(), h.value());
        }
        List<String> remove = plan.upstreamHeadersToRemove();
        if (!remove.isEmpty()) {
          // Envoy's HTTP mode removes these from the request before the upstream (the gRPC
          // headers_to_remove). nginx, Traefik and APISIX copy only the headers they are told to.
          response.getHeaders().put(HeaderNames.ENVOY_AUTH_HEADERS_TO_REMOVE, removeList(remove));
        }
      }
      for (ResponseHeader h : plan.clientHeaders()) {
        response.getHeaders().put(h.name(), h.value());
      }
      response.getHeaders().put(HttpHeader.CACHE_CONTROL, "no-store");
      byte[] body = plan.body().getBytes(StandardCharsets.UTF_8);
      response.write(true, ByteBuffer.wrap(body), callback);
    }
  }

  /** {@code names} lower-case, separated by {@code ", "}. */
  static String removeList(List<String> names) {
    StringBuilder b = new StringBuilder(names.size() * 24);
    for (String name : names) {
      if (!b.isEmpty()) {
        b.append(", ");
      }
      b.append(name.toLowerCase(Locale.ROOT));
    }
    return b.toString();
  }

  /** Builds a {@link ForwardAuthServer}; not thread-safe. */
  public static final class Builder {
    private final InetSocketAddress address;
    private final DecisionPipeline pipeline;
    private CidrSet trustedProxies = CidrSet.empty();
    private int maxBodyBytes = 64 * 1024;
    private int maxThreads = MAX_THREADS;
    private int maxConnections = MAX_CONNECTIONS;
    private Duration bodyDeadline = BODY_DEADLINE;
    private long bodyBufferBytes = BODY_BUFFER_BYTES;
    private Duration drainGrace = Duration.ZERO;

    private Builder(InetSocketAddress address, DecisionPipeline pipeline) {
      this.address = address;
      this.pipeline = pipeline;
    }

    /** Peers whose forwarded headers are believed (default none). */
    public Builder trustedProxies(CidrSet trustedProxies) {
      this.trustedProxies = trustedProxies;
      return this;
    }

    /** Bytes of a request body read for the decision; more is truncated (default 64 KiB). */
    public Builder maxBodyBytes(int maxBodyBytes) {
      this.maxBodyBytes = maxBodyBytes;
      return this;
    }

    /** The thread pool's size (default 200). */
    public Builder maxThreads(int maxThreads) {
      this.maxThreads = maxThreads;
      return this;
    }

    /** The most open connections (default 10,000). */
    public Builder maxConnections(int maxConnections) {
      this.maxConnections = maxConnections;
      return this;
    }

    /** How long a request body may take to arrive (default 10 s); later is 408, undecided. */
    public Builder bodyDeadline(Duration bodyDeadline) {
      this.bodyDeadline = bodyDeadline;
      return this;
    }

    /**
     * The most bytes of request bodies held at once over all requests (default {@link
     * #BODY_BUFFER_BYTES}); a body that would go past it is 503, undecided.
     */
    public Builder bodyBufferBytes(long bodyBufferBytes) {
      this.bodyBufferBytes = bodyBufferBytes;
      return this;
    }

    /**
     * How long {@link #close()} lets requests in flight finish (default zero: they are cut off);
     * new requests are refused meanwhile (the port stops accepting; on a connection already open,
     * 503).
     */
    public Builder drainGrace(Duration drainGrace) {
      this.drainGrace = drainGrace;
      return this;
    }

    public ForwardAuthServer build() {
      return new ForwardAuthServer(this);
    }
  }
}
