package io.portcullis.decision;

import org.jspecify.annotations.Nullable;

/**
 * The outcome of one authorization decision: a value, never an exception. Every decision, allow or
 * deny, produces one audit record.
 */
public sealed interface Decision permits Decision.Allow, Decision.Deny {

  DecisionContext context();

  ResponsePlan response();

  /** {@code allow} or {@code deny}, as in audit records and metrics. */
  String outcome();

  /**
   * The request may proceed.
   *
   * @param dryRunReason when a dry-run segment or rule waived a deny, the reason it would have been
   *     denied for; otherwise {@code null}
   */
  record Allow(DecisionContext context, ResponsePlan response, @Nullable Reason dryRunReason)
      implements Decision {
    @Override
    public String outcome() {
      return "allow";
    }
  }

  /**
   * The request is refused.
   *
   * @param reason the reason code
   * @param detail why, for operators (audit and explain); never shown to the client and never a
   *     credential
   */
  record Deny(DecisionContext context, ResponsePlan response, Reason reason, String detail)
      implements Decision {
    @Override
    public String outcome() {
      return "deny";
    }
  }
}
