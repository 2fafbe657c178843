package io.portcullis.testing;

import io.portcullis.request.Headers;
import io.portcullis.server.http.AdminRequest;
import java.nio.charset.StandardCharsets;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/** Admin API requests for calling route handlers directly, without an HTTP server. */
public final class AdminRequests {
  private AdminRequests() {}

  public static AdminRequest get(String path) {
    return new AdminRequest("GET", path, Map.of(), Map.of(), Headers.empty(), new byte[0]);
  }

  /** A GET with query parameters, one value each (the server decodes them before routing). */
  public static AdminRequest get(String path, Map<String, String> query) {
    Map<String, List<String>> q = new LinkedHashMap<>();
    query.forEach((k, v) -> q.put(k, List.of(v)));
    return new AdminRequest("GET", path, q, Map.of(), Headers.empty(), new byte[0]);
  }

  public static AdminRequest delete(String path) {
    return new AdminRequest("DELETE", path, Map.of(), Map.of(), Headers.empty(), new byte[0]);
  }

  public static AdminRequest post(String path, String body) {
    return new AdminRequest(
        "POST",
        path,
        Map.of(),
        Map.of(),
        Headers.of(Map.of("content-type", "application/json")),
        body.getBytes(StandardCharsets.UTF_8));
  }
}
