package io.portcullis.cli;

import io.portcullis.audit.AuditFilters;
import io.portcullis.audit.AuditJson;
import io.portcullis.audit.AuditStore;
import io.portcullis.audit.ChainEntry;
import io.portcullis.audit.ChainHead;
import io.portcullis.audit.ChainPosition;
import io.portcullis.cli.ExportCheckpoint.Mark;
import io.portcullis.cli.ExportCheckpoint.Position;
import io.portcullis.policy.YamlReader;
import java.io.FileDescriptor;
import java.io.IOException;
import java.io.PrintWriter;
import java.io.SyncFailedException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.BasicFileAttributes;
import java.time.Duration;
import java.time.Instant;
import java.time.InstantSource;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import org.jspecify.annotations.Nullable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;
import sun.misc.Signal;
import sun.misc.SignalHandler;

/**
 * {@code portcullis audit export}: the audit log as a stream of JSON lines on stdout, for a log
 * shipper to forward to a SIEM (an extension of the contract; docs/operations.md "Shipping the
 * audit log to a SIEM").
 *
 * <p>Each line is one record as {@link AuditJson#line} prints it ({@code GET /admin/audit}, {@code
 * audit query --format json}) with its chain fields, except that characters outside ASCII are
 * written as JSON {@code \\uXXXX} escapes: the same JSON value, and no longer at the mercy of the
 * platform's stdout encoding (in a C/POSIX locale Java writes them as {@code ?}). Records of an
 * instance come in {@code seq} order ({@link AuditStore#readChain} says why that order misses
 * nothing that commits later); instances take turns, a batch each.
 *
 * <p>With {@code --checkpoint FILE} ({@link ExportCheckpoint}) each round (a batch of each
 * instance) is written and flushed before the checkpoint moves past it, once per round, so a crash
 * repeats at most one batch per instance (at-least-once; consumers dedupe on {@code instance},
 * {@code seq} and {@code hash}). The checkpoint also keeps the hashes of exported records, so that
 * a chain rewound since (a store restored from a backup, records deleted at its end) is noticed,
 * reported, and exported again from the last exported record the store still holds unchanged. An
 * instance without a checkpoint entry starts at its first record stamped at or after {@code
 * --since}, else at its oldest stored record; records retention deleted before they were exported
 * are reported on stderr. A record whose stored bytes cannot be read is shipped as the line {@code
 * audit query --format json} prints for it (the row's instance, seq, decision_id, time and hashes,
 * and {@code "unreadable":true}) with a warning, and the export goes on: failing on it would stop
 * every later run at the same row.
 */
@Command(
    name = "export",
    description =
        "Stream decision records as JSON lines in chain order, resuming after a checkpoint"
            + " (for log shippers).",
    mixinStandardHelpOptions = true,
    exitCodeListHeading = "%nExit status:%n",
    exitCodeList = {
      "0:everything stored was exported (--follow: stopped by SIGINT or SIGTERM)",
      "1:stdout or the checkpoint could not be written; the checkpoint covers what was flushed",
      "2:invalid arguments, or the checkpoint is unusable (unreadable, not a checkpoint)",
      "3:the store cannot be opened or read",
      "75:another export is using the checkpoint (an overlapping run; try again later)"
    })
final class AuditExportCommand implements Callable<Integer> {
  /** The exit status when stdout or the checkpoint cannot be written. */
  static final int OUTPUT_FAILED = 1;

  /**
   * The exit status when another export holds the checkpoint's lock: {@code EX_TEMPFAIL} of
   * sysexits.h, a temporary condition, so that cron or a shipper can tell a harmless overlap from a
   * misconfiguration (2).
   */
  static final int CHECKPOINT_IN_USE = 75;

  /** The largest {@code --batch}. */
  static final int MAX_BATCH = 10_000;

  @Spec CommandSpec spec;
  @Mixin StoreOptions store = new StoreOptions();

  @Option(
      names = "--checkpoint",
      paramLabel = "FILE",
      description =
          "Continue after the records this file names, and record progress in it after each"
              + " round of batches (created if missing; its directory must exist).")
  @Nullable Path checkpoint;

  @Option(
      names = "--follow",
      description = "After catching up, keep polling for new records until SIGINT or SIGTERM.")
  boolean follow;

  @Option(
      names = "--poll-interval",
      paramLabel = "DURATION",
      defaultValue = "1s",
      description = "How often --follow looks for new records (default ${DEFAULT-VALUE}).")
  String pollInterval = "1s";

  @Option(
      names = "--since",
      paramLabel = "TIME",
      description =
          "Where an instance without a checkpoint entry starts: its first record from this time,"
              + " RFC 3339 or a duration ago (1h, 7d). Default: its oldest stored record.")
  @Nullable String since;

  @Option(
      names = "--batch",
      paramLabel = "N",
      defaultValue = "1000",
      description =
          "Records per read and write of one instance; --follow goes on without waiting while"
              + " batches come back full (default ${DEFAULT-VALUE}).")
  int batch = 1000;

  @Option(
      names = "--leading-newline",
      description =
          "Write an empty line before the first record of the run: when appending to a file, a"
              + " line an earlier run left unfinished (killed, disk full) then stays a line of its"
              + " own instead of swallowing the first record.")
  boolean leadingNewline;

  InstantSource clock = InstantSource.system();

  /**
   * Counted down to stop: the export finishes the batch in hand, saves the checkpoint and exits 0.
   * SIGINT and SIGTERM do it under {@code --follow}; tests do it directly.
   */
  final CountDownLatch stop = new CountDownLatch(1);

  /** Whether {@code --follow} handles SIGINT and SIGTERM (tests stop through {@link #stop}). */
  boolean handleSignals = true;

  /** How {@code --follow} waits between rounds. */
  interface Pause {
    /** Waits {@code poll}; true if the export was stopped meanwhile. */
    boolean await(Duration poll) throws InterruptedException;
  }

  /** Waits for {@link #stop} up to the poll interval; tests replace it. */
  Pause pause = poll -> stop.await(poll.toNanos(), TimeUnit.NANOSECONDS);

  /** Makes what was written to stdout durable; see {@link #syncOutput}. */
  interface OutputSync {
    void sync() throws IOException;
  }

  /**
   * Called after stdout was flushed and before the checkpoint is saved, so that the checkpoint
   * never moves past records a power loss could still take back: by default {@link #syncStdout}.
   * Tests replace it.
   */
  OutputSync syncOutput = AuditExportCommand::syncStdout;

  /** Rounds (a batch of each instance) run so far; for tests. */
  final AtomicLong rounds = new AtomicLong();

  /** Checkpoint saves so far; for tests. */
  final AtomicLong saves = new AtomicLong();

  @Override
  public Integer call() {
    PrintWriter err = spec.commandLine().getErr();
    Duration poll = YamlReader.parseDuration(pollInterval.trim());
    if (poll == null) {
      err.println("--poll-interval: must be a duration such as 500ms, 1s or 1m");
      return AuditCommand.USAGE;
    }
    if (batch < 1 || batch > MAX_BATCH) {
      err.println("--batch: must be an integer from 1 to " + MAX_BATCH);
      return AuditCommand.USAGE;
    }
    Instant start;
    try {
      start = AuditFilters.time("since", since, clock.instant());
    } catch (AuditFilters.InvalidParameter e) {
      err.println("--" + e.getMessage());
      return AuditCommand.USAGE;
    }
    ExportCheckpoint saved = null;
    if (checkpoint != null) {
      try {
        saved = ExportCheckpoint.open(checkpoint);
      } catch (ExportCheckpoint.InUse e) {
        err.println("export not started: the checkpoint " + e.getMessage());
        return CHECKPOINT_IN_USE;
      } catch (ExportCheckpoint.Invalid e) {
        err.println(
            "cannot use the checkpoint "
                + e.getMessage()
                + " (it is left as it is: fix or remove it; the export does not start over on its"
                + " own)");
        return AuditCommand.USAGE;
      }
    }
    ExportCheckpoint cp = saved;
    Runnable restoreSignals = follow && handleSignals ? onSignals(stop) : () -> {};
    try {
      return AuditCommand.withStore(spec, store, s -> new Export(s, cp, poll, start).run());
    } finally {
      restoreSignals.run();
      if (cp != null) {
        try {
          cp.close();
        } catch (IOException e) {
          err.println("releasing the checkpoint lock failed: " + e.getMessage());
        }
      }
    }
  }

  /** One run of the export loop. */
  private final class Export {
    private final AuditStore store;
    private final @Nullable ExportCheckpoint checkpoint;
    private final Duration poll;
    private final @Nullable Instant start;
    private final PrintWriter out = spec.commandLine().getOut();
    private final PrintWriter err = spec.commandLine().getErr();

    /** Where each instance's export stands: what the checkpoint holds. */
    private final Map<String, Position> done;

    /**
     * Instances placed by {@code --since} in this run (no checkpoint entry) that have not exported
     * a record yet: a jump before their first record is where they start, not a loss.
     */
    private final Set<String> fresh = new HashSet<>();

    /** The retention anchor of each instance as last read. */
    private final Map<String, Long> anchors = new HashMap<>();

    /** Whether {@link #done} changed since the checkpoint was saved. */
    private boolean dirty;

    /** Whether this run has written to stdout yet. */
    private boolean outputStarted;

    Export(
        AuditStore store,
        @Nullable ExportCheckpoint checkpoint,
        Duration poll,
        @Nullable Instant start) {
      this.store = store;
      this.checkpoint = checkpoint;
      this.poll = poll;
      this.start = start;
      this.done = new TreeMap<>(checkpoint == null ? Map.of() : checkpoint.positions());
    }

    int run() {
      // Without --follow the export ends at the heads it found at the start: "everything stored
      // now", which ends even while the service keeps appending faster than the export reads.
      List<ChainPosition> chains = store.chains();
      Map<String, Long> end = new HashMap<>();
      chains.forEach(c -> end.put(c.instance(), c.headSeq()));
      while (true) {
        rounds.incrementAndGet();
        boolean backlog = false;
        boolean written = false;
        List<ChainPosition> next = new ArrayList<>();
        for (ChainPosition chain : chains) {
          if (stopped()) {
            break;
          }
          long last = follow ? chain.headSeq() : end.get(chain.instance());
          Step step = step(chain, last);
          if (step == Step.FAILED) {
            if (written) {
              save(); // what the earlier batches of this round flushed
            }
            return OUTPUT_FAILED;
          }
          backlog |= step == Step.FULL;
          written |= step != Step.IDLE;
          if (follow || step != Step.IDLE) {
            next.add(chain);
          }
        }
        // Once per round, not per batch: under steady traffic every batch is small, and saving
        // each (write, fsync, rename, fsync) would run at the disk's fsync rate.
        if (dirty && !save()) {
          return OUTPUT_FAILED;
        }
        if (stopped()) {
          return AuditCommand.OK;
        }
        if (!follow) {
          if (next.isEmpty()) {
            return AuditCommand.OK;
          }
          chains = next;
        } else {
          // A full batch means a backlog: go on at once. Otherwise wait, also when the round
          // exported something, or a writer committing every few ms keeps the loop from ever
          // sleeping.
          if (!backlog && waitForPoll()) {
            return AuditCommand.OK;
          }
          chains = store.chains();
        }
      }
    }

    private enum Step {
      /** A full batch was written: more may follow at once. */
      FULL,
      /** Records were written, fewer than a batch. */
      EXPORTED,
      /** Nothing (more) to export up to the given head. */
      IDLE,
      /** stdout could not be written; the message is printed. */
      FAILED
    }

    /** Exports the next batch of {@code chain}, up to seq {@code last}. */
    private Step step(ChainPosition chain, long last) {
      String instance = chain.instance();
      anchors.put(instance, chain.anchorSeq());
      Position position = done.get(instance);
      if (position == null) {
        position = startOf(chain);
        done.put(instance, position);
        if (start != null) {
          // --since placed it before its first record from then: a jump there is where it starts.
          // At the anchor (no --since) a jump is records missing, reported as such.
          fresh.add(instance);
        }
        dirty = true;
      }
      String rewind = rewind(chain, position);
      if (rewind != null) {
        position = rewound(chain, position, rewind);
      }
      long after = position.seq();
      if (after >= last) {
        return Step.IDLE;
      }
      // Where the last exported record is still stored and its hash known, the read starts with
      // it, to see in the same statement that it is still the record that was exported.
      boolean check = position.hash() != null && after > chain.anchorSeq();
      List<ChainEntry> records =
          store.readChain(instance, check ? after - 1 : after, check ? batch + 1 : batch);
      if (check && !records.isEmpty() && records.get(0).seq() == after) {
        if (records.get(0).hash().equals(position.hash())) {
          records = records.subList(1, records.size());
        } else {
          position =
              rewound(chain, position, "its record seq " + after + " is not the one exported");
          after = position.seq();
          records = store.readChain(instance, after, batch);
        }
      } else if (records.size() > batch) {
        records = records.subList(0, batch);
      }
      if (records.isEmpty() || records.get(0).seq() > last) {
        // What was stored after the position is gone: deleted by retention since it was read (the
        // anchor says how far), or by hand (verify reports that).
        ChainHead anchor = anchorOf(instance);
        long to = records.isEmpty() ? anchor.seq() : records.get(0).seq() - 1;
        if (to > after) {
          if (!fresh.contains(instance)) {
            skipped(instance, after + 1, to);
          }
          done.put(instance, position.advancedTo(to, to == anchor.seq() ? hash(anchor) : null));
          dirty = true;
        }
        return Step.IDLE;
      }
      StringBuilder lines = new StringBuilder(records.size() * 600 + 1);
      if (leadingNewline && !outputStarted) {
        lines.append('\n');
      }
      long expected = after + 1;
      long exported = after;
      String exportedHash = null;
      for (ChainEntry r : records) {
        if (r.seq() > last) {
          break;
        }
        if (r.seq() != expected && !(fresh.contains(instance) && exported == after)) {
          skipped(instance, expected, r.seq() - 1);
        }
        if (!r.readable()) {
          unreadable(instance, r.seq());
        }
        lines.append(ascii(AuditJson.line(r.record()))).append('\n');
        expected = r.seq() + 1;
        exported = r.seq();
        exportedHash = r.hash();
      }
      out.print(lines);
      outputStarted = true;
      if (out.checkError()) { // flushes; true if any write or flush failed (a closed pipe)
        err.println(
            "export stopped: writing to stdout failed; the checkpoint stays before the unflushed"
                + " batch (instance "
                + instance
                + ", seq "
                + (after + 1)
                + ".."
                + exported
                + ")");
        return Step.FAILED;
      }
      done.put(instance, position.advancedTo(exported, exportedHash));
      fresh.remove(instance);
      dirty = true;
      return records.size() == batch ? Step.FULL : Step.EXPORTED;
    }

    /**
     * The position (last seq treated as exported) of an instance the checkpoint does not name:
     * before its first record from {@code --since}, else at its retention anchor.
     */
    private Position startOf(ChainPosition chain) {
      if (start == null) {
        return Position.at(chain.anchorSeq(), hash(chain.anchor()));
      }
      Long first = store.firstSeqAtOrAfter(chain.instance(), start);
      return first == null
          ? Position.at(chain.headSeq(), hash(chain.head()))
          : Position.at(first - 1, null);
    }

    private ChainHead anchorOf(String instance) {
      for (ChainPosition c : store.chains()) {
        if (c.instance().equals(instance)) {
          return c.anchor();
        }
      }
      return ChainHead.GENESIS;
    }

    /**
     * Why {@code chain}, as its row stands, is no longer the chain {@code position} was exported
     * from, or {@code null} if the row shows nothing of the kind: its head is before the last
     * exported record, or its head or anchor is that record with another hash. (A position between
     * them is checked by the read in {@link #step}.)
     */
    private @Nullable String rewind(ChainPosition chain, Position position) {
      long seq = position.seq();
      if (seq > chain.headSeq()) {
        return "the store's head is seq "
            + chain.headSeq()
            + ", before seq "
            + seq
            + " that was exported";
      }
      String hash = position.hash();
      if (hash != null
          && ((seq == chain.headSeq() && !hash.equals(chain.head().hash()))
              || (seq == chain.anchorSeq() && !hash.equals(chain.anchor().hash())))) {
        return "its record seq " + seq + " is not the one exported";
      }
      return null;
    }

    /**
     * Goes back, after {@code why} showed that {@code chain} is not the chain {@code position} was
     * exported from, to the newest earlier exported record the store still holds with the same
     * hash, else to the anchor (so from the oldest stored record), and warns.
     */
    private Position rewound(ChainPosition chain, Position position, String why) {
      String instance = chain.instance();
      Position back = null;
      for (Mark m : position.earlier()) {
        if (m.seq() < chain.anchorSeq()) {
          break; // deleted by retention: cannot be compared
        }
        if (m.seq() <= chain.headSeq() && m.hash().equals(storedHash(chain, m.seq()))) {
          back = position.backTo(m);
          break;
        }
      }
      boolean matched = back != null;
      if (back == null) {
        back = Position.at(chain.anchorSeq(), hash(chain.anchor()));
      }
      err.println(
          "warning: instance "
              + instance
              + ": chain rewound: "
              + why
              + " (restored from a backup, its newest records deleted or rewritten, or another"
              + " store); continuing at seq "
              + (back.seq() + 1)
              + (matched
                  ? ", after the last exported record it still holds unchanged"
                  : ", its oldest stored record: none of the exported records it holds is known"
                      + " unchanged")
              + (back.seq() < Math.min(position.seq(), chain.headSeq())
                  ? "; records seq "
                      + (back.seq() + 1)
                      + ".."
                      + Math.min(position.seq(), chain.headSeq())
                      + " are exported again, with other hashes where they changed (deduplicate on"
                      + " instance, seq and hash)"
                  : ""));
      err.flush();
      done.put(instance, back);
      fresh.remove(instance);
      dirty = true;
      return back;
    }

    /** The hash the store holds for record {@code seq} of {@code chain}, or {@code null}. */
    private @Nullable String storedHash(ChainPosition chain, long seq) {
      if (seq == chain.anchorSeq()) {
        return chain.anchor().hash();
      }
      List<ChainEntry> at = store.readChain(chain.instance(), seq - 1, 1);
      return !at.isEmpty() && at.get(0).seq() == seq ? at.get(0).hash() : null;
    }

    /**
     * Warns that records {@code from..to} of {@code instance} were not and will not be exported.
     */
    private void skipped(String instance, long from, long to) {
      boolean one = from == to;
      String records = one ? "record seq " + from : "records seq " + from + ".." + to;
      String what =
          anchorOf(instance).seq() >= to
              ? (one ? " was" : " were")
                  + " deleted by retention before "
                  + (one ? "it was" : "they were")
                  + " exported"
              : (one ? " is" : " are")
                  + " missing from the store (not deleted by retention: run portcullis audit"
                  + " verify)";
      err.println(
          "warning: instance "
              + instance
              + ": "
              + records
              + what
              + "; continuing at seq "
              + (to + 1));
      err.flush();
    }

    /** Warns that record {@code seq} of {@code instance} cannot be read and is shipped as such. */
    private void unreadable(String instance, long seq) {
      err.println(
          "warning: instance "
              + instance
              + ": record seq "
              + seq
              + " cannot be read (its stored bytes are not a decision record, or one of another"
              + " instance or seq than the row's: run portcullis audit verify); exported as an \"unreadable\" line; continuing at seq "
              + (seq + 1));
      err.flush();
    }

    /** Saves the checkpoint, if there is one; false (and a message) if that failed. */
    private boolean save() {
      if (checkpoint == null) {
        dirty = false;
        return true;
      }
      // What was written must be durable before the checkpoint says so: appended to a file (the
      // cron setup), a round's records may still sit in the page cache when the checkpoint's own
      // fsync makes it durable, and a power loss would then keep the checkpoint and lose them.
      // (Every batch was flushed as it was written: step checks it.)
      try {
        syncOutput.sync();
      } catch (IOException | RuntimeException e) {
        err.println(
            "export stopped: cannot sync stdout to disk: "
                + e.getMessage()
                + "; the checkpoint stays where it was last saved");
        return false;
      }
      // Earlier records retention deleted cannot be compared any more: they go, so the entry of an
      // instance that no longer writes shrinks as retention moves its anchor.
      anchors.forEach(
          (instance, anchor) -> done.computeIfPresent(instance, (i, p) -> p.above(anchor)));
      try {
        checkpoint.save(done);
        saves.incrementAndGet();
        dirty = false;
        return true;
      } catch (IOException | RuntimeException e) {
        err.println(
            "export stopped: cannot write the checkpoint "
                + checkpoint.file()
                + ": "
                + e.getMessage()
                + "; what was written since it was last saved will be exported again");
        return false;
      }
    }

    private boolean stopped() {
      return stop.getCount() == 0;
    }

    /** Waits one poll interval; true if stopped meanwhile. */
    private boolean waitForPoll() {
      try {
        return pause.await(poll);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        return true;
      }
    }
  }

  /**
   * Forces what was written to stdout to disk when stdout is a regular file. A pipe or terminal
   * cannot be synced ({@link SyncFailedException}, ignored): what a shipper reads from the pipe is
   * its to keep. A regular file that cannot be synced (an I/O error) is a failure.
   */
  static void syncStdout() throws IOException {
    try {
      FileDescriptor.out.sync();
    } catch (SyncFailedException e) {
      if (stdoutIsRegularFile()) {
        throw e;
      }
    }
  }

  /** Whether stdout is known to be a regular file (Linux and the BSDs have /dev/stdout). */
  private static boolean stdoutIsRegularFile() {
    try {
      return Files.readAttributes(Path.of("/dev/stdout"), BasicFileAttributes.class)
          .isRegularFile();
    } catch (IOException | RuntimeException e) {
      return false;
    }
  }

  /** The hash of {@code head}, or {@code null} for the genesis (no record, no hash). */
  private static @Nullable String hash(ChainHead head) {
    return head.hash().isEmpty() ? null : head.hash();
  }

  /**
   * {@code json} with every character outside printable ASCII written as a {@code \\uXXXX} escape.
   * Such characters occur only inside JSON strings (the rest of a line is ASCII), where the escape
   * denotes the same character.
   */
  static String ascii(String json) {
    int i = 0;
    while (i < json.length() && json.charAt(i) < 0x7f) {
      i++;
    }
    if (i == json.length()) {
      return json;
    }
    StringBuilder b = new StringBuilder(json.length() + 16).append(json, 0, i);
    for (; i < json.length(); i++) {
      char c = json.charAt(i);
      if (c < 0x7f) {
        b.append(c);
      } else {
        b.append("\\u");
        String hex = Integer.toHexString(c);
        b.append("0".repeat(4 - hex.length())).append(hex);
      }
    }
    return b.toString();
  }

  /**
   * Counts {@code stop} down on SIGINT and SIGTERM, so {@code --follow} ends after the batch in
   * hand with its checkpoint saved and exit status 0 (a JVM shutdown hook could not: the JVM exits
   * with 130 or 143 once the hooks return). A second signal exits at once, as the default would. A
   * signal the process was started with ignored (a background job's SIGINT) stays ignored; where
   * signals cannot be handled (Windows, {@code -Xrs}) the default applies.
   *
   * @return restores the previous handlers
   */
  static Runnable onSignals(CountDownLatch stop) {
    Map<Signal, SignalHandler> previous = new HashMap<>();
    for (String name : List.of("INT", "TERM")) {
      try {
        Signal signal = new Signal(name);
        SignalHandler before =
            Signal.handle(
                signal,
                s -> {
                  if (stop.getCount() == 0) {
                    Runtime.getRuntime().exit(128 + s.getNumber());
                  }
                  stop.countDown();
                });
        if (before == SignalHandler.SIG_IGN) {
          Signal.handle(signal, SignalHandler.SIG_IGN);
        } else {
          previous.put(signal, before);
        }
      } catch (IllegalArgumentException e) {
        // not deliverable to Java here: the default stays
      }
    }
    return () -> previous.forEach(Signal::handle);
  }
}
