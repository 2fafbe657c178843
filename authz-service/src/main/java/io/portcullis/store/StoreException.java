package io.portcullis.store;

/**
 * The database could not be reached or refused an operation (connection lost, timeout, disk full,
 * failed migration). Callers decide the policy: the audit writer spills to its journal, admin calls
 * answer 503.
 */
public final class StoreException extends RuntimeException {
  private static final long serialVersionUID = 1L;

  public StoreException(String message, Throwable cause) {
    super(message, cause);
  }

  public StoreException(String message) {
    super(message);
  }
}
