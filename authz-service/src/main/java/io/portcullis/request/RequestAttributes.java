package io.portcullis.request;

import com.google.common.net.InetAddresses;
import java.net.Inet6Address;
import java.net.InetAddress;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Objects;
import org.jspecify.annotations.Nullable;

/**
 * Everything the proxy told us about one request, independent of the wire it came over (Envoy
 * ext_authz gRPC, Envoy HTTP mode, or a forward-auth proxy). Adapters build it; the decision
 * pipeline reads it. Values are as received: the path is not yet normalized and may carry a query
 * string; the pipeline's first phase validates and normalizes.
 *
 * @param method the HTTP method as sent (validated by the pipeline)
 * @param path the request target's path, possibly with a query string (never used for matching
 *     before normalization)
 * @param host the {@code :authority} / {@code Host}
 * @param scheme the downstream scheme ({@code http} or {@code https})
 * @param tls whether the downstream connection was TLS (scheme {@code https}, or a TLS session)
 * @param headers lower-case request headers
 * @param body the body the proxy forwarded, if any
 * @param sourceIp the downstream client address, or {@code null} if the proxy sent none or an
 *     unparseable one
 * @param sourcePrincipal the mTLS peer identity Envoy reports ({@code source.principal}, e.g. a
 *     SPIFFE ID), or empty
 * @param context Envoy {@code context_extensions} (per listener/route values such as {@code
 *     environment})
 * @param requestId the proxy's request id ({@code x-request-id}), or {@code null}
 * @param refusal why the adapter found the request malformed before the pipeline could see it
 *     (forward-auth: forwarded headers from an untrusted peer, two header dialects at once), or
 *     {@code null}; the pipeline denies such a request with {@code malformed_request} and audits it
 */
public record RequestAttributes(
    String method,
    String path,
    String host,
    String scheme,
    boolean tls,
    Headers headers,
    Body body,
    @Nullable InetAddress sourceIp,
    String sourcePrincipal,
    Map<String, String> context,
    @Nullable String requestId,
    @Nullable String refusal) {

  public RequestAttributes {
    Objects.requireNonNull(method, "method");
    Objects.requireNonNull(path, "path");
    Objects.requireNonNull(host, "host");
    Objects.requireNonNull(scheme, "scheme");
    Objects.requireNonNull(headers, "headers");
    Objects.requireNonNull(body, "body");
    Objects.requireNonNull(sourcePrincipal, "sourcePrincipal");
    context = Map.copyOf(context);
  }

  public static Builder builder() {
    return new Builder();
  }

  /** A header value (any case), or {@code null}. */
  public @Nullable String header(String name) {
    return headers.get(name);
  }

  /** The source address in its canonical text form, or empty if unknown. */
  public String sourceIpText() {
    return sourceIp == null ? "" : InetAddresses.toAddrString(sourceIp);
  }

  /**
   * Parses an IP literal without any DNS lookup. IPv4-mapped IPv6 addresses ({@code
   * ::ffff:10.0.0.1}) become the IPv4 address, so one CIDR list covers both forms.
   *
   * @return the address, or {@code null} if {@code text} is not an IP literal
   */
  public static @Nullable InetAddress parseIp(@Nullable String text) {
    if (text == null || text.isEmpty()) {
      return null;
    }
    String t = text;
    if (t.startsWith("[") && t.endsWith("]")) {
      t = t.substring(1, t.length() - 1);
    }
    int zone = t.indexOf('%');
    if (zone > 0 && t.indexOf(':') >= 0) {
      // An IPv6 zone names an interface of the host that wrote it: meaningless here, and an unknown
      // one makes forString throw.
      t = t.substring(0, zone);
    }
    if (!InetAddresses.isInetAddress(t)) {
      return null;
    }
    InetAddress a = InetAddresses.forString(t);
    if (a instanceof Inet6Address v6 && InetAddresses.isMappedIPv4Address(t)) {
      return InetAddresses.getEmbeddedIPv4ClientAddress(v6);
    }
    return a;
  }

  /** Builds {@link RequestAttributes}; not thread-safe. Defaults: {@code GET /}, no headers. */
  public static final class Builder {
    private String method = "GET";
    private String path = "/";
    private String host = "";
    private String scheme = "http";
    private @Nullable Boolean tls;
    private final Headers.Builder headers = Headers.builder();
    private Body body = Body.empty();
    private @Nullable InetAddress sourceIp;
    private String sourcePrincipal = "";
    private final Map<String, String> context = new LinkedHashMap<>();
    private @Nullable String requestId;
    private @Nullable String refusal;

    private Builder() {}

    public Builder method(String method) {
      this.method = method;
      return this;
    }

    public Builder path(String path) {
      this.path = path;
      return this;
    }

    public Builder host(String host) {
      this.host = host;
      return this;
    }

    public Builder scheme(String scheme) {
      this.scheme = scheme;
      return this;
    }

    /** Overrides TLS detection; by default TLS means scheme {@code https}. */
    public Builder tls(boolean tls) {
      this.tls = tls;
      return this;
    }

    public Builder header(String name, String value) {
      headers.add(name, value);
      return this;
    }

    public Builder headers(Map<String, String> all) {
      all.forEach(headers::add);
      return this;
    }

    public Builder body(Body body) {
      this.body = body;
      return this;
    }

    /** Sets the source from an IP literal; anything else leaves the source unknown. */
    public Builder sourceIp(@Nullable String ip) {
      this.sourceIp = parseIp(ip);
      return this;
    }

    public Builder sourceIp(@Nullable InetAddress ip) {
      this.sourceIp = ip;
      return this;
    }

    public Builder sourcePrincipal(String principal) {
      this.sourcePrincipal = principal;
      return this;
    }

    public Builder context(String key, String value) {
      context.put(key, value);
      return this;
    }

    public Builder context(Map<String, String> all) {
      context.putAll(all);
      return this;
    }

    public Builder requestId(@Nullable String requestId) {
      this.requestId = requestId;
      return this;
    }

    public RequestAttributes build() {
      boolean isTls = tls != null ? tls : "https".equalsIgnoreCase(scheme);
      return new RequestAttributes(
          method,
          path,
          host,
          scheme,
          isTls,
          headers.build(),
          body,
          sourceIp,
          sourcePrincipal,
          context,
          requestId,
          refusal);
    }

    /** Marks the request malformed for {@code why} (see {@link RequestAttributes#refusal}). */
    public Builder refusal(String why) {
      this.refusal = why;
      return this;
    }
  }
}
