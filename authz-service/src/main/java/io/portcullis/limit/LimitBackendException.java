package io.portcullis.limit;

import org.jspecify.annotations.Nullable;

/**
 * A shared limit backend (Redis) failed or timed out. Thrown only by backends that talk to another
 * process; {@link FailoverRateLimiter} and the failover counters turn it into the configured {@code
 * on_backend_failure} policy, so the decision pipeline never sees it.
 */
public final class LimitBackendException extends RuntimeException {
  private static final long serialVersionUID = 1L;

  private final boolean callersDeadline;

  public LimitBackendException(String message) {
    super(message);
    this.callersDeadline = false;
  }

  public LimitBackendException(String message, Throwable cause) {
    this(message, cause, false);
  }

  private LimitBackendException(
      String message, @Nullable Throwable cause, boolean callersDeadline) {
    super(message, cause);
    this.callersDeadline = callersDeadline;
  }

  /**
   * The backend did not answer within the time the caller had left, which was shorter than the
   * backend's own timeout: the caller needs the failure policy's answer now, but the backend may be
   * well (a caller's tight deadline says nothing about it). {@code cause} is {@code null} when the
   * caller's time was up before the backend was asked.
   */
  public static LimitBackendException callersDeadline(String message, @Nullable Throwable cause) {
    return new LimitBackendException(message, cause, true);
  }

  /** Whether this is a {@link #callersDeadline} failure rather than the backend's. */
  public boolean isCallersDeadline() {
    return callersDeadline;
  }

  /**
   * Whether the backend was asked and kept the caller waiting: every failure but a {@link
   * #callersDeadline} one whose caller's time was up before anything was sent (no {@code cause}),
   * which says nothing about the backend (the caller spent its time elsewhere, say verifying a
   * token at a slow introspection endpoint).
   */
  public boolean backendWasAsked() {
    return !callersDeadline || getCause() != null;
  }
}
