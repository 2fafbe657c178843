package io.portcullis.config;

import java.time.Duration;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;

/**
 * Runs a check for changed files every so often on a daemon thread of its own: for the files the
 * service re-reads when they change ({@link FileVersion}). A check that throws is logged and runs
 * again next time; left to escape, it would cancel the periodic check for good, silently.
 */
public final class FileCheck {
  private FileCheck() {}

  /**
   * Starts running {@code check} every {@code every}, first after one interval.
   *
   * @param thread the thread's name
   * @param what what is checked, for the log line when a check fails
   * @return the executor to shut down when the checks should stop
   */
  public static ScheduledExecutorService every(
      Duration every, String thread, Logger log, String what, Runnable check) {
    ScheduledExecutorService w =
        Executors.newSingleThreadScheduledExecutor(
            r -> {
              Thread t = new Thread(r, thread);
              t.setDaemon(true);
              return t;
            });
    w.scheduleWithFixedDelay(
        () -> {
          try {
            check.run();
          } catch (RuntimeException | InternalError e) {
            log.error("checking {} for a new file failed", what, e);
          }
        },
        every.toNanos(),
        every.toNanos(),
        TimeUnit.NANOSECONDS);
    return w;
  }
}
