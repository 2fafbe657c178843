package io.portcullis.limit;

import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import io.portcullis.metrics.MetricNames;
import java.time.Duration;
import java.time.InstantSource;
import java.util.EnumMap;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.atomic.LongAdder;
import org.jspecify.annotations.Nullable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Whether the shared limit backend (Redis) is worth asking, whether it works, and what it cost
 * while it did not: the one place that logs and counts a backend outage for every path that uses it
 * ({@link Caller}).
 *
 * <p><b>Circuit.</b> After a failure the circuit stays open for {@code retryInterval}: callers skip
 * the backend and apply their failure policy at once, instead of each waiting for a timeout. After
 * that the next callers try again, so the service recovers by itself when Redis returns; a success
 * closes the circuit.
 *
 * <p><b>Outage.</b> The backend is <em>failing</em> from a failure ({@link #failed}, {@link
 * #failedLate}) until the next success ({@link #succeeded()}), however often the circuit is tried
 * meanwhile. Its log is one WARN when it begins (with Redis's reason), a WARN reminder at most once
 * a minute while it lasts, and an INFO when the backend answers again, saying how long it failed
 * and how many decisions {@code on_backend_failure} made meanwhile. A backend that flaps (fails and
 * answers again within a minute of the last WARN, as an overloaded Redis timing out some calls
 * does) is not logged again until a minute has passed since that WARN; the next WARN says how many
 * outages went unlogged. (A line per retry interval, as each path logged before, was 3,600 lines an
 * hour per instance, and the end of an outage was not logged at all.)
 *
 * <p><b>Metrics.</b> {@code portcullis_ratelimit_backend_errors_total} counts operations the
 * backend failed (an error, or its own timeout); {@code
 * portcullis_ratelimit_backend_degraded_decisions_total{caller}} counts answers given without it
 * (failed, skipped while the circuit is open, or given up at the caller's deadline); {@code
 * portcullis_ratelimit_backend_up} is 1 while it works, 0 while it fails.
 *
 * <p>One circuit is shared by everything that talks to one backend, and one registry holds one
 * circuit's meters (a second circuit on the same registry shares the counters, but the gauge keeps
 * reading the first). Thread-safe; lock-free except when an outage begins, ends or is reminded of.
 */
public final class BackendCircuit {
  private static final Logger log = LoggerFactory.getLogger(BackendCircuit.class);

  /** At most one WARN a minute about one backend (an outage's beginning or a reminder). */
  private static final long WARN_NANOS = Duration.ofMinutes(1).toNanos();

  /**
   * Callers in a row whose deadline ran out before the backend answered, with no answer in time in
   * between, that open the circuit ({@link #late}): one tight deadline says nothing about the
   * backend, this many say it answers later than callers can use.
   */
  static final int LATE_IN_A_ROW_OPENS = 16;

  private static final String UP_DESCRIPTION =
      "1 while the shared limit backend (Redis) works, 0 while it fails";

  /** What used the backend: the tag {@code caller} of the degraded-decisions counter. */
  public enum Caller {
    /** The policy's limits ({@code Check} and forward-auth). */
    LIMITS("limits"),
    /** The counters of the Envoy rate limit service ({@code ShouldRateLimit}). */
    RLS("rls"),
    /**
     * {@code protect.failed_auth} counting, which counts in this instance whatever {@code
     * on_backend_failure} says.
     */
    PROTECT("protect");

    private final String tag;

    Caller(String tag) {
      this.tag = tag;
    }

    /** The metric tag's value. */
    public String tag() {
      return tag;
    }
  }

  private final InstantSource clock;
  private final long retryNanos;
  private final Duration retryInterval;
  private final BackendFailurePolicy policy;
  private final Counter errors;
  private final Map<Caller, Counter> degraded;
  private volatile long openUntilNanos = Long.MIN_VALUE;
  private final java.util.concurrent.atomic.AtomicInteger lateInARow =
      new java.util.concurrent.atomic.AtomicInteger();

  /** Non-null while the backend fails: from a failure until the next success. */
  private volatile @Nullable Outage outage;

  // Guarded by lock: when the last WARN was logged, and outages since then that were not.
  private final Object lock = new Object();
  private long lastWarnNanos = Long.MIN_VALUE;
  private int unloggedOutages;

  /**
   * @param retryInterval how long the circuit stays open after a failure
   * @param policy {@code on_backend_failure}, named in the log
   * @param registry receives the meters named above
   */
  public BackendCircuit(
      InstantSource clock,
      Duration retryInterval,
      BackendFailurePolicy policy,
      MeterRegistry registry) {
    this.clock = Objects.requireNonNull(clock, "clock");
    if (retryInterval.isNegative()) {
      throw new IllegalArgumentException("retryInterval must not be negative");
    }
    this.retryInterval = retryInterval;
    this.retryNanos = retryInterval.toNanos();
    this.policy = Objects.requireNonNull(policy, "policy");
    this.errors = errorCounter(registry);
    this.degraded = degradedCounters(registry);
    Gauge.builder(MetricNames.RATELIMIT_BACKEND_UP, this, c -> c.outage == null ? 1 : 0)
        .description(UP_DESCRIPTION)
        .register(registry);
  }

  /**
   * The meters of a backend that cannot fail (the in-memory one: {@code ratelimit.backend:
   * memory}), so that dashboards and alerts see them for either backend: both counters at 0 and
   * {@code portcullis_ratelimit_backend_up} at 1.
   */
  public static void registerWithoutBackend(MeterRegistry registry) {
    errorCounter(registry);
    degradedCounters(registry);
    Gauge.builder(MetricNames.RATELIMIT_BACKEND_UP, () -> 1)
        .description(UP_DESCRIPTION)
        .register(registry);
  }

  private static Counter errorCounter(MeterRegistry registry) {
    return Counter.builder(MetricNames.RATELIMIT_BACKEND_ERRORS)
        .description("Operations the shared limit backend (Redis) failed: an error or its timeout")
        .register(registry);
  }

  private static Map<Caller, Counter> degradedCounters(MeterRegistry registry) {
    Map<Caller, Counter> counters = new EnumMap<>(Caller.class);
    for (Caller c : Caller.values()) {
      counters.put(
          c,
          Counter.builder(MetricNames.RATELIMIT_BACKEND_DEGRADED_DECISIONS)
              .description(
                  "Answers given without the shared limit backend (Redis): failed, skipped while"
                      + " its circuit was open, or not answered by the caller's deadline")
              .tag("caller", c.tag())
              .register(registry));
    }
    return counters;
  }

  /**
   * How long a caller refused because the backend is unavailable ({@code on_backend_failure: deny})
   * should wait before trying again: the retry interval, when the backend is asked again, but at
   * least 1 s ({@code Retry-After} and RateLimit reset values are whole seconds).
   */
  public Duration retryAfter() {
    return Duration.ofNanos(Math.max(retryNanos, 1_000_000_000L));
  }

  /** Whether to ask the backend now; when false the caller must call {@link #skipped}. */
  public boolean allowsAttempt() {
    return elapsed(openUntilNanos, now());
  }

  /**
   * Whether a circuit open until {@code open} lets callers try at {@code now}: it is closed, its
   * interval has passed, or it ends further ahead than one retry interval, which only a backwards
   * step of the clock can cause (otherwise the circuit would stay open for the whole step).
   */
  private boolean elapsed(long open, long now) {
    return open == Long.MIN_VALUE || now >= open || open - now > retryNanos;
  }

  /** The backend answered: close the circuit, and end the outage if there was one. */
  public void succeeded() {
    if (lateInARow.get() != 0) {
      lateInARow.set(0); // read first: every answer passes here, a write only after late ones
    }
    if (openUntilNanos != Long.MIN_VALUE) {
      openUntilNanos = Long.MIN_VALUE;
    }
    Outage o = outage;
    if (o != null) {
      recovered(o);
    }
  }

  /**
   * The backend failed or timed out for this caller, who answers by its failure policy: count the
   * error and the degraded answer, open the circuit for the retry interval, and log the outage if
   * this begins it.
   *
   * @param reason what Redis said (no secrets: error messages of the client)
   */
  public void failed(Caller caller, String reason) {
    errors.increment();
    opened(caller, reason);
    degraded(caller);
  }

  /**
   * A call failed (an error, or the backend's own timeout) after every caller waiting for it had
   * stopped waiting at its own deadline ({@link #late}): count the error and open the circuit, as
   * {@link #failed} does, but count no degraded answer, since those callers counted theirs already.
   * Without this, a backend that no longer answers at all would never open the circuit while every
   * caller's deadline is shorter than its timeout, and every call would wait out its deadline.
   */
  public void failedLate(Caller caller, String reason) {
    errors.increment();
    opened(caller, reason);
  }

  /**
   * The backend did not answer within a caller's own deadline, shorter than the backend's timeout:
   * count the degraded answer, but leave the circuit as it is, since one caller's tight deadline
   * says nothing about the backend (the call's own failure, if it comes, is {@link #failedLate}).
   * {@link #LATE_IN_A_ROW_OPENS} such callers in a row, with no answer in time between them, do
   * open it (no error is counted: the backend failed nothing): a backend that answers every call,
   * but later than four fifths of Envoy's timeout and within its own, would otherwise never open
   * the circuit, and every call would wait out its deadline for as long as it stays that slow.
   */
  public void late(Caller caller) {
    degraded(caller);
    if (lateInARow.incrementAndGet() >= LATE_IN_A_ROW_OPENS) {
      opened(
          caller,
          "answers later than the callers' deadlines ("
              + LATE_IN_A_ROW_OPENS
              + " calls in a row; ratelimit.redis.timeout is longer than the time they leave)");
    }
  }

  /**
   * The caller's time was up before the backend was asked (it spent it elsewhere, say on a slow
   * introspection endpoint): count the degraded answer; this says nothing about the backend, so it
   * neither opens the circuit nor counts toward {@link #LATE_IN_A_ROW_OPENS}.
   */
  public void expired(Caller caller) {
    degraded(caller);
  }

  /**
   * The backend was not asked: the circuit is open, or (protection) this instance already has as
   * many calls waiting for it as it allows. Count the degraded answer.
   */
  public void skipped(Caller caller) {
    degraded(caller);
  }

  private void degraded(Caller caller) {
    degraded.get(caller).increment();
    Outage o = outage;
    if (o != null) {
      o.decisions.get(caller).increment();
    }
  }

  private void opened(Caller caller, String reason) {
    long now = now();
    openUntilNanos = now + retryNanos;
    Outage o = outage;
    if (o != null && !due(o.remindAtNanos, now)) {
      return; // the usual case during an outage: nothing to log
    }
    synchronized (lock) {
      o = outage;
      if (o == null) {
        began(caller, reason, now);
      } else if (due(o.remindAtNanos, now)) {
        remind(o, reason, now);
      }
    }
  }

  /** Whether a WARN planned at {@code at} is due at {@code now} (or the clock stepped back). */
  private static boolean due(long at, long now) {
    return now >= at || at - now > WARN_NANOS;
  }

  // Called holding lock.
  private void began(Caller caller, String reason, long now) {
    boolean warn = lastWarnNanos == Long.MIN_VALUE || due(lastWarnNanos + WARN_NANOS, now);
    outage = new Outage(now, warn, warn ? now + WARN_NANOS : lastWarnNanos + WARN_NANOS);
    if (!warn) {
      return; // counted in unloggedOutages if it ends before a reminder logs it
    }
    lastWarnNanos = now;
    log.warn(
        "rate limit backend (Redis) failing, applying on_backend_failure={} until it answers"
            + " again (asked again every {}): {} ({}){}",
        policy.wireName(),
        readable(retryInterval),
        reason,
        caller.tag(),
        unlogged());
  }

  // Called holding lock.
  private void remind(Outage o, String reason, long now) {
    o.remindAtNanos = now + WARN_NANOS;
    o.logged = true;
    lastWarnNanos = now;
    log.warn(
        "rate limit backend (Redis) still failing after {}: {}; {} so far{}",
        readable(Duration.ofNanos(Math.max(0, now - o.sinceNanos))),
        reason,
        o.describeDecisions(policy),
        unlogged());
  }

  private String unlogged() {
    int n = unloggedOutages;
    unloggedOutages = 0;
    return n == 0
        ? ""
        : "; it also failed "
            + n
            + (n == 1 ? " time" : " times")
            + " since the previous such line, each time answering again within a minute";
  }

  private void recovered(Outage o) {
    synchronized (lock) {
      if (outage != o) {
        return; // another caller's success ended it
      }
      outage = null;
      if (!o.logged) {
        unloggedOutages++;
        return;
      }
    }
    log.info(
        "rate limit backend (Redis) answers again after {}; {} meanwhile",
        readable(Duration.ofNanos(Math.max(0, now() - o.sinceNanos))),
        o.describeDecisions(policy));
  }

  private long now() {
    return EpochNanos.of(clock.instant());
  }

  /** {@code 350 ms}, {@code 12 s}, {@code 4 min 5 s}, {@code 2 h 10 min}. */
  static String readable(Duration d) {
    if (d.compareTo(Duration.ofSeconds(1)) < 0) {
      return d.toMillis() + " ms";
    }
    long s = d.toSeconds();
    if (s < 120) {
      return s + " s";
    }
    if (s < 7200) {
      return String.format(Locale.ROOT, "%d min %d s", s / 60, s % 60);
    }
    return String.format(Locale.ROOT, "%d h %d min", s / 3600, s % 3600 / 60);
  }

  /** One outage: when it began, whether its beginning was logged, what it cost. */
  private static final class Outage {
    final long sinceNanos;
    final Map<Caller, LongAdder> decisions = new EnumMap<>(Caller.class);
    // Guarded by the circuit's lock: a WARN about it was logged (so its end is too).
    boolean logged;
    // When the next WARN about it is due (read without the lock, written with it).
    volatile long remindAtNanos;

    Outage(long sinceNanos, boolean logged, long remindAtNanos) {
      this.sinceNanos = sinceNanos;
      this.logged = logged;
      this.remindAtNanos = remindAtNanos;
      for (Caller c : Caller.values()) {
        decisions.put(c, new LongAdder());
      }
    }

    /**
     * {@code 46 decisions made by on_backend_failure=local, 3 failed authentications counted in
     * this instance}.
     */
    String describeDecisions(BackendFailurePolicy policy) {
      long byPolicy = decisions.get(Caller.LIMITS).sum() + decisions.get(Caller.RLS).sum();
      long protect = decisions.get(Caller.PROTECT).sum();
      String s =
          byPolicy
              + (byPolicy == 1 ? " decision" : " decisions")
              + " made by on_backend_failure="
              + policy.wireName();
      return protect == 0
          ? s
          : s
              + ", "
              + protect
              + (protect == 1 ? " failed authentication" : " failed authentications")
              + " counted in this instance";
    }
  }
}
