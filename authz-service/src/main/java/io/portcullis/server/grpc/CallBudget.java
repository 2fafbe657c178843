package io.portcullis.server.grpc;

/**
 * How much of a call's remaining deadline ({@code grpc-timeout}, which Envoy sets to the filter's
 * timeout) the answer may spend waiting for a shared store (Redis), for {@code Check} and the rate
 * limit service alike: all but a fifth, which is kept for the rest of the work and the answer's way
 * back, so that {@code on_backend_failure} answers while Envoy still waits instead of Envoy giving
 * up first and applying its own failure mode.
 */
final class CallBudget {
  /**
   * The part of the caller's remaining time kept for the answer's way back: the wait for Redis may
   * use all but 1/{@value} of it.
   */
  static final long ANSWER_MARGIN = 5;

  private CallBudget() {}

  /** The part of {@code leftNanos} (the call's remaining time) the wait for Redis may use. */
  static long usable(long leftNanos) {
    return leftNanos - leftNanos / ANSWER_MARGIN;
  }
}
