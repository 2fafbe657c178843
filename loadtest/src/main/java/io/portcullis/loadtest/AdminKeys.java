package io.portcullis.loadtest;

import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import tools.jackson.databind.JsonNode;
import tools.jackson.databind.json.JsonMapper;

/**
 * Issues API keys in a started service through its own admin API ({@code POST /admin/keys} on the
 * admin listener, with the load-test admin token), as an operator would: the keys land in the
 * service's store and, issued through this instance, verify on it at once.
 *
 * <p>The secrets are returned to the caller only, kept in memory for the requests, and never
 * printed: errors carry the HTTP status and the service's problem type, which never echoes a
 * secret.
 */
final class AdminKeys {
  private static final JsonMapper JSON = JsonMapper.builder().build();

  private AdminKeys() {}

  /**
   * Issues {@code count} keys for clients {@code <client>-0} ... {@code <client>-<count-1>}, one
   * request each, and returns the full keys in that order.
   *
   * @throws IOException if the service refuses one or cannot be reached
   */
  static List<String> issue(int adminPort, String adminToken, String client, int count)
      throws IOException, InterruptedException {
    URI uri = URI.create("http://127.0.0.1:" + adminPort + "/admin/keys");
    List<String> keys = new ArrayList<>(count);
    try (HttpClient http =
        HttpClient.newBuilder()
            .version(HttpClient.Version.HTTP_1_1)
            .connectTimeout(Duration.ofSeconds(5))
            .build()) {
      for (int i = 0; i < count; i++) {
        String body =
            JSON.writeValueAsString(
                JSON.createObjectNode()
                    .put("client", client + "-" + i)
                    .put("client_type", "partner"));
        HttpRequest request =
            HttpRequest.newBuilder(uri)
                .timeout(Duration.ofSeconds(10))
                .header("authorization", "Bearer " + adminToken)
                .header("content-type", "application/json")
                .POST(HttpRequest.BodyPublishers.ofString(body))
                .build();
        HttpResponse<String> response = http.send(request, HttpResponse.BodyHandlers.ofString());
        keys.add(secretOf(response.statusCode(), response.body()));
      }
    }
    return keys;
  }

  /** The key in an issue answer (201 {@code {"id":..,"secret":..}}); refusals become errors. */
  static String secretOf(int status, String body) throws IOException {
    if (status != 201) {
      String type = "";
      try {
        JsonNode problem = JSON.readTree(body);
        type = problem.path("type").asString("") + " " + problem.path("title").asString("");
      } catch (RuntimeException e) {
        // not a problem document: the status says enough
      }
      throw new IOException("POST /admin/keys answered " + status + " " + type.trim());
    }
    JsonNode secret = JSON.readTree(body).get("secret");
    if (secret == null || !secret.isString()) {
      throw new IOException("POST /admin/keys answered 201 without a secret");
    }
    return secret.asString();
  }
}
