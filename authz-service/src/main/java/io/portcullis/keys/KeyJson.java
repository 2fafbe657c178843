package io.portcullis.keys;

import java.time.Instant;
import java.util.List;
import org.jspecify.annotations.Nullable;
import tools.jackson.databind.json.JsonMapper;
import tools.jackson.databind.node.ArrayNode;
import tools.jackson.databind.node.ObjectNode;

/**
 * The JSON forms of keys, shared by the admin HTTP API and {@code portcullis keys --format json}
 * (interfaces.md "Admin JSON shapes"; snake_case, times in RFC 3339 UTC, absent values {@code
 * null}):
 *
 * <ul>
 *   <li>a key: {@code {"id","client","client_type","roles","scopes","created_at","expires_at",
 *       "revoked_at","last_used_at"}} followed by {@code "segment_hint"} and {@code "rotated_from"}
 *       (the admin gRPC {@code ApiKey}'s other fields) — never a secret or hash;
 *   <li>an issued key: {@code "id"}, then {@code "secret"}, then the key's other fields;
 *   <li>a rotated key: {@code {"id","secret","previous_valid_until"}};
 *   <li>a list: {@code {"keys":[key, ...]}}.
 * </ul>
 *
 * Thread-safe.
 */
public final class KeyJson {
  static final JsonMapper MAPPER = JsonMapper.builder().build();

  private KeyJson() {}

  /** The answer to an issue: the only document that carries the secret with the metadata. */
  public static String issued(IssuedKey key) {
    ObjectNode o = MAPPER.createObjectNode();
    o.put("id", key.id());
    o.put("secret", key.key().reveal());
    fields(o, key.metadata());
    return MAPPER.writeValueAsString(o);
  }

  /** The answer to a rotation. */
  public static String rotated(IssuedKey key) {
    ObjectNode o = MAPPER.createObjectNode();
    o.put("id", key.id());
    o.put("secret", key.key().reveal());
    time(o, "previous_valid_until", key.previousValidUntil());
    return MAPPER.writeValueAsString(o);
  }

  /** One key's metadata. */
  public static String key(KeyMetadata key) {
    ObjectNode o = MAPPER.createObjectNode();
    o.put("id", key.id());
    fields(o, key);
    return MAPPER.writeValueAsString(o);
  }

  /** {@code {"keys":[...]}}. */
  public static String list(List<KeyMetadata> keys) {
    ObjectNode o = MAPPER.createObjectNode();
    ArrayNode list = o.putArray("keys");
    for (KeyMetadata k : keys) {
      ObjectNode n = list.addObject();
      n.put("id", k.id());
      fields(n, k);
    }
    return MAPPER.writeValueAsString(o);
  }

  private static void fields(ObjectNode o, KeyMetadata k) {
    o.put("client", k.client());
    o.put("client_type", k.clientType());
    ArrayNode roles = o.putArray("roles");
    k.roles().forEach(roles::add);
    ArrayNode scopes = o.putArray("scopes");
    k.scopes().forEach(scopes::add);
    time(o, "created_at", k.createdAt());
    time(o, "expires_at", k.expiresAt());
    time(o, "revoked_at", k.revokedAt());
    time(o, "last_used_at", k.lastUsedAt());
    o.put("segment_hint", k.segmentHint());
    o.put("rotated_from", k.rotatedFrom());
  }

  private static void time(ObjectNode o, String name, @Nullable Instant t) {
    if (t == null) {
      o.putNull(name);
    } else {
      o.put(name, t.toString());
    }
  }
}
