package io.portcullis.policy;

import static java.nio.charset.StandardCharsets.UTF_8;
import static java.nio.file.StandardWatchEventKinds.ENTRY_CREATE;
import static java.nio.file.StandardWatchEventKinds.ENTRY_DELETE;
import static java.nio.file.StandardWatchEventKinds.ENTRY_MODIFY;

import java.io.IOException;
import java.io.InputStream;
import java.nio.file.ClosedWatchServiceException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.WatchKey;
import java.nio.file.WatchService;
import java.time.Duration;
import java.util.HashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.Set;
import java.util.SortedMap;
import java.util.TreeMap;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import java.util.function.LongSupplier;
import org.jspecify.annotations.Nullable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Reloads a {@link LivePolicy} when the policy file or a schema file it depends on changes on disk.
 *
 * <p>Design note. Change detection has two sources, and one arbiter:
 *
 * <ul>
 *   <li><b>Directory events</b> ({@link WatchService}, inotify on Linux): the directories of every
 *       {@linkplain LivePolicy#dependencies() dependency} are watched, and so is the directory of
 *       each dependency's real path when it is a symbolic link to another directory. Watching
 *       directories rather than files is what catches editors that save by writing a temporary file
 *       and renaming it over the original (vim, IntelliJ "safe write"), and Kubernetes ConfigMap
 *       volumes, where {@code policy.yaml} is a symlink through {@code ..data} and an update
 *       atomically swaps the {@code ..data} symlink (an event in the watched directory, never one
 *       on the file itself). Events are debounced: a burst (an editor's write, rename and chmod) is
 *       checked once, {@code debounce} after its last event, and at most {@code 5 x debounce} after
 *       its first.
 *   <li><b>Polling</b> every {@code pollInterval}: the fallback for file systems without events
 *       (NFS, some container overlays) and for swaps the watch registrations no longer see; each
 *       poll also re-registers directories that disappeared and came back.
 *   <li><b>The content fingerprint decides.</b> A check reads every dependency and hashes it the
 *       way {@link PolicyLoader} computes the policy version; it reloads only when the fingerprint
 *       differs from the last one loaded or tried. So unrelated files in the same directory, or a
 *       touch without a change, never reload, and an invalid edit is tried once, not on every poll.
 *       Right after a successful reload the fingerprint is the new version, so a change made while
 *       the reload was reading is noticed by the next check.
 *   <li><b>Only settled content loads.</b> A file written in place can be read half-written, and a
 *       prefix of a policy often still parses (everything but a final deny rule). So new content is
 *       loaded only once two checks, at least {@code min(debounce, pollInterval)} apart, have read
 *       the same fingerprint; a check that sees new content checks again that much later. And the
 *       load must have read exactly those bytes: its version is compared with the one the settled
 *       bytes give, and if the files moved during the load nothing is swapped and the watcher waits
 *       for them to settle again. A writer that pauses longer than that mid-write can still be
 *       caught; replacing the file by an atomic rename is the safe way to update.
 * </ul>
 *
 * <p>Reloads run on the watcher's own single thread, never on a request thread; {@link
 * #requestReload()} (SIGHUP) queues a reload there even when nothing changed. Limitation: a file
 * reached only through {@code $ref} from a schema that failed to compile is not known to the
 * watcher until the policy loads again; save the policy file, send SIGHUP or {@code POST
 * /admin/policy/reload} after creating it.
 *
 * <p>Thread-safe. {@link #close()} stops both threads.
 */
public final class PolicyWatcher implements AutoCloseable {
  private static final Logger log = LoggerFactory.getLogger(PolicyWatcher.class);

  /** Default quiet period after the last event of a burst. */
  public static final Duration DEFAULT_DEBOUNCE = Duration.ofMillis(250);

  /** Default interval of the content poll. */
  public static final Duration DEFAULT_POLL_INTERVAL = Duration.ofSeconds(5);

  private final LivePolicy live;
  private final long debounceNanos;
  private final long maxDelayNanos;
  private final long settleNanos;
  private final Duration pollInterval;
  private final LongSupplier nanoTime;
  private final WatchService watchService;
  private final ScheduledExecutorService executor;
  private final Thread eventThread;
  private final Map<Path, WatchKey> keys = new HashMap<>();

  // Guarded by this: the pending debounced check and when its burst began.
  private @Nullable ScheduledFuture<?> pending;
  private long burstStart;

  // Set before the executor starts, then confined to the executor thread.
  private @Nullable String lastFingerprint;

  // Confined to the executor thread: content that differs from what was last loaded or tried,
  // seen first at candidateSince, and the check that will look again once it may have settled.
  private @Nullable Snapshot candidate;
  private long candidateSince;
  private @Nullable ScheduledFuture<?> settleCheck;

  /** Runs when a settled load returns, before its outcome is looked at (tests: a write). */
  volatile Runnable afterSettledLoad = () -> {};

  /** Runs after each scheduled settle re-check (tests: time passing before the next). */
  volatile Runnable afterSettleCheck = () -> {};

  private PolicyWatcher(Builder b) throws IOException {
    this.live = b.live;
    this.debounceNanos = b.debounce.toNanos();
    this.maxDelayNanos = 5 * debounceNanos;
    this.settleNanos = Math.min(debounceNanos, b.pollInterval.toNanos());
    this.pollInterval = b.pollInterval;
    this.nanoTime = b.nanoTime;
    Path dir = b.live.file().toAbsolutePath().getParent();
    this.watchService =
        Objects.requireNonNull(dir, "policy directory").getFileSystem().newWatchService();
    this.executor =
        Executors.newSingleThreadScheduledExecutor(
            r -> {
              Thread t = new Thread(r, "policy-reload");
              t.setDaemon(true);
              return t;
            });
    this.eventThread = new Thread(this::receiveEvents, "policy-watch");
    eventThread.setDaemon(true);
  }

  public static Builder builder(LivePolicy live) {
    return new Builder(live);
  }

  private PolicyWatcher begin() {
    // On the caller's thread, before any task is submitted (submission publishes the state to the
    // executor thread): once start() returns, every later change is seen. The running version is
    // the fingerprint of what was loaded, so a change made between the initial load and now is
    // reloaded by the first check.
    LivePolicy.Status s = live.status();
    lastFingerprint = s.lastReloadOk() ? s.version() : fingerprint(live.dependencies());
    register();
    executor.scheduleWithFixedDelay(
        this::poll, pollInterval.toNanos(), pollInterval.toNanos(), TimeUnit.NANOSECONDS);
    eventThread.start();
    log.info(
        "watching {} for policy changes (poll every {})",
        live.file().toAbsolutePath().getParent(),
        pollInterval);
    return this;
  }

  /**
   * Queues a reload on the watcher's thread, whether or not anything changed (SIGHUP). Returns at
   * once.
   */
  public void requestReload() {
    executor.execute(
        () -> {
          try {
            reload();
          } catch (Throwable e) {
            log.error("policy reload failed unexpectedly", e);
          }
        });
  }

  @Override
  public void close() {
    executor.shutdownNow();
    try {
      watchService.close();
    } catch (IOException e) {
      log.warn("closing the policy watch service failed: {}", e.toString());
    }
    eventThread.interrupt();
  }

  // ---------------------------------------------------------------- events (policy-watch thread)

  private void receiveEvents() {
    while (true) {
      WatchKey key;
      try {
        key = watchService.take();
      } catch (ClosedWatchServiceException | InterruptedException e) {
        return;
      }
      key.pollEvents(); // which file changed does not matter: the fingerprint decides
      if (!key.reset()) {
        synchronized (keys) {
          keys.values().remove(key);
        }
      }
      onEvent();
    }
  }

  private synchronized void onEvent() {
    long now = nanoTime.getAsLong();
    if (pending == null || pending.isDone()) {
      burstStart = now;
    } else if (now - burstStart >= maxDelayNanos) {
      return; // a long burst: let the pending check run now, the next event starts a new one
    } else {
      pending.cancel(false);
    }
    try {
      pending = executor.schedule(this::check, debounceNanos, TimeUnit.NANOSECONDS);
    } catch (java.util.concurrent.RejectedExecutionException e) {
      // closed
    }
  }

  // ---------------------------------------------------------------- checks (policy-reload thread)

  /**
   * The periodic task. Catches everything, errors included: anything escaping would cancel every
   * later poll ({@link ScheduledExecutorService#scheduleWithFixedDelay}) and the watcher would
   * silently stop.
   */
  private void poll() {
    try {
      register();
      check();
    } catch (Throwable e) {
      log.error("policy poll failed unexpectedly; polling goes on", e);
    }
  }

  private void check() {
    try {
      Snapshot now = Snapshot.read(live.dependencies());
      if (now.fingerprint().equals(lastFingerprint)) {
        candidate = null;
        return;
      }
      LivePolicy.Status s = live.status();
      if (s.lastReloadOk() && now.fingerprint().equals(s.version())) {
        lastFingerprint = now.fingerprint(); // someone (admin, SIGHUP) already reloaded this
        candidate = null;
        return;
      }
      long t = nanoTime.getAsLong();
      if (candidate == null || !candidate.fingerprint().equals(now.fingerprint())) {
        candidate = now; // new content: it may still be being written
        candidateSince = t;
        checkAgainWhenSettled();
        return;
      }
      if (t - candidateSince < settleNanos) {
        checkAgainWhenSettled();
        return;
      }
      candidate = null;
      reloadSettled(now);
    } catch (Throwable e) {
      log.error("policy check failed unexpectedly", e);
    }
  }

  /** Loads content that has settled, and swaps it in only if the load read exactly that. */
  private void reloadSettled(Snapshot settled) {
    Optional<LoadResult> r =
        live.reload(loaded -> loaded.policy().version().equals(settled.version(loaded)));
    afterSettledLoad.run();
    if (r.isEmpty()) {
      checkAgainWhenSettled(); // it moved during the load: wait for it to settle again
      return;
    }
    if (r.get() instanceof LoadResult.Invalid) {
      // Remember the bytes that settled, not a re-read: if the files changed while the load ran,
      // the next check sees a new fingerprint and loads again instead of taking the new content
      // for the one that failed.
      lastFingerprint = settled.fingerprint();
      register();
      return;
    }
    loaded(r.get());
  }

  private void reload() {
    candidate = null;
    loaded(live.reload());
  }

  private void loaded(LoadResult r) {
    lastFingerprint =
        r instanceof LoadResult.Loaded l ? l.policy().version() : fingerprint(live.dependencies());
    register();
  }

  /** The scheduled re-check: no longer pending once it runs, so it can schedule the next one. */
  private void runSettleCheck() {
    settleCheck = null;
    check();
    afterSettleCheck.run();
  }

  private void checkAgainWhenSettled() {
    if (settleCheck != null && !settleCheck.isDone()) {
      return;
    }
    try {
      settleCheck = executor.schedule(this::runSettleCheck, settleNanos, TimeUnit.NANOSECONDS);
    } catch (java.util.concurrent.RejectedExecutionException e) {
      // closed
    }
  }

  /** Watches the directories of the current dependencies, and only those. */
  private void register() {
    Set<Path> dirs = new LinkedHashSet<>();
    for (Path f : live.dependencies()) {
      Path abs = f.toAbsolutePath().normalize();
      addParent(dirs, abs);
      try {
        Path real = abs.toRealPath();
        if (!real.equals(abs)) {
          addParent(dirs, real);
        }
      } catch (IOException e) {
        // Missing now: its directory is watched, and the poll notices when it appears.
      }
    }
    synchronized (keys) {
      keys.entrySet()
          .removeIf(
              e -> {
                if (!dirs.contains(e.getKey()) || !e.getValue().isValid()) {
                  e.getValue().cancel();
                  return true;
                }
                return false;
              });
      for (Path dir : dirs) {
        if (keys.containsKey(dir) || !Files.isDirectory(dir)) {
          continue;
        }
        try {
          keys.put(dir, dir.register(watchService, ENTRY_CREATE, ENTRY_MODIFY, ENTRY_DELETE));
        } catch (ClosedWatchServiceException e) {
          return;
        } catch (IOException e) {
          log.warn("cannot watch {} ({}); relying on the poll", dir, e.toString());
        }
      }
    }
  }

  private static void addParent(Set<Path> dirs, Path file) {
    Path parent = file.getParent();
    if (parent != null) {
      dirs.add(parent);
    }
  }

  /**
   * What {@link PolicyLoader} would compute as the version if the files load: the policy bytes,
   * then each schema file's bytes in path order. A missing file contributes nothing (so its
   * appearance or disappearance changes the fingerprint).
   */
  static String fingerprint(List<Path> dependencies) {
    return Snapshot.read(dependencies).fingerprint();
  }

  /**
   * The dependencies' content as one check read it.
   *
   * @param policy the policy file's bytes
   * @param schemas each existing schema file's bytes, in path order
   * @param fingerprint {@link #fingerprint} of the above
   */
  private record Snapshot(byte[] policy, SortedMap<Path, byte[]> schemas, String fingerprint) {
    static Snapshot read(List<Path> dependencies) {
      byte[] policy = PolicyWatcher.read(dependencies.getFirst());
      SortedMap<Path, byte[]> schemas = new TreeMap<>();
      for (Path p : dependencies.subList(1, dependencies.size())) {
        byte[] b = PolicyWatcher.read(p);
        if (b.length > 0 || Files.exists(p)) {
          schemas.put(p, b);
        }
      }
      return new Snapshot(policy, schemas, PolicyLoader.version(policy, schemas));
    }

    /**
     * The version {@code loaded} has if it was compiled from exactly these bytes; {@code null} if
     * it read a schema file this snapshot did not.
     */
    @Nullable String version(LoadResult.Loaded loaded) {
      SortedMap<Path, byte[]> used = new TreeMap<>();
      for (Path p : loaded.schemaFiles()) {
        byte[] b = schemas.get(p);
        if (b == null) {
          return null;
        }
        used.put(p, b);
      }
      return PolicyLoader.version(policy, used);
    }
  }

  /**
   * The file's bytes; for what cannot be loaded anyway, a short stand-in. Reads regular files only
   * (a named pipe would block this thread, and with it every later check, until someone writes; a
   * device such as {@code /dev/zero} reports size 0 and never ends), and never more than the cap,
   * whatever the size claims.
   */
  private static byte[] read(Path file) {
    try {
      if (!Files.isRegularFile(file)) {
        return Files.exists(file) ? "not a regular file".getBytes(UTF_8) : new byte[0];
      }
      byte[] bytes;
      try (InputStream in = Files.newInputStream(file)) {
        bytes = in.readNBytes(PolicyLoader.MAX_FILE_BYTES + 1);
      }
      if (bytes.length > PolicyLoader.MAX_FILE_BYTES) {
        // Too large to load anyway; the size stands in for the content.
        return ("too large: " + Files.size(file)).getBytes(UTF_8);
      }
      return bytes;
    } catch (NoSuchFileException e) {
      return new byte[0];
    } catch (IOException e) {
      return ("unreadable: " + e.getClass().getSimpleName()).getBytes(UTF_8);
    }
  }

  /** Configures a {@link PolicyWatcher}; not thread-safe. */
  public static final class Builder {
    private final LivePolicy live;
    private Duration debounce = DEFAULT_DEBOUNCE;
    private Duration pollInterval = DEFAULT_POLL_INTERVAL;
    private LongSupplier nanoTime = System::nanoTime;

    private Builder(LivePolicy live) {
      this.live = Objects.requireNonNull(live, "live");
    }

    /** Quiet period after the last event of a burst before checking (default 250 ms). */
    public Builder debounce(Duration debounce) {
      if (debounce.isNegative()) {
        throw new IllegalArgumentException("debounce must not be negative");
      }
      this.debounce = debounce;
      return this;
    }

    /** How often the files are checked without an event (default 5 s). */
    public Builder pollInterval(Duration pollInterval) {
      if (pollInterval.isNegative() || pollInterval.isZero()) {
        throw new IllegalArgumentException("pollInterval must be positive");
      }
      this.pollInterval = pollInterval;
      return this;
    }

    /** The monotonic clock that bounds a debounced burst (tests may pass a fake). */
    public Builder nanoTime(LongSupplier nanoTime) {
      this.nanoTime = Objects.requireNonNull(nanoTime, "nanoTime");
      return this;
    }

    /**
     * Starts watching: registers the directories, starts the event thread and the poll.
     *
     * @throws IOException when the file system offers no watch service
     */
    public PolicyWatcher start() throws IOException {
      return new PolicyWatcher(this).begin();
    }
  }
}
