package io.portcullis.audit;

import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.DistributionSummary;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.binder.BaseUnits;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import io.portcullis.decision.Decision;
import io.portcullis.metrics.MetricNames;
import io.portcullis.proto.v1.DecisionRecord;
import io.portcullis.store.StoreException;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.time.InstantSource;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.SynchronousQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;
import java.util.concurrent.atomic.LongAdder;
import java.util.concurrent.locks.Condition;
import java.util.concurrent.locks.LockSupport;
import java.util.concurrent.locks.ReentrantLock;
import java.util.function.BiFunction;
import java.util.function.Function;
import org.jspecify.annotations.Nullable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The audit log's writer: takes decisions off the hot path, chains them and stores them in batches,
 * and never loses one it accepted unless a configured limit forces it to (and then counts it).
 *
 * <p>Design note.
 *
 * <ul>
 *   <li><b>Hot path.</b> {@link #append} offers the {@link Decision} itself to a bounded {@link
 *       ArrayBlockingQueue} (no allocation, one short lock: 0.1-0.2 µs per call measured on the
 *       2-core development machine). A full queue drops the decision and counts it ({@code
 *       portcullis_audit_dropped_total}); the first drop is logged at once, later ones in one WARN
 *       at most every 10 s with how many were dropped since.
 *   <li><b>Two writer threads, a pipeline.</b> The <i>linker</i> ({@code portcullis-audit-linker})
 *       drains whatever is queued (up to {@code max_batch}), maps it to records ({@link
 *       DecisionRecords}) and links them into this instance's chain ({@link RecordChain#linked}:
 *       encoding and SHA-256). The <i>store thread</i> ({@code portcullis-audit-writer}) only
 *       appends each batch in one transaction, or journals it. While it writes batch {@code n}, the
 *       linker prepares {@code n+1}; the hand-off is synchronous, so at most one batch is linked
 *       ahead. A batch starts at most once per {@code flush_interval} while the writer keeps up:
 *       the linker lets it gather what arrives until then ({@link #gather}), so a decision waits at
 *       most one interval before its batch is written and commits stay few at any rate; under load
 *       batches grow up to {@code max_batch} and follow each other without a wait (group commit).
 *       Measured on the 2-core development machine (loadtest/RESULTS.md, "Writer throughput into
 *       SQLite"): the linker costs 2-4 µs per record, the store thread 12-16 µs at 50,000
 *       records/s, nearly all of it inside SQLite (inserts and commits), so the store thread bounds
 *       the throughput.
 *   <li><b>Hashes are computed once.</b> A {@link LinkedRecord} carries the canonical bytes its
 *       hash was computed over, and only {@link RecordChain} makes one, so {@link
 *       AuditStore#appendLinked} checks {@code seq} and {@code prev_hash} but does not encode and
 *       hash the record again. Records replayed from the journal come from a file that may have
 *       been edited or damaged: they go through {@link AuditStore#append}, which checks every hash
 *       and refuses a record whose hash does not match; the writer then re-links it (it was never
 *       stored, so nothing committed to its old hash) and the stored chain stays verifiable.
 *   <li><b>One head for what is written.</b> The store thread keeps {@code head}, the last record
 *       stored or journaled. A batch whose first record does not follow it (the linker worked from
 *       a head that moved: a re-link, a replay) is re-linked after it before being written, so the
 *       store and the journal always get one unbroken chain; the linker is then told to wait for
 *       the batches in flight and to continue from {@code head}.
 *   <li><b>Store outage.</b> When an append fails, that batch and every later one go to the {@link
 *       AuditJournal} (fsync per batch): while spilling, the store thread never waits for the
 *       store, so after a crash at most the batches in flight are missing. A store that hangs
 *       instead of failing (a table lock held by another session, a frozen file system, a database
 *       host that stopped answering) is an outage too: every call to the store runs on a thread of
 *       its own ({@link StoreCalls}), and the store thread stops waiting for an append after {@code
 *       store_timeout}, or as soon as the queue is three quarters full while it waits (so decisions
 *       are journaled, not dropped, during a hang shorter than the timeout), and journals that
 *       batch too: its outcome is unknown, which replay handles (below). The call is left running,
 *       and no other is started before it returns. A separate replay thread tries every {@code
 *       retry_interval} to store the journal, oldest first; once it has stored everything up to the
 *       journal's end, it empties the journal and the writer goes back to the store, so records
 *       reach the store in chain order. A commit whose outcome was unknown is replayed safely: the
 *       store skips records it already holds. When the journal reaches {@code journal_max_bytes},
 *       further records are dropped and counted; the store thread's head stays at the last record
 *       kept, and the next kept batch is re-linked after it, so the chain has no holes.
 *   <li><b>Store file gone.</b> A SQLite store's file deleted or replaced while the service has it
 *       open is not an outage to SQLite: its connections go on writing the unlinked file, which is
 *       lost for good when they close. The replay thread checks every {@code 2 s} ({@link
 *       Builder#fileCheckInterval}) that the path still names the file opened ({@link
 *       AuditStore#fileProblem}); once it does not, the writer logs an ERROR (once), sets {@code
 *       portcullis_audit_store_file_missing} and spills to the journal as in an outage, and stops
 *       replaying, until the path names the opened file again (a hard link back) or, as documented,
 *       the service is restarted: the store at the path is then opened (a new, empty one created if
 *       there is none) and the journal replayed into it. Its records continue the lost chain, so a
 *       new store refuses them as diverging and they are re-linked after its head (genesis): the
 *       new store holds one intact chain starting at seq 1.
 *   <li><b>Chain head.</b> On start the head is the journal's last record, else the store's head;
 *       if the store is unreachable then, the writer starts from genesis, and the store's {@link
 *       AppendResult.Diverged} answer makes it re-link records after the true head (records never
 *       stored may be re-linked freely: their hash is a commitment made when they are stored). A
 *       divergence whose head is behind what this writer itself committed means records at the end
 *       of the chain were deleted and the head moved back, which {@code verify} cannot see: it is
 *       logged and counted ({@code portcullis_audit_chain_rewound_total}), then handled alike.
 *   <li><b>Blocked chain.</b> A row after the chain's head that no append wrote (inserted by hand,
 *       or by a second process using this instance id without the chain's lock) would make every
 *       append fail on the chain's unique {@code seq}, however it is re-linked. The store answers
 *       {@link AppendResult.Blocked} instead, and the writer spills to the journal as in an outage,
 *       keeps the row as it is (it may be evidence), says why in an ERROR at most once a minute and
 *       sets {@code portcullis_audit_chain_blocked}; the replay thread keeps trying, so once an
 *       operator has removed the row the journal is stored and the gauge goes back to 0.
 *   <li><b>Shutdown.</b> {@link #close()} returns only after the queue is empty: everything
 *       accepted is stored, or journaled if the store is down. It waits for the store at most
 *       {@code store_timeout} in all, then journals what is left, so a hung store cannot hold a
 *       shutdown until the supervisor's SIGKILL. Call it from the service's shutdown hook
 *       (SIGTERM), after the servers stopped deciding. After {@code kill -9}, what is lost is what
 *       was queued and not yet written: the batch being written, the one linked ahead, and what
 *       arrived meanwhile; the next start replays the journal (a torn last entry is cut, and the
 *       records it held are counted as dropped).
 * </ul>
 *
 * <p>Time: a record's time is its decision's ({@link
 * io.portcullis.decision.DecisionContext#time()}, from the pipeline's injected clock); the writer
 * reads the monotonic clock to pace its batches, and the injected clock ({@link Builder#clock}) to
 * pace its repeated ERRORs. Thread-safe: {@link #append} from any thread; {@link #start} and {@link
 * #close} once each.
 */
public final class AuditWriter implements AuditSink, AutoCloseable {
  private static final Logger log = LoggerFactory.getLogger(AuditWriter.class);

  /** How often the store's file is checked by default: a stat call, nothing more. */
  public static final Duration DEFAULT_FILE_CHECK_INTERVAL = Duration.ofSeconds(2);

  /** Re-link attempts per batch before the store is treated as failing. */
  private static final int MAX_RELINKS = 8;

  private final AuditStore store;
  private final String instance;
  private final AuditSettings settings;
  private final ArrayBlockingQueue<Decision> queue;
  private final Counter written;
  private final Counter dropped;
  private final Counter journaled;
  private final Counter chainRewound;
  private final AtomicInteger chainBlocked = new AtomicInteger();
  private final AtomicInteger storeFileMissing = new AtomicInteger();

  /** How often the replay thread checks that the store's file is still at its path. */
  private final Duration fileCheckInterval;

  /**
   * What happened to the store's file ({@link AuditStore#fileProblem}), while its path does not
   * name the file the store has open; records then go to the journal.
   */
  private volatile @Nullable String fileProblem;

  private final InstantSource clock;
  private final DistributionSummary batchRecords;
  private final Path journalFile;

  /** Where every call to the store runs, so that no writer thread waits for it without a bound. */
  private final StoreCalls calls = new StoreCalls("portcullis-audit-store");

  private final long storeTimeoutNanos;

  /** The queue depth at which the store thread stops waiting for an append: three quarters. */
  private final int highWater;

  /** When {@link #close()} stops waiting for the store ({@link System#nanoTime()}), once set. */
  private volatile long closeBy;

  private volatile boolean closeBySet;

  /** The journal's size, for the gauge (the journal itself is used under {@link #lock}). */
  private final AtomicLong journalBytes = new AtomicLong();

  /** Decisions the full queue dropped since the last WARN about them. */
  private final LongAdder unreportedDrops = new LongAdder();

  /** When the first of {@link #unreportedDrops} was dropped. */
  private final AtomicReference<@Nullable Instant> dropsSince = new AtomicReference<>();

  /** When the WARN about dropped decisions was last logged; {@code null} before the first. */
  private final AtomicReference<@Nullable Instant> dropsReportedAt = new AtomicReference<>();

  /**
   * Hands a linked batch from the linker thread to the store thread. Synchronous: the linker forms
   * its next batch only once the store thread has taken the last one, so at most one batch is
   * linked ahead of the store, and what a kill -9 loses grows by at most one batch write.
   */
  private final SynchronousQueue<List<LinkedRecord>> handoff = new SynchronousQueue<>();

  private final Thread linker;
  private final Thread thread;
  private final ScheduledExecutorService replayer;

  private volatile boolean closing;
  private volatile boolean linkerDone;
  private volatile boolean closed;
  private boolean started;

  /**
   * Guards the journal, the chain head, the switch between store and journal, and the batches in
   * flight between the two writer threads.
   */
  private final ReentrantLock lock = new ReentrantLock();

  /** Signalled when the store thread has written every batch the linker handed it. */
  private final Condition drained = lock.newCondition();

  private @Nullable AuditJournal journal;

  /** The last record stored or journaled: what the next written record must follow. */
  private ChainHead head = ChainHead.GENESIS;

  /** Batches linked but not yet written (stored or journaled). */
  private int inFlight;

  /** Records in the {@link #inFlight} batches. */
  private int inFlightRecords;

  /**
   * Decisions the linker took from the queue and has not linked yet (for the count {@link #close()}
   * logs); written by the linker, and cleared by {@link #link} under the lock.
   */
  private volatile int held;

  /**
   * Set when the store thread had to re-link a batch, so the linker's own head is no longer what
   * the chain will continue from: the linker then waits for the batches in flight and starts over
   * from {@link #head}.
   */
  private boolean linkerStale;

  /** Linker thread only: the last record it linked. */
  private ChainHead linkHead = ChainHead.GENESIS;

  /**
   * The chain head after this writer's last committed append, {@code null} before the first. Set by
   * the store thread or the replay thread, which never append at the same time.
   */
  private volatile @Nullable ChainHead committed;

  private volatile boolean spilling;

  /** When the ERROR about a blocked chain was last logged; {@code null} while not blocked. */
  private volatile @Nullable Instant blockedLoggedAt;

  private long replayPosition;
  private boolean journalFullLogged;

  private AuditWriter(Builder b) {
    this.store = Objects.requireNonNull(b.store, "store");
    this.instance = Objects.requireNonNull(b.instance, "instance");
    this.settings = b.settings;
    this.clock = b.clock;
    this.fileCheckInterval = b.fileCheckInterval;
    this.queue = new ArrayBlockingQueue<>(settings.queueCapacity());
    this.storeTimeoutNanos = settings.storeTimeout().toNanos();
    this.highWater = Math.max(1, (int) (settings.queueCapacity() * 3L / 4));
    MeterRegistry registry = b.registry;
    this.written =
        Counter.builder(MetricNames.AUDIT_WRITTEN)
            .description("Audit records written to the store")
            .register(registry);
    this.dropped =
        Counter.builder(MetricNames.AUDIT_DROPPED)
            .description("Decisions not audited: queue full, journal full, or writer closed")
            .register(registry);
    this.journaled =
        Counter.builder(MetricNames.AUDIT_JOURNALED)
            .description("Audit records spilled to the local journal while the store was down")
            .register(registry);
    this.chainRewound =
        Counter.builder(MetricNames.AUDIT_CHAIN_REWOUND)
            .description(
                "Times the audit store's chain head was found behind records this writer committed")
            .register(registry);
    this.batchRecords =
        DistributionSummary.builder(MetricNames.AUDIT_BATCH_RECORDS)
            .description("Records per batch the audit writer wrote")
            .register(registry);
    Gauge.builder(MetricNames.AUDIT_CHAIN_BLOCKED, chainBlocked, AtomicInteger::get)
        .description(
            "1 while the audit store holds a row after this instance's chain head that the writer"
                + " did not write, so records stay in the journal")
        .register(registry);
    Gauge.builder(MetricNames.AUDIT_STORE_FILE_MISSING, storeFileMissing, AtomicInteger::get)
        .description(
            "1 once the SQLite audit store's path no longer names the file the service has open"
                + " (deleted or replaced), so records go to the journal until a restart")
        .register(registry);
    Gauge.builder(MetricNames.AUDIT_QUEUE_DEPTH, queue, ArrayBlockingQueue::size)
        .description("Decisions waiting for the audit writer")
        .register(registry);
    Gauge.builder(MetricNames.AUDIT_SPILLING, this, w -> w.spilling ? 1 : 0)
        .description(
            "1 while the audit writer sends records to its local journal instead of the store"
                + " (the store failed, did not answer within audit.store_timeout, or the chain is"
                + " blocked); 0 once the journal is replayed")
        .strongReference(true)
        .register(registry);
    Gauge.builder(MetricNames.AUDIT_JOURNAL_BYTES, journalBytes, AtomicLong::get)
        .description(
            "Size of the audit journal file, its 8-byte header included; records are dropped"
                + " once it would exceed audit.journal_max_bytes")
        .baseUnit(BaseUnits.BYTES)
        .register(registry);
    this.journalFile = settings.journalDirectory().resolve(fileName(instance) + ".journal");
    this.linker = new Thread(this::runLinker, "portcullis-audit-linker");
    this.thread = new Thread(this::runStore, "portcullis-audit-writer");
    for (Thread t : List.of(linker, thread)) {
      t.setDaemon(true);
      t.setUncaughtExceptionHandler(
          (dead, e) ->
              log.error(
                  "Audit thread {} died; decisions will queue up and then be dropped",
                  dead.getName(),
                  e));
    }
    this.replayer =
        Executors.newSingleThreadScheduledExecutor(
            r -> {
              Thread t = new Thread(r, "portcullis-audit-replay");
              t.setDaemon(true);
              return t;
            });
  }

  public static Builder builder(AuditStore store) {
    return new Builder(store);
  }

  /**
   * Opens the journal (cutting a torn tail, counting records lost to damage inside it as dropped),
   * finds the chain head and starts the writer and replay threads. A non-empty journal is replayed
   * first.
   *
   * @throws UncheckedIOException if the journal cannot be opened (e.g. another process holds it)
   */
  public synchronized AuditWriter start() {
    if (started) {
      return this;
    }
    AuditJournal j;
    try {
      j = AuditJournal.open(journalFile);
    } catch (IOException e) {
      throw new UncheckedIOException("cannot open audit journal " + journalFile, e);
    }
    if (j.recoveredBytes() > 0) {
      // The last write before a crash, never acknowledged: what it held was never stored.
      log.warn(
          "Audit journal {}: cut a torn tail of {} bytes (the last write before a crash);"
              + " records lost: at least {}",
          journalFile,
          j.recoveredBytes(),
          j.cutRecords());
      dropped.increment(j.cutRecords());
    }
    for (AuditJournal.Damage d : j.damage()) {
      // Not a torn write: valid entries follow, and are replayed. What the bad bytes held is lost.
      log.warn(
          "Audit journal {}: skipped a damaged entry at offset {} ({} bytes); records lost: {};"
              + " the entries after it were recovered and are replayed",
          journalFile,
          d.offset(),
          d.bytes(),
          d.lostRecords());
      dropped.increment(d.lostRecords());
    }
    ChainHead h;
    DecisionRecord last = j.last();
    if (last != null) {
      h = new ChainHead(last.getSeq(), last.getHash());
      log.info("Audit journal {} holds {} records; replaying them", journalFile, j.entries());
    } else {
      h =
          switch (calls.call(() -> store.head(instance), deadline(), () -> false)) {
            case StoreCalls.Answered<ChainHead> a -> a.value();
            case StoreCalls.Failed<ChainHead> f -> {
              log.warn(
                  "Audit store unavailable at start; its chain head is unknown: {}",
                  f.error().getMessage());
              yield ChainHead.GENESIS;
            }
            case StoreCalls.NoAnswer<ChainHead> n -> {
              log.warn(
                  "Audit store did not answer at start within {} (audit.store_timeout); its chain"
                      + " head is unknown",
                  settings.storeTimeout());
              yield ChainHead.GENESIS;
            }
          };
    }
    lock.lock();
    try {
      journal = j;
      journalBytes.set(j.sizeBytes());
      head = h;
      replayPosition = j.start();
      spilling = last != null;
    } finally {
      lock.unlock();
    }
    started = true;
    linker.start();
    thread.start();
    replayer.scheduleWithFixedDelay(
        this::replay, 0, settings.retryInterval().toMillis(), TimeUnit.MILLISECONDS);
    replayer.scheduleWithFixedDelay(
        this::checkStoreFile,
        fileCheckInterval.toMillis(),
        fileCheckInterval.toMillis(),
        TimeUnit.MILLISECONDS);
    return this;
  }

  /**
   * Queues {@code decision}; drops and counts it if the queue is full or the writer closed. A drop
   * because the queue is full is logged at once, and then at most every {@link #DROP_LOG_INTERVAL}
   * with how many were dropped since.
   */
  @Override
  public void append(Decision decision) {
    if (closed) {
      dropped.increment();
    } else if (!queue.offer(decision)) {
      dropped.increment();
      unreportedDrops.increment();
      if (dropsSince.get() == null) {
        dropsSince.compareAndSet(null, clock.instant());
      }
      reportDrops(false);
    }
  }

  /** How often the WARN about a full queue is repeated while decisions keep being dropped. */
  private static final Duration DROP_LOG_INTERVAL = Duration.ofSeconds(10);

  /**
   * Logs how many decisions the full queue dropped since the last such WARN, unless that was less
   * than {@link #DROP_LOG_INTERVAL} ago and {@code now} is false. Called on a drop, by the replay
   * thread every {@code retry_interval} (so the count of a burst that ended is logged too), and by
   * {@link #close()}.
   */
  private void reportDrops(boolean now) {
    if (unreportedDrops.sum() == 0) {
      return;
    }
    Instant t = clock.instant();
    Instant last = dropsReportedAt.get();
    if (!now && last != null && t.isBefore(last.plus(DROP_LOG_INTERVAL))) {
      return;
    }
    if (!dropsReportedAt.compareAndSet(last, t)) {
      return; // another thread reports
    }
    Instant since = dropsSince.getAndSet(null);
    long n = unreportedDrops.sumThenReset();
    if (n > 0) {
      log.warn(
          "Audit queue full: {} decisions dropped since {}, not audited (audit.queue_capacity {};"
              + " counted in portcullis_audit_dropped_total): the writer is behind (a slow store"
              + " or journal disk, or more decisions than it can write)",
          n,
          since == null ? t : since,
          settings.queueCapacity());
    }
  }

  /**
   * Writes everything queued (to the store, or the journal if the store is down), tries once more
   * to empty the journal into the store, and stops both threads. Waits for the store at most {@code
   * store_timeout} in all: what it has not taken by then is journaled (and synced), and the next
   * start stores it. Decisions appended afterwards are dropped and counted.
   */
  @Override
  public void close() {
    synchronized (this) {
      if (closing) {
        return;
      }
      if (!started) {
        start();
      }
      closeBy = System.nanoTime() + storeTimeoutNanos;
      closeBySet = true;
      int pending;
      lock.lock();
      try {
        pending = queue.size() + held + inFlightRecords;
      } finally {
        lock.unlock();
      }
      if (pending > 0) {
        log.info(
            "Audit writer stopping: flushing {} audit records (waiting for the store at most {},"
                + " then journaling the rest)",
            pending,
            settings.storeTimeout());
      }
      closing = true;
    }
    boolean interrupted = join(linker);
    interrupted |= join(thread);
    closed = true;
    List<Decision> rest = new ArrayList<>();
    queue.drainTo(rest);
    if (!rest.isEmpty()) {
      List<LinkedRecord> linked = link(rest);
      if (!linked.isEmpty()) {
        writeInFlight(linked);
      }
    }
    replayer.shutdown();
    boolean replayerStopped = false;
    try {
      // Its store calls end by closeBy; a check of the store's file (a stat) is no store call and
      // can hang on its own (an NFS hard mount): wait for it no longer than for the store.
      long wait = Math.max(0, closeBy - System.nanoTime()) + TimeUnit.SECONDS.toNanos(1);
      replayerStopped = replayer.awaitTermination(wait, TimeUnit.NANOSECONDS);
    } catch (InterruptedException e) {
      interrupted = true;
    }
    if (replayerStopped) {
      replay();
    } else {
      log.warn(
          "Audit journal replay did not stop within audit.store_timeout ({}): stopping without"
              + " it; the journal keeps what it holds for the next start",
          settings.storeTimeout());
    }
    calls.close();
    reportDrops(true);
    lock.lock();
    try {
      if (journal != null) {
        if (!journal.isEmpty()) {
          log.warn(
              "Audit writer stopped with {} records in its journal {}: the store was down, did"
                  + " not answer within {} (audit.store_timeout), or the chain is blocked; the"
                  + " next start stores them",
              journal.entries(),
              journalFile,
              settings.storeTimeout());
        }
        journal.close();
      }
    } catch (IOException e) {
      log.warn("Closing audit journal {} failed: {}", journalFile, e.toString());
    } finally {
      lock.unlock();
    }
    if (interrupted) {
      Thread.currentThread().interrupt();
    }
  }

  private static boolean join(Thread thread) {
    boolean interrupted = false;
    while (thread.isAlive()) {
      try {
        thread.join();
      } catch (InterruptedException e) {
        interrupted = true;
      }
    }
    return interrupted;
  }

  /** Records written to the store so far (including replayed ones). */
  public long written() {
    return (long) written.count();
  }

  /** Decisions dropped so far. */
  public long dropped() {
    return (long) dropped.count();
  }

  /** Records spilled to the journal so far. */
  public long journaled() {
    return (long) journaled.count();
  }

  /** Decisions waiting in the queue. */
  public int queueDepth() {
    return queue.size();
  }

  /** Whether records currently go to the journal (the store failed and is not replayed yet). */
  public boolean spilling() {
    return spilling;
  }

  public Path journalFile() {
    return journalFile;
  }

  // ---- linker thread ---------------------------------------------------------------------------

  private void runLinker() {
    List<Decision> batch = new ArrayList<>(settings.maxBatch());
    long pollMillis = settings.flushInterval().toMillis();
    long flushNanos = settings.flushInterval().toNanos();
    long nextBatchAt = System.nanoTime();
    try {
      while (true) {
        Decision first;
        try {
          first = queue.poll(pollMillis, TimeUnit.MILLISECONDS);
        } catch (InterruptedException e) {
          closing = true;
          first = queue.poll();
        }
        if (first != null) {
          batch.add(first);
          queue.drainTo(batch, settings.maxBatch() - 1);
          held = batch.size();
          gather(batch, nextBatchAt);
          nextBatchAt =
              batch.size() >= settings.maxBatch()
                  ? System.nanoTime()
                  : System.nanoTime() + flushNanos;
          try {
            List<LinkedRecord> linked = link(batch);
            if (!linked.isEmpty()) {
              handOff(linked);
            }
          } catch (RuntimeException e) {
            // Never let the thread die: a dead writer would silently drop every later decision.
            log.error("Audit writer failed on a batch of {}", batch.size(), e);
            dropped.increment(batch.size());
          }
          held = 0;
          batch.clear();
        } else if (closing) {
          return;
        }
      }
    } finally {
      linkerDone = true;
    }
  }

  /**
   * Lets {@code batch} grow until {@code notBefore} (one {@code flush_interval} after the previous
   * batch started) or until it is full, whichever comes first; returns at once when closing. Every
   * commit has a cost of its own (the dirtied index pages and the WAL frames it writes), so a
   * writer that committed whatever was queued as soon as it could committed hundreds of tiny
   * batches a second below its capacity and spent about as much CPU at 20,000 records/s as at
   * 50,000. A decision still waits at most one {@code flush_interval} before its batch is written;
   * under load, when a batch fills or the previous one took longer than the interval, there is no
   * wait.
   */
  private void gather(List<Decision> batch, long notBefore) {
    int max = settings.maxBatch();
    while (batch.size() < max && !closing) {
      long wait = notBefore - System.nanoTime();
      if (wait <= 0) {
        return;
      }
      LockSupport.parkNanos(Math.min(wait, GATHER_SLICE_NANOS));
      if (Thread.interrupted()) {
        closing = true;
      }
      queue.drainTo(batch, max - batch.size());
      held = batch.size();
    }
  }

  /** How often a gathering linker looks whether its batch is full. */
  private static final long GATHER_SLICE_NANOS = TimeUnit.MILLISECONDS.toNanos(5);

  /**
   * Maps decisions to records and links them after the last record this thread linked, counting the
   * batch in flight. After the store thread re-linked a batch (or when nothing is in flight) it
   * first takes the chain head from the written records.
   */
  private List<LinkedRecord> link(List<Decision> decisions) {
    List<DecisionRecord.Builder> records = new ArrayList<>(decisions.size());
    for (Decision d : decisions) {
      try {
        records.add(DecisionRecords.builderOf(d, instance));
      } catch (RuntimeException e) {
        log.error("Cannot make an audit record of decision {}", d.context().decisionId(), e);
        dropped.increment();
      }
    }
    if (records.isEmpty()) {
      return List.of();
    }
    lock.lock();
    try {
      if (linkerStale || inFlight == 0) {
        while (inFlight > 0) {
          drained.awaitUninterruptibly();
        }
        linkHead = head;
        linkerStale = false;
      }
      inFlight++;
      inFlightRecords += records.size();
      held = 0; // now in flight
    } finally {
      lock.unlock();
    }
    List<LinkedRecord> linked = new ArrayList<>(records.size());
    ChainHead at = linkHead;
    for (DecisionRecord.Builder r : records) {
      LinkedRecord l = RecordChain.linked(r, at);
      linked.add(l);
      at = l.head();
    }
    linkHead = at;
    return linked;
  }

  private void handOff(List<LinkedRecord> linked) {
    boolean interrupted = false;
    while (true) {
      try {
        handoff.put(linked);
        break;
      } catch (InterruptedException e) {
        interrupted = true;
      }
    }
    if (interrupted) {
      closing = true;
    }
  }

  // ---- store thread ----------------------------------------------------------------------------

  private void runStore() {
    long pollMillis = settings.flushInterval().toMillis();
    while (true) {
      List<LinkedRecord> linked;
      try {
        linked = handoff.poll(pollMillis, TimeUnit.MILLISECONDS);
      } catch (InterruptedException e) {
        linked = handoff.poll();
      }
      if (linked != null) {
        writeInFlight(linked);
      } else if (linkerDone) {
        return;
      }
    }
  }

  /** Writes a batch the linker counted in flight, and counts it out. */
  private void writeInFlight(List<LinkedRecord> linked) {
    batchRecords.record(linked.size());
    try {
      write(linked);
    } catch (RuntimeException e) {
      // Never let the thread die: a dead writer would silently drop every later decision.
      log.error("Audit writer failed on a batch of {}", linked.size(), e);
      dropped.increment(linked.size());
    } finally {
      lock.lock();
      try {
        inFlightRecords -= linked.size();
        if (--inFlight == 0) {
          drained.signalAll();
        }
      } finally {
        lock.unlock();
      }
    }
  }

  /**
   * Stores a linked batch, or journals it while the store is down. A batch that does not follow the
   * last record written (the chain head moved under the linker: a re-link, a replay) is re-linked
   * after it first, so the store and the journal always receive one unbroken chain.
   */
  private void write(List<LinkedRecord> batch) {
    List<LinkedRecord> linked = batch;
    ChainHead linkedTail = batch.get(batch.size() - 1).head();
    lock.lock();
    try {
      LinkedRecord first = linked.get(0);
      if (first.seq() != head.seq() + 1 || !first.prevHash().equals(head.hash())) {
        linked = relink(linked, 0, head);
        linkerStale = true;
      }
      if (spilling) {
        spillLocked(linked);
        linkerStale |= !head.equals(linkedTail); // the journal was full: its tail was dropped
        return;
      }
    } finally {
      lock.unlock();
    }
    // Only this thread writes to the store while not spilling, so the head cannot move meanwhile.
    List<LinkedRecord> toStore = linked;
    ChainHead stored =
        switch (calls.call(() -> store(toStore), deadline(), () -> queue.size() >= highWater)) {
          case StoreCalls.Answered<@Nullable ChainHead> a ->
              a.value(); // null: the chain is blocked, which store() has reported
          case StoreCalls.Failed<@Nullable ChainHead> f -> {
            // A StoreException, or a driver's unchecked failure.
            log.warn(
                "Audit store unavailable; journaling records to {} until it is back: {}",
                journalFile,
                f.error().getMessage());
            yield null;
          }
          case StoreCalls.NoAnswer<@Nullable ChainHead> n -> {
            // Its outcome is unknown: journaled like the rest, and a replay skips what it stored.
            log.warn(
                "Audit store did not answer an append of {} records in {} ms ({}); journaling"
                    + " records to {} until it is back",
                linked.size(),
                n.waited().toMillis(),
                whyNoAnswer(n.why()),
                journalFile);
            yield null;
          }
        };
    lock.lock();
    try {
      if (stored != null) {
        head = stored;
        if (!stored.equals(linkedTail)) {
          linkerStale = true;
        }
      } else {
        spilling = true;
        spillLocked(linked);
        linkerStale |= !head.equals(linkedTail);
      }
    } finally {
      lock.unlock();
    }
  }

  /**
   * When a call to the store started now is no longer waited for ({@link System#nanoTime()}): after
   * {@code store_timeout}, or when {@link #close()} stops waiting for the store if that is sooner.
   */
  private long deadline() {
    long d = System.nanoTime() + storeTimeoutNanos;
    if (closeBySet && closeBy - d < 0) {
      d = closeBy;
    }
    return d;
  }

  private String whyNoAnswer(StoreCalls.Why why) {
    return switch (why) {
      case DEADLINE ->
          closing
              ? "the writer is stopping and waits for the store at most audit.store_timeout "
                  + settings.storeTimeout()
              : "audit.store_timeout " + settings.storeTimeout();
      case STOPPED_WAITING ->
          "the audit queue filled to "
              + queue.size()
              + " of "
              + settings.queueCapacity()
              + " meanwhile";
      case EARLIER_CALL_RUNNING -> "an earlier call to the store has not returned";
    };
  }

  /**
   * Appends records this writer linked, re-linking after the store's head when it says they
   * diverge.
   *
   * @return the chain head after them, or {@code null} if the chain is blocked ({@link
   *     #noticeBlocked}): nothing was written
   * @throws StoreException if the store fails
   */
  private @Nullable ChainHead store(List<LinkedRecord> linked) {
    return appendRelinking(
        linked, store::appendLinked, (batch, d) -> relink(batch, d.index(), d.head()));
  }

  /**
   * Appends records read back from the journal; the store checks their hashes, as they come from a
   * file. Records it refuses (not continuing its chain, not already stored) are re-linked after its
   * head: they were never stored, so nothing committed to their old hashes.
   *
   * @return the chain head after them, or {@code null} if the chain is blocked: nothing was written
   * @throws StoreException if the store fails
   */
  private @Nullable ChainHead storeJournaled(List<DecisionRecord> journaled) {
    return appendRelinking(
        journaled,
        store::append,
        (batch, d) -> {
          List<DecisionRecord> out = new ArrayList<>(batch.subList(0, d.index()));
          ChainHead at = d.head();
          for (DecisionRecord r : batch.subList(d.index(), batch.size())) {
            DecisionRecord l = RecordChain.link(r, at);
            out.add(l);
            at = new ChainHead(l.getSeq(), l.getHash());
          }
          return out;
        });
  }

  /**
   * Appends {@code records}, re-linking them with {@code relink} while the store diverges; {@code
   * null} if the chain is blocked.
   */
  private <R> @Nullable ChainHead appendRelinking(
      List<R> records,
      Function<List<R>, AppendResult> append,
      BiFunction<List<R>, AppendResult.Diverged, List<R>> relink) {
    List<R> batch = records;
    for (int attempt = 0; ; attempt++) {
      switch (append.apply(batch)) {
        case AppendResult.Appended a -> {
          written.increment(a.inserted());
          committed = a.head();
          noticeUnblocked();
          return a.head();
        }
        case AppendResult.Blocked b -> {
          noticeBlocked(b);
          return null;
        }
        case AppendResult.Diverged d -> {
          noticeRewind(d.head());
          if (attempt >= MAX_RELINKS) {
            throw new StoreException(
                "audit chain of instance '" + instance + "' keeps moving under this writer");
          }
          batch = relink.apply(batch, d);
        }
      }
    }
  }

  /**
   * Warns and counts when the store's head is behind what this writer committed: records at the end
   * of the chain were deleted and the head moved back (or the record at the head replaced). Neither
   * retention (it moves the anchor, never the head) nor another writer of the instance (it only
   * moves the head forward) does that, and {@code verify} cannot see it, as the remaining chain is
   * intact. The writer goes on after the store's head, as for any divergence.
   */
  private void noticeRewind(ChainHead storeHead) {
    ChainHead mine = committed;
    if (mine == null
        || storeHead.seq() > mine.seq()
        || (storeHead.seq() == mine.seq() && storeHead.hash().equals(mine.hash()))) {
      return;
    }
    chainRewound.increment();
    log.warn(
        "Audit chain of instance '{}' was moved back: the store's head is seq {} although this"
            + " writer committed records up to seq {}; records seq {}..{} were deleted or replaced"
            + " in the store (not by retention). Writing continues after seq {}.",
        instance,
        storeHead.seq(),
        mine.seq(),
        Math.min(storeHead.seq() + 1, mine.seq()),
        mine.seq(),
        storeHead.seq());
    committed = storeHead;
  }

  /** How often the ERROR about a blocked chain is repeated while it stays blocked. */
  private static final Duration BLOCKED_LOG_INTERVAL = Duration.ofMinutes(1);

  /**
   * Says, at most once per {@link #BLOCKED_LOG_INTERVAL}, why records keep going to the journal: a
   * row after the chain head that no append wrote. The writer does not delete or skip it (it may be
   * evidence, or another process's record); the replay thread keeps trying, so writing resumes on
   * its own once an operator has removed the row.
   */
  private void noticeBlocked(AppendResult.Blocked b) {
    chainBlocked.set(1);
    Instant now = clock.instant();
    Instant last = blockedLoggedAt;
    if (last != null && now.isBefore(last.plus(BLOCKED_LOG_INTERVAL))) {
      return;
    }
    blockedLoggedAt = now;
    log.error(
        "Audit chain of instance '{}' is blocked: the store holds a row at seq {} after the"
            + " chain's head (seq {}) that this writer did not write: inserted by hand, or by a"
            + " second process using the same instance id. Nothing is written to the store until"
            + " it is dealt with; decisions are kept in the journal {}. Run `portcullis audit"
            + " verify` to see the row, look for another Portcullis configured with the same"
            + " instance id, and see docs/operations.md, \"A blocked audit chain\".",
        instance,
        b.seq(),
        b.head().seq(),
        journalFile);
  }

  private void noticeUnblocked() {
    if (chainBlocked.getAndSet(0) == 1) {
      blockedLoggedAt = null;
      log.info("Audit chain of instance '{}' is no longer blocked; writing to the store", instance);
    }
  }

  /** {@code records} with those from {@code from} on linked one after another after {@code h}. */
  private static List<LinkedRecord> relink(List<LinkedRecord> records, int from, ChainHead h) {
    List<LinkedRecord> out = new ArrayList<>(records.size());
    out.addAll(records.subList(0, from));
    ChainHead at = h;
    for (int i = from; i < records.size(); i++) {
      LinkedRecord r = RecordChain.linked(records.get(i).content(), at);
      out.add(r);
      at = r.head();
    }
    return out;
  }

  /** Writes linked records to the journal; the caller holds the lock. */
  private void spillLocked(List<LinkedRecord> linked) {
    AuditJournal j = Objects.requireNonNull(journal);
    List<DecisionRecord> records = new ArrayList<>(linked.size());
    for (LinkedRecord l : linked) {
      records.add(l.record());
    }
    int kept;
    try {
      kept = j.append(records, settings.journalMaxBytes());
    } catch (IOException e) {
      log.error("Audit journal {} write failed; {} records dropped", journalFile, linked.size(), e);
      kept = 0;
    }
    if (kept < linked.size()) {
      if (!journalFullLogged) {
        journalFullLogged = true;
        log.warn(
            "Audit journal {} is full ({} bytes) or failing; dropping records until the store"
                + " is back",
            journalFile,
            j.sizeBytes());
      }
      dropped.increment(linked.size() - kept);
    }
    if (kept > 0) {
      journaled.increment(kept);
      head = linked.get(kept - 1).head();
    }
    journalBytes.set(j.sizeBytes());
  }

  // ---- replay thread --------------------------------------------------------------------------

  /**
   * Stores the journal in order, a chunk per transaction, without holding the lock while the store
   * works; when a read finds nothing left, empties the journal and switches the writer back to the
   * store, all under the lock so no record slips in between.
   */
  private void replay() {
    reportDrops(false);
    if (!spilling || fileProblem != null) {
      return;
    }
    ChainHead stored = null;
    long replayed = 0;
    try {
      while (true) {
        AuditJournal.Chunk chunk;
        lock.lock();
        try {
          AuditJournal j = Objects.requireNonNull(journal);
          chunk = j.read(replayPosition, settings.maxBatch());
          if (chunk.records().isEmpty()) {
            j.clear();
            journalBytes.set(j.sizeBytes());
            replayPosition = j.start();
            if (stored != null) {
              head = stored;
            }
            spilling = false;
            journalFullLogged = false;
            log.info("Audit store is back: replayed {} journaled records", replayed);
            return;
          }
        } finally {
          lock.unlock();
        }
        List<DecisionRecord> records = chunk.records();
        ChainHead after;
        switch (calls.call(() -> storeJournaled(records), deadline(), () -> false)) {
          case StoreCalls.Answered<@Nullable ChainHead> a -> after = a.value();
          case StoreCalls.Failed<@Nullable ChainHead> f -> {
            // still down; the next attempt resumes where this one stopped
            log.debug("Audit journal replay failed: {}", f.error().toString());
            return;
          }
          case StoreCalls.NoAnswer<@Nullable ChainHead> n -> {
            // Still hung; a call left running may yet store this chunk, which the next attempt
            // then skips as already stored.
            log.debug("Audit journal replay: the store did not answer ({})", n.why());
            return;
          }
        }
        if (after == null) { // blocked: the next attempt starts at this chunk again
          return;
        }
        stored = after;
        lock.lock();
        try {
          replayPosition = chunk.next();
        } finally {
          lock.unlock();
        }
        replayed += chunk.records().size();
      }
    } catch (RuntimeException e) { // still down; the next attempt resumes where this one stopped
      log.debug("Audit journal replay failed: {}", e.toString());
    } catch (IOException e) {
      log.error("Reading audit journal {} failed", journalFile, e);
    }
  }

  /**
   * Checks that the store's path still names the file the store has open; once it does not, logs an
   * ERROR (once) and sets the gauge, and {@link #write} and {@link #replay} keep records in the
   * journal rather than in a file that is lost when the store closes. If the path names the opened
   * file again (linked back), the journal is replayed into it.
   */
  private void checkStoreFile() {
    java.util.Optional<String> problem;
    try {
      problem = store.fileProblem();
    } catch (RuntimeException e) {
      log.debug("Checking the audit store's file failed: {}", e.toString());
      return;
    }
    if (problem.isPresent()) {
      if (fileProblem == null) {
        lock.lock();
        try {
          fileProblem = problem.get();
          spilling = true; // the next batch goes to the journal; replay() waits for the file
        } finally {
          lock.unlock();
        }
        storeFileMissing.set(1);
        log.error(
            "Audit store lost: {} while the service has it open. The service can still write to"
                + " the file it opened, but no one else can read it and it is gone when the"
                + " service stops: the audit records stored in it are lost (unless the file is"
                + " copied from /proc/<pid>/fd first, or restored from a backup). Decisions are now"
                + " kept in the journal {}. Restart the service: it opens the store at the path,"
                + " creating a new, empty one if there is none, and stores the journal in it. See"
                + " docs/operations.md, \"The audit store file was deleted\".",
            problem.get(),
            journalFile);
      }
    } else if (fileProblem != null) {
      fileProblem = null;
      storeFileMissing.set(0);
      log.info("Audit store file is back at its path; replaying the journal into it");
    }
  }

  private static String fileName(String instance) {
    StringBuilder sb = new StringBuilder(instance.length());
    for (int i = 0; i < instance.length(); i++) {
      char c = instance.charAt(i);
      boolean safe =
          (c >= 'a' && c <= 'z')
              || (c >= 'A' && c <= 'Z')
              || (c >= '0' && c <= '9')
              || c == '-'
              || c == '_'
              || c == '.';
      sb.append(safe ? c : '_');
    }
    return sb.isEmpty() ? "instance" : sb.toString();
  }

  /** Builds an {@link AuditWriter}; not thread-safe. */
  public static final class Builder {
    private final AuditStore store;
    private @Nullable String instance;
    private AuditSettings settings = AuditSettings.defaults();
    private MeterRegistry registry = new SimpleMeterRegistry();
    private InstantSource clock = InstantSource.system();
    private Duration fileCheckInterval = DEFAULT_FILE_CHECK_INTERVAL;

    private Builder(AuditStore store) {
      this.store = store;
    }

    /** The id of this Portcullis instance (its chain); required, unique per running instance. */
    public Builder instance(String instance) {
      if (instance.isEmpty()) {
        throw new IllegalArgumentException("instance id must not be empty");
      }
      this.instance = instance;
      return this;
    }

    public Builder settings(AuditSettings settings) {
      this.settings = settings;
      return this;
    }

    /**
     * Where the queue depth, written, dropped, journaled, chain-rewound and chain-blocked meters
     * go.
     */
    public Builder meterRegistry(MeterRegistry registry) {
      this.registry = registry;
      return this;
    }

    /**
     * What paces the writer's repeated ERRORs (at most one a minute); the system clock by default.
     */
    public Builder clock(InstantSource clock) {
      this.clock = clock;
      return this;
    }

    /**
     * How often the writer checks that the store's file is still at its path ({@link
     * AuditStore#fileProblem}); {@link #DEFAULT_FILE_CHECK_INTERVAL} by default.
     */
    public Builder fileCheckInterval(Duration interval) {
      if (interval.isNegative() || interval.isZero()) {
        throw new IllegalArgumentException("fileCheckInterval must be positive");
      }
      this.fileCheckInterval = interval;
      return this;
    }

    /**
     * The writer, not yet started: decisions appended before {@link #start()} wait in the queue.
     */
    public AuditWriter build() {
      return new AuditWriter(this);
    }
  }
}
