package io.portcullis.server.http;

import io.portcullis.keys.IssuedKey;
import io.portcullis.keys.KeyJson;
import io.portcullis.keys.KeyLifecycle;
import io.portcullis.keys.KeyMetadata;
import io.portcullis.keys.KeyRequest;
import io.portcullis.keys.KeyResult;
import io.portcullis.store.StoreException;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import org.jspecify.annotations.Nullable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import tools.jackson.core.JacksonException;
import tools.jackson.databind.JsonNode;
import tools.jackson.databind.json.JsonMapper;

/**
 * The API key lifecycle on the admin API (interfaces.md "Admin API"), over {@link KeyLifecycle}:
 *
 * <ul>
 *   <li>{@code POST /admin/keys} {@code {"client","client_type","roles","scopes","segment_hint",
 *       "expires_in"}} (only {@code client} required) → 201 with the key and its secret ({@link
 *       KeyJson#issued});
 *   <li>{@code POST /admin/keys/{id}/rotate} {@code {"grace":"24h"}} (body optional; no grace by
 *       default) → 200 {@code {"id","secret","previous_valid_until"}};
 *   <li>{@code DELETE /admin/keys/{id}} → 204;
 *   <li>{@code GET /admin/keys?client=} → 200 {@code {"keys":[...]}}, never a secret or hash.
 * </ul>
 *
 * Errors are {@code application/problem+json}: 400 {@code invalid_key_request} (unknown fields
 * too), 404 {@code not_found}, 409 {@code key_revoked} / {@code key_expired}, 503 {@code
 * store_unavailable}. Answers carrying a secret are {@code Cache-Control: no-store}. Details never
 * echo request values.
 */
public final class KeyAdminRoutes {
  private static final Logger log = LoggerFactory.getLogger(KeyAdminRoutes.class);
  private static final JsonMapper MAPPER = JsonMapper.builder().build();
  private static final Set<String> ISSUE_FIELDS =
      Set.of("client", "client_type", "roles", "scopes", "segment_hint", "expires_in");
  private static final Set<String> ROTATE_FIELDS = Set.of("grace");

  private final KeyLifecycle keys;

  public KeyAdminRoutes(KeyLifecycle keys) {
    this.keys = Objects.requireNonNull(keys, "keys");
  }

  public AdminRouter register(AdminRouter router) {
    return router
        .add("POST", "/admin/keys", this::issue)
        .add("GET", "/admin/keys", this::list)
        .add("POST", "/admin/keys/{id}/rotate", this::rotate)
        .add("DELETE", "/admin/keys/{id}", this::revoke);
  }

  AdminResponse issue(AdminRequest request) {
    Body body = object(request, ISSUE_FIELDS);
    if (body.problem != null) {
      return invalid(body.problem);
    }
    JsonNode o = Objects.requireNonNull(body.node);
    String client = text(o, "client");
    if (client == null) {
      return invalid(
          o.has("client") && !o.get("client").isNull()
              ? "client must be a string"
              : "client is required");
    }
    String typeProblem = firstTypeProblem(o);
    if (typeProblem != null) {
      return invalid(typeProblem);
    }
    KeyRequest r =
        KeyRequest.builder(client)
            .clientType(text(o, "client_type"))
            .roles(strings(o, "roles"))
            .scopes(strings(o, "scopes"))
            .segmentHint(text(o, "segment_hint"))
            .expiresIn(text(o, "expires_in"))
            .build();
    return guarded(
        () ->
            switch (keys.issue(r)) {
              case KeyResult.Ok<IssuedKey> ok ->
                  AdminResponse.json(201, KeyJson.issued(ok.value()))
                      .withHeader("Cache-Control", "no-store");
              case KeyResult.Refused<IssuedKey> no -> refused(no);
            });
  }

  AdminResponse rotate(AdminRequest request) {
    String grace = null;
    if (!request.bodyText().isBlank()) {
      Body body = object(request, ROTATE_FIELDS);
      if (body.problem != null) {
        return invalid(body.problem);
      }
      JsonNode g = Objects.requireNonNull(body.node).get("grace");
      if (g != null && !g.isNull() && !g.isString()) {
        return invalid("grace must be a string such as \"24h\"");
      }
      grace = g == null || g.isNull() ? null : g.asString();
    }
    String id = request.pathParam("id");
    String finalGrace = grace;
    return guarded(
        () ->
            switch (keys.rotate(id, finalGrace)) {
              case KeyResult.Ok<IssuedKey> ok ->
                  AdminResponse.json(200, KeyJson.rotated(ok.value()))
                      .withHeader("Cache-Control", "no-store");
              case KeyResult.Refused<IssuedKey> no -> refused(no);
            });
  }

  AdminResponse revoke(AdminRequest request) {
    String id = request.pathParam("id");
    return guarded(
        () ->
            switch (keys.revoke(id)) {
              case KeyResult.Ok<KeyMetadata> ok -> AdminResponse.noContent();
              case KeyResult.Refused<KeyMetadata> no -> refused(no);
            });
  }

  AdminResponse list(AdminRequest request) {
    String client = request.param("client");
    return guarded(() -> AdminResponse.json(200, KeyJson.list(keys.list(client))));
  }

  // ---- helpers --------------------------------------------------------------------------------

  private interface Call {
    AdminResponse run();
  }

  /** A store failure is 503, not the router's 500: the request was fine, the database is not. */
  private static AdminResponse guarded(Call call) {
    try {
      return call.run();
    } catch (StoreException e) {
      log.warn("admin key operation failed: {}", e.getMessage());
      return AdminResponse.problem(
          503, "store_unavailable", "Key store unavailable", "the key store cannot be reached");
    }
  }

  private static AdminResponse refused(KeyResult.Refused<?> r) {
    return switch (r.refusal()) {
      case INVALID_REQUEST -> invalid(r.detail());
      case NOT_FOUND -> AdminResponse.problem(404, "not_found", "No such key", r.detail());
      case REVOKED -> AdminResponse.problem(409, "key_revoked", "Key revoked", r.detail());
      case EXPIRED -> AdminResponse.problem(409, "key_expired", "Key expired", r.detail());
    };
  }

  private static AdminResponse invalid(String detail) {
    return AdminResponse.problem(400, "invalid_key_request", "Invalid key request", detail);
  }

  /** A parsed JSON object body, or the problem with it. */
  private record Body(@Nullable JsonNode node, @Nullable String problem) {}

  private static Body object(AdminRequest request, Set<String> fields) {
    JsonNode node;
    try {
      node = MAPPER.readTree(request.body());
    } catch (JacksonException e) {
      return new Body(null, "the body is not valid JSON");
    }
    if (node == null || !node.isObject()) {
      return new Body(null, "the body must be a JSON object");
    }
    for (Map.Entry<String, JsonNode> e : node.properties()) {
      if (!fields.contains(e.getKey())) {
        return new Body(null, "unknown field '" + AdminRequest.clip(e.getKey()) + "'");
      }
    }
    return new Body(node, null);
  }

  private static @Nullable String firstTypeProblem(JsonNode o) {
    for (String f : List.of("client_type", "segment_hint", "expires_in")) {
      JsonNode v = o.get(f);
      if (v != null && !v.isNull() && !v.isString()) {
        return f + " must be a string";
      }
    }
    for (String f : List.of("roles", "scopes")) {
      JsonNode v = o.get(f);
      if (v == null || v.isNull()) {
        continue;
      }
      if (!v.isArray()) {
        return f + " must be an array of strings";
      }
      for (JsonNode item : v) {
        if (!item.isString()) {
          return f + " must be an array of strings";
        }
      }
    }
    return null;
  }

  private static @Nullable String text(JsonNode o, String field) {
    JsonNode v = o.get(field);
    return v != null && v.isString() ? v.asString() : null;
  }

  private static List<String> strings(JsonNode o, String field) {
    List<String> out = new ArrayList<>();
    JsonNode v = o.get(field);
    if (v != null && v.isArray()) {
      for (JsonNode item : v) {
        out.add(item.asString());
      }
    }
    return out;
  }
}
