package io.portcullis.authz;

import io.portcullis.decision.Reason;
import org.jspecify.annotations.Nullable;

/** What step 6 decided for a segment's rules. */
public sealed interface RuleOutcome permits RuleOutcome.Allowed, RuleOutcome.Denied {

  /**
   * An allow rule admits the request.
   *
   * @param rule the allowing rule (its body schema and limits apply next)
   * @param dryRunReason when a dry-run rule's deny was waived on the way, that deny's reason
   * @param dryRunRule the dry-run rule whose deny was waived
   */
  record Allowed(Rule rule, @Nullable Reason dryRunReason, @Nullable Rule dryRunRule)
      implements RuleOutcome {}

  /**
   * The rules refuse the request.
   *
   * @param reason {@code denied_by_rule}, {@code insufficient_permissions} or {@code
   *     no_matching_rule}
   * @param rule the deny rule, or the first applicable allow rule whose conditions failed
   * @param detail why, for traces and audit
   */
  record Denied(Reason reason, @Nullable Rule rule, String detail) implements RuleOutcome {}
}
