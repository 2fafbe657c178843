package io.portcullis.payload;

import io.portcullis.request.Body;
import org.jspecify.annotations.Nullable;

/**
 * A compiled request-body schema (spec step 7). Compiled once per policy; {@link #validate} is
 * thread-safe and does no I/O.
 */
public interface BodySchema {

  /**
   * Validates a complete body. The caller has already turned a truncated body into {@code
   * body_too_large}.
   *
   * @param body the request body (possibly empty: a rule with a schema never accepts a missing
   *     body)
   * @param contentType the request's {@code content-type}, or {@code null}
   * @return {@code null} if the body is valid, else a short description of the first problem that
   *     never quotes the body
   */
  @Nullable String validate(Body body, @Nullable String contentType);

  /** Where the schema came from (path relative to the policy file), for traces and errors. */
  String source();
}
