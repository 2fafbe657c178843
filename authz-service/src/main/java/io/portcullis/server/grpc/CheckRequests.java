package io.portcullis.server.grpc;

import io.envoyproxy.envoy.config.core.v3.Address;
import io.envoyproxy.envoy.config.core.v3.HeaderValue;
import io.envoyproxy.envoy.service.auth.v3.AttributeContext;
import io.envoyproxy.envoy.service.auth.v3.CheckRequest;
import io.portcullis.decision.HeaderNames;
import io.portcullis.request.Body;
import io.portcullis.request.RequestAttributes;
import java.nio.charset.StandardCharsets;
import java.util.Map;
import org.jspecify.annotations.Nullable;

/**
 * Translates Envoy's {@code CheckRequest} into the wire-neutral {@link RequestAttributes}. Total:
 * any message, including an empty or inconsistent one, yields attributes (an empty method or path
 * makes the pipeline answer {@code malformed_request}); nothing here throws.
 *
 * <ul>
 *   <li>Headers come from {@code header_map} when Envoy sends it ({@code encode_raw_headers}),
 *       using {@code raw_value} bytes, else from the {@code headers} map; Envoy has already joined
 *       repeated headers with {@code ","}.
 *   <li>The body is {@code raw_body} when present, else {@code body}; {@code
 *       x-envoy-auth-partial-body: true} marks it truncated, in any entry or list element (a
 *       client-sent {@code false} does not hide Envoy's {@code true}).
 *   <li>The source is Envoy's {@code source.address} (Envoy applies {@code xff_num_trusted_hops});
 *       a client-sent {@code X-Forwarded-For} is never read here.
 *   <li>TLS: downstream scheme {@code https}, or a TLS session with a server name. The session
 *       alone proves nothing: with {@code include_tls_session} Envoy 1.35 sends one, empty, on
 *       plain-text connections too.
 *   <li>The query string never leaves this class: the path keeps it only for the normalizer to
 *       drop.
 * </ul>
 */
public final class CheckRequests {
  /**
   * The most header entries read from one CheckRequest; more is {@code malformed_request} without
   * reading them. Far above any proxy's own limit (Envoy's {@code max_headers_count} defaults to
   * 100) and the pipeline's {@code max_header_count}, so it only stops hand-made messages: an 8 MiB
   * message holds 1.6 million tiny entries.
   */
  static final int MAX_HEADER_ENTRIES = 10_000;

  private CheckRequests() {}

  /**
   * The attributes of {@code check}, marked malformed for {@code refusal} when it is not {@code
   * null} (what {@link CheckRequestMarshaller} could not read of the message).
   */
  public static RequestAttributes toAttributes(CheckRequest check, @Nullable String refusal) {
    AttributeContext attrs = check.getAttributes();
    AttributeContext.HttpRequest http = attrs.getRequest().getHttp();
    RequestAttributes.Builder b =
        RequestAttributes.builder()
            .method(http.getMethod())
            .path(http.getPath())
            .host(http.getHost())
            .scheme(http.getScheme())
            .tls(
                "https".equalsIgnoreCase(http.getScheme())
                    || !attrs.getTlsSession().getSni().isEmpty())
            .sourceIp(socketAddress(attrs.getSource().getAddress()))
            .sourcePrincipal(attrs.getSource().getPrincipal())
            .context(attrs.getContextExtensionsMap())
            .requestId(http.getId().isEmpty() ? null : http.getId());
    if (refusal != null) {
      b.refusal(refusal);
    }
    int entries =
        http.hasHeaderMap() ? http.getHeaderMap().getHeadersCount() : http.getHeadersCount();
    if (entries > MAX_HEADER_ENTRIES) {
      return b.refusal("more than " + MAX_HEADER_ENTRIES + " header entries").build();
    }
    if (http.hasHeaderMap()) {
      for (HeaderValue h : http.getHeaderMap().getHeadersList()) {
        String value =
            h.getRawValue().isEmpty()
                ? h.getValue()
                : h.getRawValue().toString(StandardCharsets.UTF_8);
        b.header(h.getKey(), value);
      }
    } else {
      for (Map.Entry<String, String> e : http.getHeadersMap().entrySet()) {
        b.header(e.getKey(), e.getValue());
      }
    }
    boolean partial = partialBody(http);
    if (!http.getRawBody().isEmpty()) {
      b.body(Body.of(http.getRawBody().toByteArray(), partial));
    } else if (!http.getBody().isEmpty()) {
      b.body(Body.of(http.getBody(), partial));
    } else if (partial) {
      b.body(Body.of(new byte[0], true));
    }
    return b.build();
  }

  /**
   * Whether any {@code x-envoy-auth-partial-body} the message carries says {@code true}: every
   * {@code header_map} entry of that name and the {@code headers} map's value (repeated headers
   * joined with {@code ","}), each by {@link Body#markedPartial}. A client can send the header
   * itself; its copy ({@code false}) may come before Envoy's, and reading only the first entry made
   * a truncated body count as complete.
   */
  private static boolean partialBody(AttributeContext.HttpRequest http) {
    if (http.hasHeaderMap()) {
      for (HeaderValue h : http.getHeaderMap().getHeadersList()) {
        if (h.getKey().equalsIgnoreCase(HeaderNames.ENVOY_PARTIAL_BODY)) {
          String v = h.getRawValue().isEmpty() ? h.getValue() : h.getRawValue().toStringUtf8();
          if (Body.markedPartial(v)) {
            return true;
          }
        }
      }
    }
    for (Map.Entry<String, String> e : http.getHeadersMap().entrySet()) {
      if (e.getKey().equalsIgnoreCase(HeaderNames.ENVOY_PARTIAL_BODY)
          && Body.markedPartial(e.getValue())) {
        return true;
      }
    }
    return false;
  }

  private static String socketAddress(Address address) {
    return address.hasSocketAddress() ? address.getSocketAddress().getAddress() : "";
  }
}
