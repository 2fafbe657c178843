package io.portcullis.audit;

import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import io.portcullis.metrics.MetricNames;
import java.time.Instant;
import java.time.InstantSource;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Deletes audit records older than {@code audit.retention}, in batches, every {@code
 * audit.retention_interval} ({@link AuditStore#deleteBefore}: chains keep verifying through their
 * anchors). A failed run is logged and retried at the next interval. Thread-safe.
 *
 * <p>Since only a prefix of each chain can go, one record stamped after the cutoff (a clock stepped
 * years ahead, then back) keeps every later record until its own time passes. Each run therefore
 * asks the store whether expired records are stuck behind such a record ({@link
 * AuditStore#retentionStall}); if so it logs one WARN naming the instance and the blocking record's
 * {@code seq}, and {@code portcullis_audit_retention_stalled} is 1 until a run finds no stall.
 */
public final class AuditRetention implements AutoCloseable {
  private static final Logger log = LoggerFactory.getLogger(AuditRetention.class);

  private final AuditStore store;
  private final AuditSettings settings;
  private final InstantSource clock;
  private final ScheduledExecutorService scheduler;
  private final AtomicInteger stalled = new AtomicInteger();

  private AuditRetention(
      AuditStore store, AuditSettings settings, InstantSource clock, MeterRegistry registry) {
    this.store = store;
    this.settings = settings;
    this.clock = clock;
    Gauge.builder(MetricNames.AUDIT_RETENTION_STALLED, stalled, AtomicInteger::get)
        .description(
            "1 if the last audit retention run found expired records kept behind a newer record")
        .register(registry);
    this.scheduler =
        Executors.newSingleThreadScheduledExecutor(
            r -> {
              Thread t = new Thread(r, "portcullis-audit-retention");
              t.setDaemon(true);
              return t;
            });
  }

  /** Retention that runs only when {@link #runOnce()} is called (CLI, tests). */
  public static AuditRetention manual(
      AuditStore store, AuditSettings settings, InstantSource clock, MeterRegistry registry) {
    AuditRetention r = new AuditRetention(store, settings, clock, registry);
    r.scheduler.shutdown();
    return r;
  }

  /** Retention that runs now and then every {@code settings.retentionInterval()}. */
  public static AuditRetention schedule(
      AuditStore store, AuditSettings settings, InstantSource clock, MeterRegistry registry) {
    AuditRetention r = new AuditRetention(store, settings, clock, registry);
    long every = settings.retentionInterval().toMillis();
    r.scheduler.scheduleWithFixedDelay(r::runLogged, 0, every, TimeUnit.MILLISECONDS);
    return r;
  }

  /** The cutoff a run now would use: records before it are deleted. */
  public Instant cutoff() {
    return clock.instant().minus(settings.retention());
  }

  /**
   * Deletes every record older than {@link #cutoff()} that can go without breaking a chain, then
   * warns (once) and sets the stalled gauge if expired records had to stay behind a newer one.
   *
   * @return how many were deleted
   * @throws io.portcullis.store.StoreException if the store fails (what was deleted stays deleted)
   */
  public long runOnce() {
    Instant cutoff = cutoff();
    long deleted = store.deleteBefore(cutoff, settings.retentionBatch());
    RetentionStall stall = store.retentionStall(cutoff);
    stalled.set(stall == null ? 0 : 1);
    if (stall != null) {
      warn(stall, cutoff);
    }
    return deleted;
  }

  private static void warn(RetentionStall stall, Instant cutoff) {
    log.warn(
        "Audit retention of instance '{}' is stalled: its oldest record, seq {}, is stamped {},"
            + " after the cutoff {}, so the records after it that are older than the cutoff (the"
            + " oldest is seq {}) cannot be deleted without breaking the chain until then. A clock"
            + " stepped ahead when that record was written is the usual cause.",
        stall.instance(),
        stall.seq(),
        stall.time(),
        cutoff,
        stall.expiredSeq());
  }

  private void runLogged() {
    try {
      long n = runOnce();
      if (n > 0) {
        log.info("Audit retention deleted {} records older than {}", n, settings.retention());
      }
    } catch (RuntimeException e) {
      log.warn(
          "Audit retention failed; retrying in {}: {}", settings.retentionInterval(), e.toString());
    }
  }

  @Override
  public void close() {
    scheduler.shutdownNow();
  }
}
