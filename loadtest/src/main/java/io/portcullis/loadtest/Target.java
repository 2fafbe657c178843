package io.portcullis.loadtest;

/**
 * Something the load generator sends requests to: a gRPC method, an HTTP endpoint, or a limiter
 * called in-process. Implementations must not block the caller for longer than it takes to hand the
 * request off (the open-loop scheduler calls {@link #send} on its own thread).
 */
interface Target extends AutoCloseable {

  /**
   * Starts request number {@code seq}; calls {@code done} exactly once, from any thread, when the
   * answer is in (or the request failed).
   */
  void send(long seq, Completion done);

  /** What became of one request. */
  interface Completion {
    /**
     * @param outcome the answer's short name ({@code allow}, a deny reason code, {@code admitted},
     *     {@code OK}, an HTTP status), or {@code error:<what>} for a transport failure
     * @param correct whether the answer is one the request's probe accepts; a wrong decision counts
     *     as an error
     */
    void complete(String outcome, boolean correct);
  }

  /** A short human name (for tables). */
  String name();

  @Override
  default void close() throws Exception {}
}
