package io.portcullis.audit;

import io.micrometer.core.instrument.FunctionCounter;
import io.micrometer.core.instrument.MeterRegistry;
import io.portcullis.metrics.MetricNames;
import io.portcullis.proto.v1.DecisionRecord;
import io.portcullis.store.Database;
import io.portcullis.store.StoreException;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import org.jspecify.annotations.Nullable;

/**
 * Durable storage of chained decision records ({@link RecordChain}), one chain per instance.
 *
 * <p>Implementations are thread-safe: one writer appends while the admin API queries, summarizes
 * and verifies and retention deletes. Every method may throw {@link StoreException} when the
 * database is unreachable or fails; nothing is then changed (each write is one transaction).
 * Expected outcomes (a batch that does not continue the chain, a broken chain) are values.
 *
 * <p>Implementations: {@link SqliteAuditStore} (embedded) and {@link PostgresAuditStore} (shared),
 * both tested by one contract test.
 */
public interface AuditStore {

  /**
   * The store for a migrated database of either kind, its appends bounded by {@link
   * AuditSettings#DEFAULT_STORE_TIMEOUT}.
   */
  static AuditStore of(Database database) {
    return of(database, AuditSettings.DEFAULT_STORE_TIMEOUT);
  }

  /**
   * The store for a migrated database of either kind.
   *
   * @param appendTimeout how long a statement of an append may wait where the database can bound it
   *     (PostgreSQL's {@code statement_timeout}; SQLite waits for another writer's lock for the
   *     store's {@code busy_timeout}): the writer's {@code audit.store_timeout}
   */
  static AuditStore of(Database database, Duration appendTimeout) {
    return switch (database.kind()) {
      case SQLITE -> new SqliteAuditStore(database);
      case POSTGRESQL -> new PostgresAuditStore(database, appendTimeout);
    };
  }

  /** The stored head of {@code instance}'s chain; {@link ChainHead#GENESIS} if it has none. */
  ChainHead head(String instance);

  /**
   * What happened to the store's file if its path no longer names the file the store has open
   * (deleted, or replaced by another file: {@link io.portcullis.store.Database#fileProblem()}),
   * with the path: {@code "the SQLite file /var/lib/portcullis/portcullis.db was deleted"}. Empty
   * while it does, and for a store without a file. The store itself does not notice: it goes on
   * writing the file it has open, which is lost when it closes.
   */
  default java.util.Optional<String> fileProblem() {
    return java.util.Optional.empty();
  }

  /**
   * Appends records of one instance in one transaction, in order. Each record must either continue
   * the chain ({@code seq = head.seq + 1}, {@code prev_hash = head.hash}, correct {@code hash}) or
   * be an exact copy of a stored record (same content apart from the chain fields), which is
   * skipped: replaying a journal whose commit outcome was unknown writes nothing twice. Otherwise
   * nothing is written and {@link AppendResult.Diverged} says where the batch left the chain. The
   * check runs under the chain's lock, so two writers using one instance id cannot fork it. A row
   * of the chain stored after its head (not written by an append) blocks every append that would
   * write a record: nothing is written, and {@link AppendResult.Blocked} names the row.
   *
   * @param records at least one record, all of the same instance, chain fields set
   * @throws IllegalArgumentException if {@code records} is empty or mixes instances
   * @throws StoreException if the database fails; the transaction is rolled back (but a failure
   *     while committing may leave the outcome unknown: replay the batch, duplicates are skipped)
   */
  AppendResult append(List<DecisionRecord> records);

  /**
   * As {@link #append}, for records {@link RecordChain#linked} has just placed: their hash was
   * computed over the canonical bytes they carry, so the store checks only that each continues the
   * chain ({@code seq}, {@code prev_hash}) or is already stored, and does not encode and hash it
   * again. Records read back from anywhere (a journal file) go through {@link #append}.
   *
   * @param records at least one record, all of the same instance
   * @throws IllegalArgumentException if {@code records} is empty or mixes instances
   * @throws StoreException as {@link #append}
   */
  AppendResult appendLinked(List<LinkedRecord> records);

  /**
   * A page of records matching {@code query}, newest first, each with its chain fields.
   *
   * <p>Filters are matched on the row's columns (copies of the record's fields, which {@link
   * #verify} checks against it). A matching row whose record bytes cannot be read (they do not
   * parse, or parse as a record of another instance or {@code seq} than the row's: damaged or
   * edited) is returned in its place as an entry with {@code unreadable} set that holds only the
   * row's own chain and identity columns ({@code instance}, {@code seq}, {@code decision_id},
   * {@code time}, {@code prev_hash}, {@code hash}), and the cursor goes on past it: one damaged row
   * must not hide the records around it. The store logs a WARN the first time it returns such a row
   * (never its bytes).
   */
  AuditPage query(AuditQuery query);

  /**
   * How many rows {@link #query} has returned as {@code unreadable} entries, each counted once: the
   * first time this store returns it, when it logs its WARN (again only if its {@code hash} column
   * changes, or once the store has met more than 10,000 and forgot the earlier ones). {@link
   * #readChain} counts none: {@code audit export} runs in a process of its own and reports each
   * such row on stderr.
   */
  long unreadableRowsFound();

  /**
   * Publishes {@code portcullis_audit_unreadable_rows_total} ({@link #unreadableRowsFound()}), so
   * that a damaged audit row found by a query can be alerted on, not only read in the log.
   */
  default AuditStore bindMetrics(MeterRegistry registry) {
    FunctionCounter.builder(
            MetricNames.AUDIT_UNREADABLE_ROWS, this, AuditStore::unreadableRowsFound)
        .description(
            "audit rows whose stored record cannot be read, met by queries (each counted once)")
        .register(registry);
    return this;
  }

  /**
   * Record counts in {@code [since, until)} grouped by {@code groupBy} (one total row when it is
   * empty), largest first, every group.
   *
   * @param since inclusive lower bound, or {@code null}
   * @param until exclusive upper bound, or {@code null}
   */
  List<SummaryRow> summary(
      @Nullable Instant since, @Nullable Instant until, List<SummaryDimension> groupBy);

  /**
   * Counts of the records that match every filter of {@code filter} (time range, decision, reason,
   * segment, ..., dry-run only), grouped by {@code groupBy} (one total row when it is empty),
   * largest first, then by the group values; at most {@code filter.limit()} groups. The filter's
   * cursor is not used. With {@code dry_run} set and {@code groupBy = [dry_run_reason, segment,
   * dry_run_rule]} this is the dry-run report: what would have been denied, where, and why.
   */
  List<SummaryRow> summary(AuditQuery filter, List<SummaryDimension> groupBy);

  /**
   * Allows, denies and dry-run allows per time bucket, for the records matching every filter of
   * {@code filter}. The range is {@code [filter.since(), filter.until())}, split into consecutive
   * buckets of {@code width} from {@code since}; the last bucket may reach past {@code until} but
   * counts nothing from there. Every bucket is returned, empty ones with zero counts, oldest first.
   * The filter's limit and cursor are not used.
   *
   * @throws IllegalArgumentException if since or until is missing, {@code width} is not positive,
   *     or the range needs more than {@value #MAX_TIMELINE_BUCKETS} buckets
   */
  List<TimelineBucket> timeline(AuditQuery filter, Duration width);

  /** The most buckets {@link #timeline} returns. */
  int MAX_TIMELINE_BUCKETS = 10_000;

  /** Every instance's chain as the store holds it now, in instance order. */
  List<ChainPosition> chains();

  /**
   * Up to {@code limit} records of {@code instance}'s chain with {@code seq > afterSeq}, in {@code
   * seq} order, each with its chain fields (as {@link #query} returns them): a reader that
   * remembers the last {@code seq} it saw and asks again for what follows it never misses a record
   * that commits later (see the implementation for why). Only the chain is read, the records {@code
   * anchor < seq <= head}: a row outside it (inserted by hand, which {@link #verify} reports) is
   * not returned. A {@code seq} missing in between (deleted by retention since, or by hand) is
   * simply skipped; the caller sees the jump. A row whose record bytes cannot be read is returned
   * in its place as the unreadable entry {@link #query} returns for it ({@link ChainEntry}),
   * instead of failing the read: one damaged row must not keep a reader from the records around it.
   *
   * @throws IllegalArgumentException if {@code limit} is not positive
   */
  List<ChainEntry> readChain(String instance, long afterSeq, int limit);

  /**
   * The {@code seq} of the first record of {@code instance}'s chain (in {@code seq} order) stamped
   * at or after {@code time}, or {@code null} if there is none; where an export given a start time
   * begins.
   */
  @Nullable Long firstSeqAtOrAfter(String instance, Instant time);

  /**
   * Walks every instance's chain from its retention anchor to its head and reports the first record
   * that was edited (content or column copies), deleted (a gap, or a shortened tail) or moved, or
   * that lies outside its chain (at or before the anchor, or after the head: inserted by hand).
   * Reads in chunks, so it can run beside the writer; records appended after the walk started are
   * left for the next run.
   */
  ChainVerification verify();

  /**
   * Deletes records older than {@code cutoff}, oldest first, at most {@code batchSize} per
   * transaction. Only a prefix of each chain is deleted (deletion stops at the first record at or
   * after the cutoff), and the hash of each chain's last deleted record is kept as its anchor, so
   * the rest still verifies.
   *
   * @return how many records were deleted
   */
  long deleteBefore(Instant cutoff, int batchSize);

  /**
   * Whether {@link #deleteBefore} is kept from deleting records older than {@code cutoff}: the
   * instance of the oldest such record, if its chain's oldest remaining record is at or after the
   * cutoff. Two index seeks and a look at one chain, so it can follow every retention run; when
   * several chains are stalled, the one holding the oldest expired record is named.
   *
   * @return the stall, or {@code null} if no record older than the cutoff is stuck behind a newer
   *     one
   */
  @Nullable RetentionStall retentionStall(Instant cutoff);
}
