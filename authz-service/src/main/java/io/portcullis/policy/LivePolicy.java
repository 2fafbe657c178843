package io.portcullis.policy;

import java.nio.file.Path;
import java.time.Instant;
import java.util.List;
import java.util.Objects;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.Supplier;

/**
 * The policy the service runs now, swapped atomically on reload.
 *
 * <p>{@link #get()} is a single volatile read and never blocks: the decision pipeline calls it per
 * request. {@link #reload()} loads the file again on the caller's thread (an admin call, a file
 * watcher), and swaps only if the new policy is valid; otherwise the last good policy stays and the
 * errors are kept for {@link #status()}. Reloads are serialized; {@code get} and {@code status} are
 * safe from any thread.
 */
public final class LivePolicy implements Supplier<Policy> {
  private final PolicyLoader loader;
  private final Path file;
  private final AtomicReference<State> state;

  /** Everything {@link #status()} reports, swapped as one value. */
  private record State(Policy policy, List<PolicyError> lastErrors, boolean lastReloadOk) {}

  /**
   * Where a live policy stands.
   *
   * @param version the running policy's version
   * @param file the policy file
   * @param loadedAt when the running policy was compiled
   * @param lastErrors the errors (and warnings) of the last reload; the warnings of the running
   *     policy when that reload succeeded
   * @param lastReloadOk whether the last reload (or the initial load) produced the running policy
   */
  public record Status(
      String version,
      String file,
      Instant loadedAt,
      List<PolicyError> lastErrors,
      boolean lastReloadOk) {
    public Status {
      lastErrors = List.copyOf(lastErrors);
    }
  }

  private LivePolicy(PolicyLoader loader, Path file, LoadResult.Loaded initial) {
    this.loader = Objects.requireNonNull(loader, "loader");
    this.file = Objects.requireNonNull(file, "file");
    this.state = new AtomicReference<>(new State(initial.policy(), initial.warnings(), true));
  }

  /**
   * Starts from a policy already loaded from {@code file} (the caller decides what an invalid
   * policy at start-up means: usually, print the errors and exit).
   */
  public static LivePolicy start(PolicyLoader loader, Path file, LoadResult.Loaded initial) {
    return new LivePolicy(loader, file, initial);
  }

  /** The current policy. Never {@code null}; never blocks. */
  @Override
  public Policy get() {
    return state.get().policy();
  }

  /**
   * Loads the file again; swaps to the new policy if it is valid, otherwise keeps the current one.
   *
   * @return what the load produced (errors are also kept for {@link #status()})
   */
  public synchronized LoadResult reload() {
    LoadResult result = loader.load(file);
    State current = state.get();
    switch (result) {
      case LoadResult.Loaded loaded ->
          state.set(new State(loaded.policy(), loaded.warnings(), true));
      case LoadResult.Invalid invalid ->
          state.set(new State(current.policy(), invalid.errors(), false));
    }
    return result;
  }

  /** The running policy's version and the outcome of the last reload. */
  public Status status() {
    State s = state.get();
    return new Status(
        s.policy().version(),
        s.policy().source(),
        s.policy().loadedAt(),
        s.lastErrors(),
        s.lastReloadOk());
  }

  @Override
  public String toString() {
    return "LivePolicy[" + file + ", " + state.get().policy().version() + "]";
  }
}
