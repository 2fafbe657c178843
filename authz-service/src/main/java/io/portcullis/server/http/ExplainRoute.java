package io.portcullis.server.http;

import io.portcullis.decision.ExplainService;
import io.portcullis.decision.Explanation;
import io.portcullis.policy.Diagnostics;
import io.portcullis.policy.PolicyError;
import io.portcullis.policy.Probe;
import io.portcullis.policy.ProbeReader;
import java.nio.charset.StandardCharsets;
import java.util.Map;
import java.util.Objects;
import tools.jackson.databind.node.ArrayNode;
import tools.jackson.databind.node.ObjectNode;

/**
 * {@code POST /admin/explain}: a request in, the full decision trace out.
 *
 * <p>Body: {@code {"request":{"method","path","host","headers":{},"source_ip","source_principal",
 * "tls","country","context":{},"body"},"identity":{...optional...}}} (the keys of {@link
 * ProbeReader}). With an identity, credential verification is skipped and the identity taken as
 * verified; without one, the request's credentials are verified as for a real request. Nothing is
 * consumed, counted or audited ({@link ExplainService}).
 *
 * <p>200 with {@link ExplainJson}'s shape, allow or deny; 400 {@code problem+json} of type {@code
 * invalid_explain_request} listing every problem with line and column in the body.
 */
public final class ExplainRoute implements AdminRoute {
  private static final String SOURCE = "request body";

  private final ExplainService explain;

  public ExplainRoute(ExplainService explain) {
    this.explain = Objects.requireNonNull(explain, "explain");
  }

  @Override
  public AdminResponse handle(AdminRequest request) {
    Diagnostics d = new Diagnostics(SOURCE);
    String text = request.bodyText();
    Probe probe = text.isBlank() ? null : ProbeReader.explainRequest(text, d);
    if (probe == null) {
      if (!d.hasErrors()) {
        d.error(0, 0, "", "expected a JSON object with request (and optionally identity)");
      }
      return invalid(d);
    }
    Explanation e = explain.explain(probe.request(), probe.identity(), probe.country());
    return AdminResponse.json(200, ExplainJson.render(e));
  }

  private static AdminResponse invalid(Diagnostics d) {
    ObjectNode o = PolicyStatusJson.MAPPER.createObjectNode();
    o.put("type", "urn:portcullis:error:invalid_explain_request");
    o.put("title", "Invalid explain request");
    o.put("status", 400);
    ArrayNode errors = o.putArray("errors");
    for (PolicyError e : d.all()) {
      ObjectNode n = errors.addObject();
      n.put("line", e.line());
      n.put("column", e.column());
      n.put("field", e.field());
      n.put("message", e.message());
    }
    return new AdminResponse(
        400,
        AdminResponse.PROBLEM_JSON,
        PolicyStatusJson.write(o).getBytes(StandardCharsets.UTF_8),
        Map.of());
  }
}
