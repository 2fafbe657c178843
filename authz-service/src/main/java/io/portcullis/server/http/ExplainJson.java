package io.portcullis.server.http;

import io.portcullis.decision.Explanation;
import io.portcullis.decision.Reason;
import org.jspecify.annotations.Nullable;
import tools.jackson.databind.node.ArrayNode;
import tools.jackson.databind.node.ObjectNode;

/**
 * The JSON of an {@link Explanation} ({@code POST /admin/explain}, {@code portcullis explain
 * --json}): {@code {"decision","status","reason","segment","rule","dry_run_reason",
 * "policy_version","detail","steps":[{"step":4,"phase":"segment","notes":["..."]}]}}. Absent values
 * are {@code null}; {@code detail} is the operator-facing reason of a deny (never a credential).
 */
public final class ExplainJson {
  private ExplainJson() {}

  public static String render(Explanation e) {
    ObjectNode o = PolicyStatusJson.MAPPER.createObjectNode();
    o.put("decision", e.outcome());
    o.put("status", e.status());
    o.put("reason", code(e.reason()));
    o.put("segment", e.decision().context().segment());
    o.put("rule", e.decision().context().rule());
    o.put("dry_run_reason", code(e.dryRunReason()));
    o.put("policy_version", e.decision().context().policyVersion());
    o.put(
        "detail",
        e.decision() instanceof io.portcullis.decision.Decision.Deny d ? d.detail() : null);
    ArrayNode steps = o.putArray("steps");
    for (Explanation.Step s : e.steps()) {
      ObjectNode n = steps.addObject();
      n.put("step", s.step());
      n.put("phase", s.phase().label());
      ArrayNode notes = n.putArray("notes");
      s.notes().forEach(notes::add);
    }
    return PolicyStatusJson.write(o);
  }

  private static @Nullable String code(@Nullable Reason r) {
    return r == null ? null : r.code();
  }
}
