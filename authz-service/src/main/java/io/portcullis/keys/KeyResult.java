package io.portcullis.keys;

import java.util.Objects;

/**
 * The outcome of a key lifecycle operation ({@link KeyLifecycle}): a value, or why the operation
 * was refused. Store failures are not outcomes: they are thrown ({@link
 * io.portcullis.store.StoreException}).
 */
public sealed interface KeyResult<T> permits KeyResult.Ok, KeyResult.Refused {

  /** Why an operation was refused; each adapter maps it (HTTP status, gRPC code, exit status). */
  enum Refusal {
    /** A request field is missing or invalid (HTTP 400). */
    INVALID_REQUEST,
    /** No key has this id (HTTP 404). */
    NOT_FOUND,
    /** The key is revoked, so it cannot be rotated (HTTP 409). */
    REVOKED,
    /** The key has expired, so it cannot be rotated (HTTP 409). */
    EXPIRED
  }

  /** The operation was done. */
  record Ok<T>(T value) implements KeyResult<T> {
    public Ok {
      Objects.requireNonNull(value, "value");
    }
  }

  /**
   * The operation was refused and nothing changed.
   *
   * @param refusal the kind of refusal
   * @param detail for the operator; never contains a secret
   */
  record Refused<T>(Refusal refusal, String detail) implements KeyResult<T> {
    public Refused {
      Objects.requireNonNull(refusal, "refusal");
      Objects.requireNonNull(detail, "detail");
    }
  }

  static <T> KeyResult<T> ok(T value) {
    return new Ok<>(value);
  }

  static <T> KeyResult<T> refused(Refusal refusal, String detail) {
    return new Refused<>(refusal, detail);
  }
}
