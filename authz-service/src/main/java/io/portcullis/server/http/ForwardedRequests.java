package io.portcullis.server.http;

import io.portcullis.decision.HeaderNames;
import io.portcullis.net.CidrSet;
import io.portcullis.request.Body;
import io.portcullis.request.Headers;
import io.portcullis.request.RequestAttributes;
import java.net.InetAddress;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import org.jspecify.annotations.Nullable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Reconstructs the original request from a forward-auth call (interfaces.md "Forward-auth"):
 *
 * <ul>
 *   <li>APISIX {@code forward-auth} and Traefik {@code ForwardAuth}: {@code X-Forwarded-Method},
 *       {@code X-Forwarded-Uri}, {@code X-Forwarded-Host}, {@code X-Forwarded-Proto}, {@code
 *       X-Forwarded-For}.
 *   <li>nginx {@code auth_request}: {@code X-Original-Method}, {@code X-Original-URI} (and the
 *       {@code Host}, {@code X-Forwarded-Proto}, {@code X-Forwarded-For} the config sets).
 *   <li>Envoy ext_authz HTTP mode, or any caller without those headers: the call itself is the
 *       original request, under the {@code /check} prefix.
 * </ul>
 *
 * <p>A request carrying both {@code X-Forwarded-Uri} and {@code X-Original-URI} is refused as
 * {@code malformed_request}: one family was set by the proxy and the other came from the client,
 * and choosing either would let a client pick the path that gets authorized.
 *
 * <p>Forwarded headers are believed only when the connection comes from a {@code trusted_proxies}
 * address. A call from anyone else that names an original request ({@code X-Forwarded-Uri}, {@code
 * -Method}, {@code X-Original-URI}, {@code -Method}) is refused as {@code malformed_request}, with
 * a warning in the log at most once a minute: deciding it as itself would authorize every request
 * of a proxy missing from {@code trusted_proxies} as {@code GET /}. So is a call to the bare {@code
 * /check} without such headers: Envoy's HTTP mode always sends the original path under {@code
 * /check/}. Otherwise an untrusted call is decided as itself, its source the connection's peer, and
 * its {@code x-request-id} ignored (a client must not choose audit ids). The client address is the
 * right-most {@code X-Forwarded-For} entry that is not itself a trusted proxy (RFC 7239 §7.4
 * reasoning: entries left of the last untrusted hop are client-controlled); {@code
 * X-Forwarded-Proto} likewise counts by its right-most value, the one the nearest proxy added.
 */
public final class ForwardedRequests {
  /** The path prefix of forward-auth checks. */
  public static final String PREFIX = "/check";

  private static final Logger log = LoggerFactory.getLogger(ForwardedRequests.class);

  private static final long WARN_EVERY_NANOS = TimeUnit.MINUTES.toNanos(1);

  private final CidrSet trustedProxies;
  private final AtomicLong lastWarning = new AtomicLong(System.nanoTime() - WARN_EVERY_NANOS);

  public ForwardedRequests(CidrSet trustedProxies) {
    this.trustedProxies = trustedProxies;
  }

  /**
   * The original request.
   *
   * @param method the check call's method
   * @param pathAndQuery the check call's path with query, starting with {@link #PREFIX}
   * @param headers the check call's headers
   * @param peer the connection's remote address
   * @param body the check call's body (Envoy HTTP mode can forward the original body)
   */
  public RequestAttributes original(
      String method, String pathAndQuery, Headers headers, @Nullable InetAddress peer, Body body) {
    boolean trusted = trustedProxies.contains(peer);
    RequestAttributes.Builder b = RequestAttributes.builder().headers(headers.asMap());
    if (!trusted && namesOriginal(headers)) {
      warnUntrusted(peer);
      return b.method(method)
          .path("/")
          .sourceIp(peer)
          .refusal("forwarded request headers from a peer outside server.http.trusted_proxies")
          .build();
    }
    String fwdUri = trusted ? headers.get("x-forwarded-uri") : null;
    String origUri = trusted ? headers.get("x-original-uri") : null;
    if (fwdUri != null && origUri != null) {
      // Two dialects at once: one of them came from the client through the proxy (nginx passes
      // client headers to auth_request, Traefik and APISIX pass X-Original-* through). Guessing
      // which is authoritative would let the client choose what gets authorized.
      return b.method(method)
          .path("/")
          .requestId(headers.get(HeaderNames.REQUEST_ID))
          .sourceIp(peer)
          .refusal("both X-Forwarded-Uri and X-Original-URI")
          .build();
    }
    if (fwdUri != null) {
      b.method(orElse(headers.get("x-forwarded-method"), method))
          .path(fwdUri)
          .host(orElse(headers.get("x-forwarded-host"), orElse(headers.get("host"), "")));
    } else if (origUri != null) {
      b.method(orElse(headers.get("x-original-method"), method))
          .path(origUri)
          .host(orElse(headers.get("x-forwarded-host"), orElse(headers.get("host"), "")));
    } else {
      String rest = pathAndQuery.substring(Math.min(PREFIX.length(), pathAndQuery.length()));
      if (rest.isEmpty() || rest.charAt(0) == '?') {
        // The bare /check: no proxy sends this for a real request.
        b.refusal(
            "no original request: X-Forwarded-Uri or X-Original-URI from a trusted proxy, or the"
                + " original path under /check/");
        rest = "/";
      }
      b.method(method).path(rest).host(orElse(headers.get("host"), ""));
    }
    String proto = trusted ? headers.get("x-forwarded-proto") : null;
    b.scheme(proto == null ? "http" : lastToken(proto));
    b.sourceIp(trusted ? clientAddress(headers.get("x-forwarded-for"), peer) : peer);
    b.requestId(trusted ? headers.get(HeaderNames.REQUEST_ID) : null);
    b.body(body);
    return b.build();
  }

  private @Nullable InetAddress clientAddress(@Nullable String xff, @Nullable InetAddress peer) {
    if (xff == null || xff.isBlank()) {
      return peer;
    }
    String[] hops = xff.split(",");
    for (int i = hops.length - 1; i >= 0; i--) {
      InetAddress hop = RequestAttributes.parseIp(hops[i].trim());
      if (hop == null) {
        return null; // garbage in the chain: the source is unknown, never a guess
      }
      if (!trustedProxies.contains(hop)) {
        return hop;
      }
    }
    return null; // every hop claims to be a trusted proxy: the client is not known
  }

  private static boolean namesOriginal(Headers headers) {
    return headers.get("x-forwarded-uri") != null
        || headers.get("x-original-uri") != null
        || headers.get("x-forwarded-method") != null
        || headers.get("x-original-method") != null;
  }

  private void warnUntrusted(@Nullable InetAddress peer) {
    long now = System.nanoTime();
    long last = lastWarning.get();
    if (now - last >= WARN_EVERY_NANOS && lastWarning.compareAndSet(last, now)) {
      log.warn(
          "forward-auth call from {} names an original request (X-Forwarded-Uri/-Method,"
              + " X-Original-URI/-Method) but {} is not in server.http.trusted_proxies: refused as"
              + " malformed_request. Add the proxy's address to trusted_proxies. (Logged at most"
              + " once a minute.)",
          peer == null ? "an unknown address" : peer.getHostAddress(),
          peer == null ? "it" : peer.getHostAddress());
    }
  }

  /** The right-most entry of a comma-separated header: the one the nearest proxy added. */
  private static String lastToken(String value) {
    int comma = value.lastIndexOf(',');
    return (comma < 0 ? value : value.substring(comma + 1)).trim();
  }

  private static String orElse(@Nullable String v, String fallback) {
    return v == null || v.isEmpty() ? fallback : v;
  }
}
