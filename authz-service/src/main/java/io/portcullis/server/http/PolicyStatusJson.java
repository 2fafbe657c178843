package io.portcullis.server.http;

import io.portcullis.policy.PolicyError;
import java.time.Instant;
import java.util.List;
import java.util.Locale;
import tools.jackson.databind.json.JsonMapper;
import tools.jackson.databind.node.ArrayNode;
import tools.jackson.databind.node.ObjectNode;

/**
 * The JSON of {@code GET /admin/policy} and {@code POST /admin/policy/reload}: {@code
 * {"version","file","loaded_at","last_reload_ok","errors":[{"file","line","column","field",
 * "message","severity"}]}} (severity {@code error} or {@code warning}).
 */
final class PolicyStatusJson {
  static final JsonMapper MAPPER = JsonMapper.builder().build();

  private PolicyStatusJson() {}

  static String write(ObjectNode node) {
    return MAPPER.writeValueAsString(node);
  }

  static ObjectNode render(
      String version,
      String file,
      Instant loadedAt,
      boolean lastReloadOk,
      List<PolicyError> errors) {
    ObjectNode o = MAPPER.createObjectNode();
    o.put("version", version);
    o.put("file", file);
    o.put("loaded_at", loadedAt.toString());
    o.put("last_reload_ok", lastReloadOk);
    ArrayNode list = o.putArray("errors");
    for (PolicyError e : errors) {
      ObjectNode n = list.addObject();
      n.put("file", e.file());
      n.put("line", e.line());
      n.put("column", e.column());
      n.put("field", e.field());
      n.put("message", e.message());
      n.put("severity", e.severity().name().toLowerCase(Locale.ROOT));
    }
    return o;
  }
}
