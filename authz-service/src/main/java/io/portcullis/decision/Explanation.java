package io.portcullis.decision;

import java.util.List;
import java.util.Objects;
import org.jspecify.annotations.Nullable;

/**
 * Why a request gets the decision it gets: the decision itself and what every step of the decision
 * order found, in order (spec "Decision order"). Produced by {@link ExplainService}; never holds a
 * credential or a body.
 *
 * @param decision the decision, made without consuming limits and without auditing
 * @param steps one entry per step of the decision order, 1 to 9; steps after the deciding one say
 *     they were not reached
 * @param decidedAt the step that decided (the first failing step, or 9 for an allow)
 */
public record Explanation(Decision decision, List<Step> steps, Phase decidedAt) {
  public Explanation {
    Objects.requireNonNull(decision, "decision");
    steps = List.copyOf(steps);
    Objects.requireNonNull(decidedAt, "decidedAt");
  }

  /**
   * One step of the decision order.
   *
   * @param phase the step
   * @param notes what the step found, in order; for an unreached step a single note saying so
   * @param reached whether the pipeline got to this step
   */
  public record Step(Phase phase, List<String> notes, boolean reached) {
    public Step {
      Objects.requireNonNull(phase, "phase");
      notes = List.copyOf(notes);
    }

    /** The spec's step number. */
    public int step() {
      return phase.step();
    }
  }

  /** {@code allow} or {@code deny}. */
  public String outcome() {
    return decision.outcome();
  }

  /** The HTTP status the client would receive. */
  public int status() {
    return decision.response().status();
  }

  /** The deny reason, or {@code null} for an allow. */
  public @Nullable Reason reason() {
    return decision instanceof Decision.Deny d ? d.reason() : null;
  }

  /** For a dry-run allow, the reason it would have been denied for; otherwise {@code null}. */
  public @Nullable Reason dryRunReason() {
    return decision instanceof Decision.Allow a ? a.dryRunReason() : null;
  }

  /** The step with this phase. */
  public Step step(Phase phase) {
    return steps.get(phase.ordinal());
  }
}
