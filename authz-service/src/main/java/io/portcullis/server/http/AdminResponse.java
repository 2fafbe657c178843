package io.portcullis.server.http;

import java.nio.charset.StandardCharsets;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * An admin API response.
 *
 * @param status HTTP status
 * @param contentType media type of the body
 * @param body the body
 * @param headers extra response headers
 */
public record AdminResponse(
    int status, String contentType, byte[] body, Map<String, String> headers) {

  public static final String JSON = "application/json";
  public static final String PROBLEM_JSON = "application/problem+json";

  public static AdminResponse json(int status, String json) {
    return new AdminResponse(status, JSON, json.getBytes(StandardCharsets.UTF_8), Map.of());
  }

  public static AdminResponse text(int status, String contentType, String text) {
    return new AdminResponse(status, contentType, text.getBytes(StandardCharsets.UTF_8), Map.of());
  }

  public static AdminResponse noContent() {
    return new AdminResponse(204, JSON, new byte[0], Map.of());
  }

  /**
   * An RFC 9457 problem. {@code detail} must never contain secrets or echo request values.
   *
   * @param type short problem type, becomes {@code urn:portcullis:error:<type>}
   */
  public static AdminResponse problem(int status, String type, String title, String detail) {
    String json =
        "{\"type\":\"urn:portcullis:error:"
            + Json.escape(type)
            + "\",\"title\":\""
            + Json.escape(title)
            + "\",\"status\":"
            + status
            + (detail.isEmpty() ? "" : ",\"detail\":\"" + Json.escape(detail) + "\"")
            + "}";
    return new AdminResponse(status, PROBLEM_JSON, json.getBytes(StandardCharsets.UTF_8), Map.of());
  }

  public AdminResponse withHeader(String name, String value) {
    Map<String, String> h = new LinkedHashMap<>(headers);
    h.put(name, value);
    return new AdminResponse(status, contentType, body, h);
  }

  public String bodyText() {
    return new String(body, StandardCharsets.UTF_8);
  }
}
