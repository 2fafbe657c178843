package io.portcullis.cli;

import java.util.List;
import java.util.concurrent.atomic.AtomicBoolean;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import sun.misc.Signal;
import sun.misc.SignalHandler;

/**
 * SIGTERM and SIGINT for {@code serve}. The first one stops the JVM as its own handler would (exit
 * status 128 + the signal's number: 143, 130), whose shutdown hook drains the service through
 * {@code server.shutdown_delay}; each later one runs {@code again}, which ends that wait. Without
 * this handler a second signal would do nothing: the JVM's own blocks while the hooks run.
 *
 * <p>SIGINT skips the delay from the first: it is Ctrl-C at a terminal, where no load balancer
 * waits for a health check and a 15 s pause only looks like a hang. Orchestrators stop with SIGTERM
 * (Kubernetes, {@code docker stop}, systemd), which keeps the whole delay.
 *
 * <p>Uses {@code sun.misc.Signal}, as {@code ReloadSignal} does for SIGHUP (JEP 260 keeps it
 * available). Where a signal cannot be handled (Windows, {@code -Xrs}) or was ignored when the
 * process started (SIGINT of a background job), the JVM's own handling stays: the first signal
 * drains, with the whole delay.
 */
final class StopSignals {
  private static final Logger log = LoggerFactory.getLogger(StopSignals.class);

  private static final List<String> SIGNALS = List.of("TERM", "INT");

  private StopSignals() {}

  /** Installs the handlers for the rest of the process's life. */
  static void install(Runnable again) {
    AtomicBoolean stopping = new AtomicBoolean();
    SignalHandler handler =
        signal -> {
          if (stopping.compareAndSet(false, true)) {
            if (signal.getName().equals("INT")) {
              log.info("SIGINT received: stopping without the shutdown delay");
              again.run(); // before the hook starts waiting, so it does not wait at all
            } else {
              log.info("SIG{} received: stopping", signal.getName());
            }
            System.exit(128 + signal.getNumber()); // runs the shutdown hooks, as the JVM's would
          } else {
            log.info("SIG{} received again: no more waiting", signal.getName());
            again.run();
          }
        };
    for (String name : SIGNALS) {
      try {
        Signal signal = new Signal(name);
        if (Signal.handle(signal, handler) == SignalHandler.SIG_IGN) {
          // ignored since the process started: the JVM installed nothing and keeps it ignored
          Signal.handle(signal, SignalHandler.SIG_IGN);
        }
      } catch (IllegalArgumentException e) {
        log.debug("SIG{} stays with the JVM: {}", name, e.getMessage());
      }
    }
  }
}
