package io.portcullis.decision;

import io.portcullis.identity.Identity;
import io.portcullis.request.RequestAttributes;
import java.util.ArrayList;
import java.util.EnumMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import org.jspecify.annotations.Nullable;

/**
 * Explains decisions ({@code POST /admin/explain}, {@code portcullis explain}): runs the {@link
 * DecisionPipeline} with a recording {@link Trace} and regroups its notes by step.
 *
 * <p>An explanation changes nothing: limits are only looked at ({@code consumeLimits=false}),
 * failed authentications are not counted towards {@code protect}, and nothing is audited or counted
 * in metrics. With an identity, phase 3 is skipped and the identity is taken as verified; without
 * one, the request's credentials are verified as for a real request (so explaining with a real
 * token needs the issuer reachable, exactly like the decision would).
 *
 * <p>Thread-safe (the pipeline is; each explanation has its own trace).
 */
public final class ExplainService {
  private final DecisionPipeline pipeline;

  public ExplainService(DecisionPipeline pipeline) {
    this.pipeline = Objects.requireNonNull(pipeline, "pipeline");
  }

  /**
   * Explains one request.
   *
   * @param request the request as a proxy would send it
   * @param identity an already-verified identity that replaces phase 3, or {@code null} to verify
   *     the request's credentials
   * @param country the source's country, or {@code null} to resolve it as for a real request
   * @return the decision and every step's findings; never throws for a bad request (a malformed
   *     request is explained as {@code malformed_request})
   */
  public Explanation explain(
      RequestAttributes request, @Nullable Identity identity, @Nullable String country) {
    Trace.Recording trace = Trace.recording();
    Decision decision =
        pipeline.decide(request, new DecideOptions(trace, identity, country, false, false));
    List<Trace.Note> notes = trace.notes();
    // The pipeline's last note is the decision, noted by the phase that made it.
    Phase decidedAt = notes.isEmpty() ? Phase.ALLOW : notes.getLast().phase();
    Map<Phase, List<String>> byPhase = new EnumMap<>(Phase.class);
    for (Trace.Note n : notes) {
      byPhase.computeIfAbsent(n.phase(), p -> new ArrayList<>()).add(n.message());
    }
    List<Explanation.Step> steps = new ArrayList<>();
    for (Phase p : Phase.values()) {
      boolean reached = p.compareTo(decidedAt) <= 0;
      List<String> found = byPhase.getOrDefault(p, List.of());
      if (!reached) {
        found = List.of("not reached: step " + decidedAt.step() + " decided");
      } else if (found.isEmpty()) {
        found = List.of("passed");
      }
      steps.add(new Explanation.Step(p, found, reached));
    }
    return new Explanation(decision, steps, decidedAt);
  }
}
