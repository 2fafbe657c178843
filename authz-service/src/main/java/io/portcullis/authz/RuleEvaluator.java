package io.portcullis.authz;

import io.portcullis.decision.Reason;
import io.portcullis.identity.Subject;
import io.portcullis.request.HttpMethod;
import java.util.ArrayList;
import java.util.List;

/**
 * Step 6 of the decision order over one segment's rules.
 *
 * <ol>
 *   <li>A rule applies when its methods and paths match.
 *   <li>Any applicable enforced deny rule denies ({@code denied_by_rule}), wherever it stands.
 *   <li>Otherwise the first applicable allow rule whose conditions hold allows.
 *   <li>Otherwise {@code insufficient_permissions} if an allow rule applied, else {@code
 *       no_matching_rule}.
 * </ol>
 *
 * <p>Dry-run rules: an applicable dry-run deny rule does not deny; evaluation continues as if it
 * were absent and an eventual allow carries {@code dry_run_reason: denied_by_rule}. Dry-run allow
 * rules decide only where no enforced allow rule applies: an enforced allow rule that applies
 * decides, allow or deny, whatever dry-run allow rules say (adding a dry-run rule beside it changes
 * nothing). Where none applies, the first dry-run allow rule whose conditions hold allows (its body
 * schema and limits then run in dry-run), and otherwise an applicable dry-run allow rule whose
 * conditions fail allows with {@code dry_run_reason: insufficient_permissions}, so tightening a
 * rule can be rolled out. An enforced deny always wins over a dry-run waiver.
 *
 * <p>Stateless and allocation-free apart from the outcome.
 */
public final class RuleEvaluator {
  private RuleEvaluator() {}

  /**
   * What one rule finds for this request, on its own, for explain: whether it applies (method,
   * paths) and, for an allow rule, whether its conditions hold. Not on the hot path.
   */
  public static String describe(Rule rule, Subject subject) {
    StringBuilder b =
        new StringBuilder("rule '")
            .append(rule.name())
            .append("' (")
            .append(rule.effect() == Effect.ALLOW ? "allow" : "deny")
            .append(rule.mode() == Mode.DRY_RUN ? ", dry-run" : "")
            .append("): ");
    if ((rule.methodBits() & subject.method().bit()) == 0) {
      List<String> methods = new ArrayList<>();
      for (HttpMethod m : HttpMethod.values()) {
        if ((rule.methodBits() & m.bit()) != 0) {
          methods.add(m.name());
        }
      }
      return b.append("does not apply: method ")
          .append(subject.method())
          .append(" is not one of ")
          .append(methods)
          .toString();
    }
    PathPattern matched = rule.matchingPattern(subject.path());
    if (matched == null) {
      return b.append("does not apply: path ")
          .append(subject.path().value())
          .append(" matches none of ")
          .append(rule.paths())
          .toString();
    }
    b.append("applies (")
        .append(subject.method())
        .append(' ')
        .append(subject.path().value())
        .append(" matches ")
        .append(matched)
        .append(")");
    if (rule.effect() == Effect.DENY) {
      return b.append(rule.mode() == Mode.DRY_RUN ? ": would deny (dry-run)" : ": denies")
          .toString();
    }
    String unmet = rule.conditions().unmet(subject.identity());
    if (unmet != null) {
      return b.append("; conditions unmet: requires ").append(unmet).toString();
    }
    return b.append(rule.conditions().isEmpty() ? "; no conditions" : "; conditions hold")
        .toString();
  }

  public static RuleOutcome evaluate(List<Rule> rules, Subject subject) {
    Rule allowing = null; // enforced
    Rule dryRunDeny = null;
    Rule firstFailedAllow = null; // enforced
    Rule dryRunAllowing = null;
    Rule firstFailedDryRunAllow = null;
    String firstUnmet = null;
    for (int i = 0, n = rules.size(); i < n; i++) {
      Rule rule = rules.get(i);
      if (rule.effect() == Effect.ALLOW && allowing != null) {
        continue; // already allowed; only deny rules can still change the outcome
      }
      if (!rule.applies(subject.method(), subject.path())) {
        continue;
      }
      if (rule.effect() == Effect.DENY) {
        if (rule.mode() == Mode.ENFORCE) {
          return new RuleOutcome.Denied(
              Reason.DENIED_BY_RULE, rule, "rule '" + rule.name() + "' denies");
        }
        if (dryRunDeny == null) {
          dryRunDeny = rule;
        }
        continue;
      }
      String unmet = rule.conditions().unmet(subject.identity());
      if (rule.mode() == Mode.DRY_RUN) {
        if (unmet == null) {
          if (dryRunAllowing == null) {
            dryRunAllowing = rule;
          }
        } else if (firstFailedDryRunAllow == null) {
          firstFailedDryRunAllow = rule;
        }
      } else if (unmet == null) {
        allowing = rule;
      } else if (firstFailedAllow == null) {
        firstFailedAllow = rule;
        firstUnmet = unmet;
      }
    }
    // An enforced allow rule that applied decides, allow or deny, whatever dry-run allow rules say:
    // its deny stands without them, so it is not theirs to waive, and a dry-run rule listed first
    // must not take its allow (and with it the body schema and limits that run) either. Dry-run
    // allow rules decide only where no enforced allow rule applied.
    if (allowing != null) {
      return allowed(allowing, dryRunDeny);
    }
    if (firstFailedAllow != null) {
      return new RuleOutcome.Denied(
          Reason.INSUFFICIENT_PERMISSIONS,
          firstFailedAllow,
          "rule '" + firstFailedAllow.name() + "' requires " + firstUnmet);
    }
    if (dryRunAllowing != null) {
      return allowed(dryRunAllowing, dryRunDeny);
    }
    if (firstFailedDryRunAllow != null) {
      return new RuleOutcome.Allowed(
          firstFailedDryRunAllow, Reason.INSUFFICIENT_PERMISSIONS, firstFailedDryRunAllow);
    }
    return new RuleOutcome.Denied(Reason.NO_MATCHING_RULE, null, "no rule applies");
  }

  private static RuleOutcome allowed(Rule allowing, Rule dryRunDeny) {
    return dryRunDeny == null
        ? new RuleOutcome.Allowed(allowing, null, null)
        : new RuleOutcome.Allowed(allowing, Reason.DENIED_BY_RULE, dryRunDeny);
  }
}
