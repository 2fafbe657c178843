package io.portcullis.audit;

import java.nio.file.Path;
import java.time.Duration;
import java.util.Objects;

/**
 * The {@code audit:} section of {@code portcullis.yaml} ({@code retention}, {@code queue_capacity},
 * {@code journal_max_bytes}, {@code store_timeout}), plus tuning with defaults that rarely need
 * changing.
 *
 * @param retention how long records are kept ({@code 30d})
 * @param queueCapacity decisions waiting for the writer before new ones are dropped ({@code
 *     100000})
 * @param journalDirectory where the writer spills records while the store is down ({@code
 *     data/audit-journal}); one file per instance
 * @param journalMaxBytes the journal's size limit; beyond it records are dropped (1 GiB)
 * @param maxBatch the most records per transaction (10000): under load the writer drains up to this
 *     many at once, and large transactions cost SQLite a third less per record than batches of 1000
 *     (loadtest/RESULTS.md, "Audit log")
 * @param flushInterval the longest a queued decision waits before the writer looks at it (50 ms)
 * @param retryInterval how often the writer retries the store during an outage (1 s)
 * @param storeTimeout how long the writer waits for the store to answer an append before it treats
 *     the store as unavailable and journals records instead ({@code 5s}); also the longest {@link
 *     AuditWriter#close()} waits for the store before it journals what is left, and PostgreSQL's
 *     {@code statement_timeout} for the statements of an append
 * @param retentionInterval how often retention runs (1 h)
 * @param retentionBatch records deleted per retention transaction (10000)
 */
public record AuditSettings(
    Duration retention,
    int queueCapacity,
    Path journalDirectory,
    long journalMaxBytes,
    int maxBatch,
    Duration flushInterval,
    Duration retryInterval,
    Duration storeTimeout,
    Duration retentionInterval,
    int retentionBatch) {

  public AuditSettings {
    positive(retention, "audit.retention");
    if (queueCapacity < 1) {
      throw new IllegalArgumentException("audit.queue_capacity must be at least 1");
    }
    Objects.requireNonNull(journalDirectory, "journalDirectory");
    if (journalMaxBytes < 1024) {
      throw new IllegalArgumentException("audit.journal_max_bytes must be at least 1024");
    }
    if (maxBatch < 1) {
      throw new IllegalArgumentException("audit.max_batch must be at least 1");
    }
    positive(flushInterval, "audit.flush_interval");
    positive(retryInterval, "audit.retry_interval");
    positive(storeTimeout, "audit.store_timeout");
    positive(retentionInterval, "audit.retention_interval");
    if (retentionBatch < 1) {
      throw new IllegalArgumentException("audit.retention_batch must be at least 1");
    }
  }

  private static void positive(Duration d, String name) {
    Objects.requireNonNull(d, name);
    if (d.isNegative() || d.isZero()) {
      throw new IllegalArgumentException(name + " must be positive");
    }
  }

  /** The default of {@link #storeTimeout()}. */
  public static final Duration DEFAULT_STORE_TIMEOUT = Duration.ofSeconds(5);

  /** The embedded defaults. */
  public static AuditSettings defaults() {
    return builder().build();
  }

  public static Builder builder() {
    return new Builder();
  }

  /** A builder starting from these settings. */
  public Builder toBuilder() {
    return new Builder()
        .retention(retention)
        .queueCapacity(queueCapacity)
        .journalDirectory(journalDirectory)
        .journalMaxBytes(journalMaxBytes)
        .maxBatch(maxBatch)
        .flushInterval(flushInterval)
        .retryInterval(retryInterval)
        .storeTimeout(storeTimeout)
        .retentionInterval(retentionInterval)
        .retentionBatch(retentionBatch);
  }

  /** Builds {@link AuditSettings} from the defaults; not thread-safe. */
  public static final class Builder {
    private Duration retention = Duration.ofDays(30);
    private int queueCapacity = 100_000;
    private Path journalDirectory = Path.of("data", "audit-journal");
    private long journalMaxBytes = 1L << 30;
    private int maxBatch = 10_000;
    private Duration flushInterval = Duration.ofMillis(50);
    private Duration retryInterval = Duration.ofSeconds(1);
    private Duration storeTimeout = DEFAULT_STORE_TIMEOUT;
    private Duration retentionInterval = Duration.ofHours(1);
    private int retentionBatch = 10_000;

    private Builder() {}

    public Builder retention(Duration retention) {
      this.retention = retention;
      return this;
    }

    public Builder queueCapacity(int queueCapacity) {
      this.queueCapacity = queueCapacity;
      return this;
    }

    public Builder journalDirectory(Path journalDirectory) {
      this.journalDirectory = journalDirectory;
      return this;
    }

    public Builder journalMaxBytes(long journalMaxBytes) {
      this.journalMaxBytes = journalMaxBytes;
      return this;
    }

    public Builder maxBatch(int maxBatch) {
      this.maxBatch = maxBatch;
      return this;
    }

    public Builder flushInterval(Duration flushInterval) {
      this.flushInterval = flushInterval;
      return this;
    }

    public Builder retryInterval(Duration retryInterval) {
      this.retryInterval = retryInterval;
      return this;
    }

    public Builder storeTimeout(Duration storeTimeout) {
      this.storeTimeout = storeTimeout;
      return this;
    }

    public Builder retentionInterval(Duration retentionInterval) {
      this.retentionInterval = retentionInterval;
      return this;
    }

    public Builder retentionBatch(int retentionBatch) {
      this.retentionBatch = retentionBatch;
      return this;
    }

    /**
     * @throws IllegalArgumentException naming the setting that is out of range
     */
    public AuditSettings build() {
      return new AuditSettings(
          retention,
          queueCapacity,
          journalDirectory,
          journalMaxBytes,
          maxBatch,
          flushInterval,
          retryInterval,
          storeTimeout,
          retentionInterval,
          retentionBatch);
    }
  }
}
