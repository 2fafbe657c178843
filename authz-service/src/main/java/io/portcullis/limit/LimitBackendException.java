package io.portcullis.limit;

/**
 * A shared limit backend (Redis) failed or timed out. Thrown only by backends that talk to another
 * process; {@link FailoverRateLimiter} and the failover counters turn it into the configured {@code
 * on_backend_failure} policy, so the decision pipeline never sees it.
 */
public final class LimitBackendException extends RuntimeException {
  private static final long serialVersionUID = 1L;

  public LimitBackendException(String message) {
    super(message);
  }

  public LimitBackendException(String message, Throwable cause) {
    super(message, cause);
  }
}
