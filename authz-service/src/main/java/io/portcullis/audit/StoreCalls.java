package io.portcullis.audit;

import java.time.Duration;
import java.util.concurrent.CancellationException;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.FutureTask;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.function.BooleanSupplier;
import java.util.function.Supplier;
import org.jspecify.annotations.Nullable;

/**
 * The audit writer's calls to its store, each run on a thread of its own so that the writer waits
 * for an answer only up to a deadline, one call at a time.
 *
 * <p>Design note. A store can hang rather than fail: a table lock held by another session, a frozen
 * file system under SQLite, a database host that stopped answering. JDBC has no way to take a call
 * back from the thread making it: {@code Statement.cancel} and query timeouts reach a database that
 * still answers, not a thread blocked in a write to a frozen disk or reading a socket nobody writes
 * to. So the call runs on this class's thread and the caller stops waiting for it at its deadline,
 * or earlier when its {@code stopWaiting} test says so; the call is then left running (its outcome
 * unknown: the writer journals its records, and a replay skips those the call did store). While a
 * call is still running, every further one is refused at once: a hung store holds one thread and
 * one connection, not one per retry, and calls never overlap.
 *
 * <p>Thread-safe.
 */
final class StoreCalls implements AutoCloseable {
  /** How often a waiting caller asks its {@code stopWaiting} test. */
  private static final long POLL_NANOS = TimeUnit.MILLISECONDS.toNanos(5);

  private final ExecutorService executor;

  /** The last call started; guarded by {@code this}. */
  private @Nullable FutureTask<?> last;

  /** When {@link #last} started ({@link System#nanoTime()}); guarded by {@code this}. */
  private long lastStarted;

  StoreCalls(String threadName) {
    this.executor =
        Executors.newSingleThreadExecutor(
            r -> {
              Thread t = new Thread(r, threadName);
              t.setDaemon(true);
              return t;
            });
  }

  /** How a call ended, for its caller. */
  sealed interface Outcome<T> {}

  /** The store answered with {@code value}. */
  record Answered<T>(T value) implements Outcome<T> {}

  /** The store failed: {@code error} is what the call threw. */
  record Failed<T>(RuntimeException error) implements Outcome<T> {}

  /**
   * The caller stopped waiting; the call may still complete or fail later.
   *
   * @param why which bound ended the wait
   * @param waited how long the call had been running then (an earlier call, for {@link
   *     Why#EARLIER_CALL_RUNNING})
   */
  record NoAnswer<T>(Why why, Duration waited) implements Outcome<T> {}

  /** Why a caller stopped waiting. */
  enum Why {
    /** Its deadline passed. */
    DEADLINE,
    /** Its {@code stopWaiting} test said so. */
    STOPPED_WAITING,
    /** An earlier call had not returned yet, so this one was not started. */
    EARLIER_CALL_RUNNING
  }

  /**
   * Runs {@code work} and waits for it until {@code deadline} ({@link System#nanoTime()}), or until
   * {@code stopWaiting} returns {@code true} (asked every 5 ms while waiting).
   *
   * @throws Error if {@code work} threw one
   */
  <T> Outcome<T> call(Supplier<T> work, long deadline, BooleanSupplier stopWaiting) {
    FutureTask<T> task = new FutureTask<>(work::get);
    long started;
    synchronized (this) {
      if (deadline - System.nanoTime() <= 0) {
        return new NoAnswer<>(Why.DEADLINE, Duration.ZERO); // not started: no one would wait
      }
      FutureTask<?> previous = last;
      if (previous != null && !previous.isDone()) {
        return new NoAnswer<>(
            Why.EARLIER_CALL_RUNNING, Duration.ofNanos(System.nanoTime() - lastStarted));
      }
      started = System.nanoTime();
      last = task;
      lastStarted = started;
      executor.execute(task);
    }
    boolean interrupted = false;
    try {
      while (true) {
        long left = deadline - System.nanoTime();
        if (left <= 0) {
          return new NoAnswer<>(Why.DEADLINE, Duration.ofNanos(System.nanoTime() - started));
        }
        try {
          return new Answered<>(task.get(Math.min(left, POLL_NANOS), TimeUnit.NANOSECONDS));
        } catch (TimeoutException e) {
          if (stopWaiting.getAsBoolean()) {
            return new NoAnswer<>(
                Why.STOPPED_WAITING, Duration.ofNanos(System.nanoTime() - started));
          }
        } catch (ExecutionException e) {
          Throwable cause = e.getCause();
          if (cause instanceof Error err) {
            throw err;
          }
          return new Failed<>(
              cause instanceof RuntimeException r ? r : new IllegalStateException(cause));
        } catch (CancellationException e) {
          return new Failed<>(e);
        } catch (InterruptedException e) {
          interrupted = true; // the writer's threads are not interrupted; keep the bound anyway
        }
      }
    } finally {
      if (interrupted) {
        Thread.currentThread().interrupt();
      }
    }
  }

  /** Whether a call is running (perhaps one its caller stopped waiting for). */
  synchronized boolean busy() {
    return last != null && !last.isDone();
  }

  /**
   * Starts no more calls. A call still running keeps its thread (a daemon) until the store answers
   * or fails; it is not interrupted, which would leave its connection in an unknown state.
   */
  @Override
  public void close() {
    executor.shutdown();
  }
}
