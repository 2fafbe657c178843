package io.portcullis.policy;

import java.util.Objects;
import java.util.Optional;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import sun.misc.Signal;
import sun.misc.SignalHandler;

/**
 * Reloads the policy on {@code SIGHUP}, the Unix convention for "re-read your configuration"
 * ({@code kill -HUP <pid>}, {@code systemctl reload}). The service's main installs it once, with
 * {@link PolicyWatcher#requestReload()} as the action (or {@link LivePolicy#reload()} when the
 * policy is not watched).
 *
 * <p>Uses {@code sun.misc.Signal} from the {@code jdk.unsupported} module: the JDK has no supported
 * API for signals, and this one has been stable since Java 1.4 and is explicitly kept available
 * (JEP 260). The JVM runs the handler on a short-lived thread of its own, so the action should only
 * hand the work off (as {@code requestReload} does). The signal is unavailable on Windows and when
 * the JVM runs with {@code -Xrs}; {@link #install} then returns empty and logs why.
 */
public final class ReloadSignal implements AutoCloseable {
  private static final Logger log = LoggerFactory.getLogger(ReloadSignal.class);

  /** The signal's name as {@code sun.misc.Signal} knows it. */
  public static final String SIGNAL = "HUP";

  private final Signal signal;
  private final SignalHandler previous;

  private ReloadSignal(Signal signal, SignalHandler previous) {
    this.signal = signal;
    this.previous = previous;
  }

  /**
   * Runs {@code reload} on every SIGHUP from now on.
   *
   * @return the installed handler (close it to restore the previous one), or empty when this
   *     platform or JVM does not deliver SIGHUP to Java, or the process was started with SIGHUP
   *     ignored (nohup), which the JVM then keeps ignored
   */
  public static Optional<ReloadSignal> install(Runnable reload) {
    Objects.requireNonNull(reload, "reload");
    try {
      Signal hup = new Signal(SIGNAL);
      SignalHandler previous =
          Signal.handle(
              hup,
              s -> {
                log.info("SIGHUP received: reloading");
                try {
                  reload.run();
                } catch (RuntimeException e) {
                  log.error("reload on SIGHUP failed", e);
                }
              });
      if (previous == SignalHandler.SIG_IGN) {
        // The JVM keeps a signal ignored when the parent process ignored it (nohup, some
        // supervisors): the handler above was not installed and SIGHUP would do nothing.
        Signal.handle(hup, SignalHandler.SIG_IGN);
        log.warn(
            "SIGHUP is ignored by this process (started under nohup?); reload with POST"
                + " /admin/policy/reload, or set policy.watch: true");
        return Optional.empty();
      }
      return Optional.of(new ReloadSignal(hup, previous));
    } catch (IllegalArgumentException e) {
      log.warn(
          "SIGHUP cannot be handled here ({}); reload with POST /admin/policy/reload",
          e.getMessage());
      return Optional.empty();
    }
  }

  /** Restores the handler that was installed before. */
  @Override
  public void close() {
    Signal.handle(signal, previous);
  }
}
