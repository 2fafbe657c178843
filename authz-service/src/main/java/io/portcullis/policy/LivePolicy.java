package io.portcullis.policy;

import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.MeterRegistry;
import io.portcullis.metrics.MetricNames;
import java.nio.file.Path;
import java.time.Instant;
import java.util.Collections;
import java.util.List;
import java.util.Objects;
import java.util.Optional;
import java.util.SortedSet;
import java.util.TreeSet;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.Predicate;
import java.util.function.Supplier;
import org.jspecify.annotations.Nullable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The policy the service runs now, swapped atomically on reload.
 *
 * <p>{@link #get()} is a single volatile read and never blocks: the decision pipeline calls it per
 * request. {@link #reload()} loads the file again on the caller's thread (an admin call, the {@link
 * PolicyWatcher}, a SIGHUP), and swaps only if the new policy is valid; otherwise the last good
 * policy stays and the errors are kept for {@link #status()}. Every reload is counted in {@code
 * portcullis_policy_reloads_total{result=success|error}} (when a registry is given) and logged: a
 * failed reload logs every problem as {@code file:line:column: field: message}. Reloads are
 * serialized; {@code get}, {@code status} and {@code dependencies} are safe from any thread.
 */
public final class LivePolicy implements Supplier<Policy> {
  private static final Logger log = LoggerFactory.getLogger(LivePolicy.class);

  private final PolicyLoader loader;
  private final Path file;
  private final AtomicReference<State> state;
  private final @Nullable Counter successes;
  private final @Nullable Counter errors;

  /**
   * Everything {@link #status()} and {@link #dependencies()} report, swapped as one value.
   *
   * @param schemaFiles the schema files of the running policy
   * @param lastAttempt the schema files the last load read or tried to read
   */
  private record State(
      Policy policy,
      SortedSet<Path> schemaFiles,
      List<PolicyError> lastErrors,
      boolean lastReloadOk,
      SortedSet<Path> lastAttempt) {}

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

  private LivePolicy(
      PolicyLoader loader, Path file, LoadResult.Loaded initial, @Nullable MeterRegistry registry) {
    this.loader = Objects.requireNonNull(loader, "loader");
    this.file = Objects.requireNonNull(file, "file");
    this.state =
        new AtomicReference<>(
            new State(
                initial.policy(),
                initial.schemaFiles(),
                initial.warnings(),
                true,
                initial.schemaFiles()));
    this.successes = registry == null ? null : reloads(registry, "success");
    this.errors = registry == null ? null : reloads(registry, "error");
  }

  private static Counter reloads(MeterRegistry registry, String result) {
    return Counter.builder(MetricNames.POLICY_RELOADS)
        .description("Policy reloads by result")
        .tag(MetricNames.TAG_RESULT, result)
        .register(registry);
  }

  /**
   * Starts from a policy already loaded from {@code file} (the caller decides what an invalid
   * policy at start-up means: usually, print the errors and exit). Reloads are logged, not counted.
   */
  public static LivePolicy start(PolicyLoader loader, Path file, LoadResult.Loaded initial) {
    return new LivePolicy(loader, file, initial, null);
  }

  /**
   * Like {@link #start(PolicyLoader, Path, LoadResult.Loaded)}, and counts every reload in {@link
   * MetricNames#POLICY_RELOADS} with tag {@code result} = {@code success} or {@code error} (both
   * registered at once, so dashboards see zeros).
   */
  public static LivePolicy start(
      PolicyLoader loader, Path file, LoadResult.Loaded initial, MeterRegistry registry) {
    return new LivePolicy(loader, file, initial, Objects.requireNonNull(registry, "registry"));
  }

  /** The current policy. Never {@code null}; never blocks. */
  @Override
  public Policy get() {
    return state.get().policy();
  }

  /** The policy file, as given. */
  public Path file() {
    return file;
  }

  /**
   * Every file whose change can change what {@link #reload()} produces: the policy file, the schema
   * files of the running policy, and the schema files the last reload read or tried to read (a
   * schema the policy names but that does not exist yet included). In lexical order of paths, the
   * policy file first.
   */
  public List<Path> dependencies() {
    State s = state.get();
    SortedSet<Path> schemas = new TreeSet<>(s.schemaFiles());
    schemas.addAll(s.lastAttempt());
    schemas.remove(file);
    List<Path> all = new java.util.ArrayList<>(schemas.size() + 1);
    all.add(file);
    all.addAll(schemas);
    return Collections.unmodifiableList(all);
  }

  /**
   * Loads the file again; swaps to the new policy if it is valid, otherwise keeps the current one.
   * Counts and logs the outcome.
   *
   * @return what the load produced (errors are also kept for {@link #status()})
   */
  public synchronized LoadResult reload() {
    return reload(loaded -> true).orElseThrow();
  }

  /**
   * Like {@link #reload()}, but a valid policy is swapped in only if {@code expected} accepts it
   * (the {@link PolicyWatcher} checks that the load read exactly the bytes it saw settle). A valid
   * policy it refuses changes nothing the service reports — not the running policy, not {@link
   * #status()}, no count — except that {@link #dependencies()} gains the schema files that load
   * read, so that their changes are watched too.
   *
   * @return what the load produced, or empty when {@code expected} refused it
   */
  synchronized Optional<LoadResult> reload(Predicate<LoadResult.Loaded> expected) {
    LoadResult result = loader.load(file);
    State current = state.get();
    if (result instanceof LoadResult.Loaded loaded && !expected.test(loaded)) {
      SortedSet<Path> attempted = new TreeSet<>(current.lastAttempt());
      attempted.addAll(loaded.schemaFiles());
      state.set(
          new State(
              current.policy(),
              current.schemaFiles(),
              current.lastErrors(),
              current.lastReloadOk(),
              attempted));
      log.info("policy files under {} changed while being loaded; not swapped", file);
      return Optional.empty();
    }
    switch (result) {
      case LoadResult.Loaded loaded -> {
        state.set(
            new State(
                loaded.policy(),
                loaded.schemaFiles(),
                loaded.warnings(),
                true,
                loaded.schemaFiles()));
        if (successes != null) {
          successes.increment();
        }
        log.info(
            "policy reloaded from {}: version {} (was {}), {} warning(s)",
            file,
            loaded.policy().version(),
            current.policy().version(),
            loaded.warnings().size());
        for (PolicyError w : loaded.warnings()) {
          log.warn("{}", w.format());
        }
      }
      case LoadResult.Invalid invalid -> {
        state.set(
            new State(
                current.policy(),
                current.schemaFiles(),
                invalid.errors(),
                false,
                invalid.schemaFiles()));
        if (errors != null) {
          errors.increment();
        }
        long count = invalid.errors().stream().filter(PolicyError::isError).count();
        log.error(
            "policy reload from {} failed with {} error(s); still running version {}",
            file,
            count,
            current.policy().version());
        for (PolicyError e : invalid.errors()) {
          if (e.isError()) {
            log.error("{}", e.format());
          } else {
            log.warn("{}", e.format());
          }
        }
      }
    }
    return Optional.of(result);
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
