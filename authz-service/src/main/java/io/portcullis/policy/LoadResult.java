package io.portcullis.policy;

import java.util.List;
import java.util.Objects;

/** What {@link PolicyLoader#load} produced: a policy, or the reasons there is none. */
public sealed interface LoadResult permits LoadResult.Loaded, LoadResult.Invalid {

  /**
   * The policy is valid and compiled.
   *
   * @param policy the compiled policy
   * @param warnings problems that do not prevent loading, by position
   */
  record Loaded(Policy policy, List<PolicyError> warnings) implements LoadResult {
    public Loaded {
      Objects.requireNonNull(policy, "policy");
      warnings = List.copyOf(warnings);
    }
  }

  /**
   * The policy is invalid and was not compiled.
   *
   * @param errors every problem found, by position: at least one error, and the warnings too
   */
  record Invalid(List<PolicyError> errors) implements LoadResult {
    public Invalid {
      errors = List.copyOf(errors);
    }
  }
}
