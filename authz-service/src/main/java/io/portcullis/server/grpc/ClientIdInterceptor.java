package io.portcullis.server.grpc;

import com.github.benmanes.caffeine.cache.Cache;
import com.github.benmanes.caffeine.cache.Caffeine;
import io.grpc.Grpc;
import io.grpc.Metadata;
import io.grpc.ServerCall;
import io.grpc.ServerCallHandler;
import io.grpc.ServerInterceptor;
import io.grpc.Status;
import java.security.cert.Certificate;
import java.security.cert.CertificateParsingException;
import java.security.cert.X509Certificate;
import java.time.Duration;
import java.time.Instant;
import java.time.InstantSource;
import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.LongAdder;
import javax.net.ssl.SSLPeerUnverifiedException;
import javax.net.ssl.SSLSession;
import org.jspecify.annotations.Nullable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Admits a gRPC call only from a client whose verified certificate names an allowed id ({@code
 * server.grpc.tls.allowed_client_ids}); any other call is closed with {@code PERMISSION_DENIED}
 * before any work, counted, and logged at most once a minute per client id.
 *
 * <p>mTLS alone admits every certificate the client CA signed. In a SPIFFE deployment that is every
 * workload's SVID, and any workload could then call {@code Check} or {@code ShouldRateLimit}
 * itself: forge {@code source.address} to get a victim's address blocked for failed authentication,
 * or spend another client's quota with {@code hits_addend}. This check narrows the callers to
 * Envoy's own identities.
 *
 * <p>An allowed id is a URI SAN (a SPIFFE ID) or DNS SAN of the client's leaf certificate, compared
 * exactly (DNS names ignoring case); an id ending in {@code /*} allows every URI below that path
 * ({@code spiffe://example.org/ns/edge/*} admits {@code spiffe://example.org/ns/edge/sa/envoy}),
 * provided none of the segments after the prefix is empty, {@code .} or {@code ..}, and there is no
 * query or fragment. Thread-safe.
 */
final class ClientIdInterceptor implements ServerInterceptor {
  private static final Logger log = LoggerFactory.getLogger(ClientIdInterceptor.class);

  /** How often one refused client id is logged at most. */
  static final Duration LOG_INTERVAL = Duration.ofMinutes(1);

  /** Client ids whose last log time is remembered; beyond that the memory starts over. */
  private static final int MAX_REMEMBERED = 1024;

  private static final int SAN_DNS = 2;
  private static final int SAN_URI = 6;

  private final List<String> exact;
  private final List<String> prefixes;
  private final InstantSource clock;
  private final LongAdder refused = new LongAdder();
  private final Map<String, Instant> lastLogged = new ConcurrentHashMap<>();

  /** Each live TLS session's verdict, by identity; a closed session's entry goes with it. */
  private final Cache<SSLSession, Boolean> verdicts =
      Caffeine.newBuilder().weakKeys().maximumSize(100_000).build();

  /**
   * @param allowed the allowed ids (not empty); see {@link #validate} for their form
   * @param clock when a refusal was last logged
   */
  ClientIdInterceptor(List<String> allowed, InstantSource clock) {
    if (allowed.isEmpty()) {
      throw new IllegalArgumentException("no allowed client ids");
    }
    List<String> e = new ArrayList<>();
    List<String> p = new ArrayList<>();
    for (String id : allowed) {
      String problem = validate(id);
      if (problem != null) {
        throw new IllegalArgumentException(problem);
      }
      if (id.endsWith("/*")) {
        p.add(id.substring(0, id.length() - 1));
      } else {
        e.add(id);
      }
    }
    this.exact = List.copyOf(e);
    this.prefixes = List.copyOf(p);
    this.clock = clock;
  }

  /**
   * What is wrong with {@code id} as an allowed client id, or {@code null}: it must not be blank,
   * and {@code *} may only end it, as {@code /*} after a URI's path.
   */
  static @Nullable String validate(String id) {
    if (id.isBlank()) {
      return "an allowed client id must not be empty";
    }
    int star = id.indexOf('*');
    if (star >= 0 && (star != id.length() - 1 || !id.endsWith("/*") || !id.contains("://"))) {
      return "'"
          + id
          + "': '*' is allowed only as a trailing '/*' after a URI path"
          + " (spiffe://example.org/ns/edge/*)";
    }
    return null;
  }

  /** Calls refused so far ({@code portcullis_grpc_client_refused_total}). */
  long refused() {
    return refused.sum();
  }

  @Override
  public <Q, A> ServerCall.Listener<Q> interceptCall(
      ServerCall<Q, A> call, Metadata headers, ServerCallHandler<Q, A> next) {
    SSLSession session = call.getAttributes().get(Grpc.TRANSPORT_ATTR_SSL_SESSION);
    // Every call of a connection has the same verdict: the certificate's SANs are read once per
    // TLS session (Envoy keeps its connections), not parsed again on each call.
    if (session != null && verdicts.get(session, s -> admits(peerIds(s)))) {
      return next.startCall(call, headers);
    }
    List<String> ids = peerIds(session);
    refused.increment();
    logRefusal(ids);
    call.close(
        Status.PERMISSION_DENIED.withDescription(
            "this client's certificate is not among server.grpc.tls.allowed_client_ids"),
        new Metadata());
    return new ServerCall.Listener<>() {};
  }

  private boolean admits(List<String> ids) {
    for (String id : ids) {
      if (allowed(id)) {
        return true;
      }
    }
    return false;
  }

  private boolean allowed(String id) {
    for (String e : exact) {
      if (e.equals(id) || !id.contains("://") && e.equalsIgnoreCase(id)) {
        return true;
      }
    }
    for (String p : prefixes) {
      if (id.length() > p.length() && id.startsWith(p) && plainPath(id.substring(p.length()))) {
        return true;
      }
    }
    return false;
  }

  /** Path segments below a prefix: none empty, {@code .} or {@code ..}; no query or fragment. */
  private static boolean plainPath(String rest) {
    if (rest.indexOf('?') >= 0 || rest.indexOf('#') >= 0) {
      return false;
    }
    for (String segment : rest.split("/", -1)) {
      if (segment.isEmpty() || segment.equals(".") || segment.equals("..")) {
        return false;
      }
    }
    return true;
  }

  /**
   * The URI and DNS SANs of the verified client leaf certificate; empty without TLS or client
   * certificate (refused: fail closed).
   */
  private static List<String> peerIds(@Nullable SSLSession session) {
    if (session == null) {
      return List.of();
    }
    Certificate[] chain;
    try {
      chain = session.getPeerCertificates();
    } catch (SSLPeerUnverifiedException e) {
      return List.of();
    }
    if (chain.length == 0 || !(chain[0] instanceof X509Certificate leaf)) {
      return List.of();
    }
    Collection<List<?>> sans;
    try {
      sans = leaf.getSubjectAlternativeNames();
    } catch (CertificateParsingException e) {
      return List.of();
    }
    if (sans == null) {
      return List.of();
    }
    List<String> ids = new ArrayList<>();
    for (List<?> san : sans) {
      if (san.size() >= 2
          && san.get(0) instanceof Integer type
          && (type == SAN_URI || type == SAN_DNS)
          && san.get(1) instanceof String value) {
        ids.add(value);
      }
    }
    return ids;
  }

  private void logRefusal(List<String> ids) {
    String peer = ids.isEmpty() ? "(no URI or DNS SAN)" : printable(String.join(", ", ids));
    Instant now = clock.instant();
    if (lastLogged.size() >= MAX_REMEMBERED) {
      lastLogged.clear();
    }
    boolean[] due = {false};
    lastLogged.compute(
        peer,
        (k, last) -> {
          due[0] = last == null || !now.isBefore(last.plus(LOG_INTERVAL));
          return due[0] ? now : last;
        });
    if (!due[0]) {
      return;
    }
    log.warn(
        "gRPC call refused: client certificate {} is not in server.grpc.tls.allowed_client_ids"
            + " (logged once a minute per client; portcullis_grpc_client_refused_total counts"
            + " every refusal)",
        peer);
  }

  /** {@code s} without control characters, which a certificate could carry into the log. */
  private static String printable(String s) {
    StringBuilder sb = new StringBuilder(s.length());
    s.codePoints().forEach(c -> sb.appendCodePoint(Character.isISOControl(c) ? '?' : c));
    return sb.toString();
  }
}
