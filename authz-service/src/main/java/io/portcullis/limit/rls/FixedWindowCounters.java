package io.portcullis.limit.rls;

import java.time.Duration;
import java.util.List;
import java.util.Objects;
import org.jspecify.annotations.Nullable;

/**
 * Counters for fixed windows: each key names one window of one descriptor (the window's start is
 * part of the key), so a counter only ever grows and is dropped when its window has passed.
 * Implementations: in memory and in Redis ({@code INCRBY} + {@code PEXPIRE}, pipelined; concurrent
 * requests share pipelines).
 *
 * <p>Thread-safe. A shared-store implementation throws {@link
 * io.portcullis.limit.LimitBackendException} when the store fails; {@link
 * FailoverFixedWindowCounters} turns that into the {@code on_backend_failure} policy.
 */
public interface FixedWindowCounters {

  /**
   * A value of {@link Totals#values()}: the hit was not counted and is to be refused, over any
   * limit (no room for a new counter, or {@code on_backend_failure: deny}); the caller may try
   * again after {@link Totals#retryAfter()}, not at the window's end.
   */
  long REFUSED = Long.MAX_VALUE;

  /**
   * A value of {@link Totals#values()}: the hit was not counted and is to be admitted without a
   * limit ({@code on_backend_failure: allow}); there is no count to report.
   */
  long NOT_COUNTED = -1;

  /**
   * Adds each hit's amount to its key's counter, creating missing counters at zero to expire after
   * {@code ttl}, and returns every counter's new value in the order of {@code hits} (or {@link
   * #REFUSED} or {@link #NOT_COUNTED} for a hit that could not be counted). An amount of 0 reads
   * the counter without changing it.
   */
  Totals add(List<Hit> hits);

  /**
   * As {@link #add(List)}, for a caller that needs the answer within {@code within}: a shared store
   * that has not answered by then throws {@link
   * io.portcullis.limit.LimitBackendException#callersDeadline}, even before its own timeout. The
   * default, for counters that do not wait, ignores {@code within}.
   */
  default Totals add(List<Hit> hits, Duration within) {
    return add(hits);
  }

  /**
   * One counter increment.
   *
   * @param key the counter's key (descriptor and window start)
   * @param amount how much to add (0 or more)
   * @param ttl how long the counter may live (the window's length)
   */
  record Hit(String key, long amount, Duration ttl) {
    public Hit {
      Objects.requireNonNull(key, "key");
      if (amount < 0) {
        throw new IllegalArgumentException("amount must not be negative");
      }
    }
  }

  /**
   * The counters after the hits.
   *
   * @param values each hit's counter after adding, in order; {@link #REFUSED} or {@link
   *     #NOT_COUNTED} for a hit that was not counted
   * @param degraded non-null when the counts are not the shared store's: it failed and the failure
   *     policy answered (e.g. {@code ratelimit_backend:local}), or memory was full
   * @param retryAfter when a {@link #REFUSED} hit may be tried again (zero when there is none)
   */
  record Totals(long[] values, @Nullable String degraded, Duration retryAfter) {
    public Totals {
      Objects.requireNonNull(values, "values");
      Objects.requireNonNull(retryAfter, "retryAfter");
    }

    /** Hits all counted by the shared store (or by memory, the configured backend). */
    public static Totals counted(long[] values) {
      return new Totals(values, null, Duration.ZERO);
    }
  }
}
