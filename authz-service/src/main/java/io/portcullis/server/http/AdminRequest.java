package io.portcullis.server.http;

import io.portcullis.request.Headers;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Map;
import org.jspecify.annotations.Nullable;

/**
 * An admin API request, independent of the HTTP server library so handlers are plain functions that
 * tests call directly.
 *
 * @param method HTTP method
 * @param path path without query
 * @param query decoded query parameters
 * @param pathParams values of {@code {name}} segments of the matched route
 * @param headers lower-case headers
 * @param body the request body (bounded by the server)
 */
public record AdminRequest(
    String method,
    String path,
    Map<String, List<String>> query,
    Map<String, String> pathParams,
    Headers headers,
    byte[] body) {

  /** The first value of a query parameter, or {@code null}. */
  public @Nullable String param(String name) {
    List<String> v = query.get(name);
    return v == null || v.isEmpty() ? null : v.getFirst();
  }

  public String pathParam(String name) {
    String v = pathParams.get(name);
    if (v == null) {
      throw new IllegalStateException("route has no path parameter " + name);
    }
    return v;
  }

  public String bodyText() {
    return new String(body, StandardCharsets.UTF_8);
  }

  /**
   * A value from a request for an error message: characters outside printable ASCII as {@code ?},
   * cut to 40 characters, so a message stays one short line whatever was sent.
   */
  static String clip(String value) {
    String visible = value.replaceAll("[^\\x21-\\x7e]", "?");
    return visible.length() <= 40 ? visible : visible.substring(0, 40) + "...";
  }

  AdminRequest withPathParams(Map<String, String> params) {
    return new AdminRequest(method, path, query, params, headers, body);
  }
}
