package io.portcullis.policy;

import java.nio.file.Path;
import java.util.List;
import java.util.Objects;
import java.util.Set;
import java.util.SortedSet;
import java.util.TreeSet;

/** What {@link PolicyLoader#load} produced: a policy, or the reasons there is none. */
public sealed interface LoadResult permits LoadResult.Loaded, LoadResult.Invalid {

  /**
   * The schema files this load read or tried to read (absolute, normalized), besides the policy
   * file itself: what a file watcher must watch to notice that loading again would give another
   * result.
   */
  SortedSet<Path> schemaFiles();

  /**
   * The policy is valid and compiled.
   *
   * @param policy the compiled policy
   * @param warnings problems that do not prevent loading, by position
   * @param schemaFiles every schema file the policy's version hashes (the {@code body_schema} files
   *     and what they reference by {@code $ref})
   */
  record Loaded(Policy policy, List<PolicyError> warnings, SortedSet<Path> schemaFiles)
      implements LoadResult {
    public Loaded {
      Objects.requireNonNull(policy, "policy");
      warnings = List.copyOf(warnings);
      schemaFiles = sortedCopy(schemaFiles);
    }

    /** A loaded policy that depends on no schema file. */
    public Loaded(Policy policy, List<PolicyError> warnings) {
      this(policy, warnings, new TreeSet<>());
    }
  }

  /**
   * The policy is invalid and was not compiled.
   *
   * @param errors every problem found, by position: at least one error, and the warnings too
   * @param schemaFiles the schema files the load read or tried to read, including missing ones
   */
  record Invalid(List<PolicyError> errors, SortedSet<Path> schemaFiles) implements LoadResult {
    public Invalid {
      errors = List.copyOf(errors);
      schemaFiles = sortedCopy(schemaFiles);
    }

    /** An invalid policy that got as far as no schema file. */
    public Invalid(List<PolicyError> errors) {
      this(errors, new TreeSet<>());
    }
  }

  private static SortedSet<Path> sortedCopy(Set<Path> files) {
    return java.util.Collections.unmodifiableSortedSet(new TreeSet<>(files));
  }
}
