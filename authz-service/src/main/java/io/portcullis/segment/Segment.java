package io.portcullis.segment;

import io.portcullis.authz.Mode;
import io.portcullis.authz.Rule;
import io.portcullis.limit.LimitDefinition;
import java.util.List;
import java.util.Objects;

/**
 * A compiled segment: who falls into it, what guards it, what its callers may do, and how much.
 *
 * @param name unique in the policy
 * @param match the conditions that put a request in this segment
 * @param guards {@code require_tls}, {@code network}, {@code geo}
 * @param rules in policy order
 * @param limits limits on every allowed request of the segment
 * @param mode enforce, or dry-run (every would-be deny of steps 5-8 becomes an allow)
 */
public record Segment(
    String name,
    SegmentMatch match,
    Guards guards,
    List<Rule> rules,
    List<LimitDefinition> limits,
    Mode mode) {

  public Segment {
    Objects.requireNonNull(name, "name");
    Objects.requireNonNull(match, "match");
    Objects.requireNonNull(guards, "guards");
    rules = List.copyOf(rules);
    limits = List.copyOf(limits);
    Objects.requireNonNull(mode, "mode");
  }
}
