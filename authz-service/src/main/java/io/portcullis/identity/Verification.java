package io.portcullis.identity;

import io.portcullis.decision.Reason;

/**
 * The outcome of verifying one presented credential: a value, never an exception. A rejection's
 * {@code detail} goes to the audit record and the explain trace, so it must never contain the
 * credential itself.
 */
public sealed interface Verification permits Verification.Verified, Verification.Rejected {

  static Verification verified(Identity identity) {
    return new Verified(identity);
  }

  static Verification rejected(Reason reason, String detail) {
    return new Rejected(reason, detail);
  }

  /** The credential verified and names this identity. */
  record Verified(Identity identity) implements Verification {}

  /**
   * The credential was presented but does not verify.
   *
   * @param reason one of the step-3 reasons ({@code invalid_token}, {@code expired_token}, ...)
   * @param detail why, for operators; never the credential
   */
  record Rejected(Reason reason, String detail) implements Verification {}
}
