package io.portcullis.audit;

import java.time.Instant;
import java.time.InstantSource;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Deletes audit records older than {@code audit.retention}, in batches, every {@code
 * audit.retention_interval} ({@link AuditStore#deleteBefore}: chains keep verifying through their
 * anchors). A failed run is logged and retried at the next interval. Thread-safe.
 */
public final class AuditRetention implements AutoCloseable {
  private static final Logger log = LoggerFactory.getLogger(AuditRetention.class);

  private final AuditStore store;
  private final AuditSettings settings;
  private final InstantSource clock;
  private final ScheduledExecutorService scheduler;

  private AuditRetention(AuditStore store, AuditSettings settings, InstantSource clock) {
    this.store = store;
    this.settings = settings;
    this.clock = clock;
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
      AuditStore store, AuditSettings settings, InstantSource clock) {
    AuditRetention r = new AuditRetention(store, settings, clock);
    r.scheduler.shutdown();
    return r;
  }

  /** Retention that runs now and then every {@code settings.retentionInterval()}. */
  public static AuditRetention schedule(
      AuditStore store, AuditSettings settings, InstantSource clock) {
    AuditRetention r = new AuditRetention(store, settings, clock);
    long every = settings.retentionInterval().toMillis();
    r.scheduler.scheduleWithFixedDelay(r::runLogged, 0, every, TimeUnit.MILLISECONDS);
    return r;
  }

  /** The cutoff a run now would use: records before it are deleted. */
  public Instant cutoff() {
    return clock.instant().minus(settings.retention());
  }

  /**
   * Deletes every record older than {@link #cutoff()}.
   *
   * @return how many were deleted
   * @throws io.portcullis.store.StoreException if the store fails (what was deleted stays deleted)
   */
  public long runOnce() {
    return store.deleteBefore(cutoff(), settings.retentionBatch());
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
