package io.portcullis.limit.redis;

import io.portcullis.limit.LimitBackendException;

/**
 * One request's part of a {@code gcra.lua} reply.
 *
 * <p>The script answers a whole batch with <em>one</em> string, so that the client decodes a single
 * bulk value on its I/O thread instead of a list of boxed integers: Redis time in microseconds,
 * then one line per request in the order they were sent, lines separated by {@code '\n'}. A line is
 * the request's all-admitted flag followed by five integers per bucket (admitted, remaining, reset
 * µs, retry µs, state), comma-separated; or {@code 'E'} and the message of the error that failed
 * that request alone. {@link #split} only finds the lines (one {@code indexOf} each); each caller
 * parses its own numbers with {@link #values}, without allocating a string per number.
 *
 * @param text the script's whole reply
 * @param start where this request's line starts in {@code text}
 * @param end where it ends (exclusive)
 * @param redisNow Redis time when the script ran, in microseconds
 */
record GcraReply(String text, int start, int end, long redisNow) {
  /** The integers of each bucket's part of a line. */
  static final int VALUES_PER_BUCKET = 5;

  /**
   * The lines of {@code requests} requests.
   *
   * @throws LimitBackendException when the reply does not have exactly one line per request
   */
  static GcraReply[] split(String text, int requests) {
    int nl = text.indexOf('\n');
    if (nl < 0) {
      throw malformed("no request lines", text);
    }
    long now = parse(text, 0, nl);
    GcraReply[] lines = new GcraReply[requests];
    int at = nl + 1;
    for (int i = 0; i < requests; i++) {
      if (at > text.length()) {
        throw malformed(i + " lines for " + requests + " requests", text);
      }
      int end = text.indexOf('\n', at);
      if (end < 0) {
        end = text.length();
      }
      if (end == at) {
        throw malformed("empty line for request " + i, text);
      }
      lines[i] = new GcraReply(text, at, end, now);
      at = end + 1;
    }
    if (at <= text.length()) {
      throw malformed("more lines than the " + requests + " requests", text);
    }
    return lines;
  }

  /** True when the script failed this request (its line is an error message). */
  boolean failed() {
    return text.charAt(start) == 'E';
  }

  /** The error message of a {@linkplain #failed failed} request. */
  String error() {
    return text.substring(start + 1, end);
  }

  /**
   * The all-admitted flag, then {@link #VALUES_PER_BUCKET} values per bucket.
   *
   * @throws LimitBackendException when the line does not hold exactly that many integers
   */
  long[] values(int buckets) {
    long[] v = new long[1 + VALUES_PER_BUCKET * buckets];
    int from = start;
    for (int i = 0; i < v.length; i++) {
      int to = text.indexOf(',', from);
      if (to < 0 || to > end) {
        to = end;
      }
      if ((to == end) != (i == v.length - 1)) {
        throw malformed("a line of " + v.length + " values expected", text.substring(start, end));
      }
      v[i] = parse(text, from, to);
      from = to + 1;
    }
    return v;
  }

  private static long parse(String text, int from, int to) {
    try {
      return Long.parseLong(text, from, to, 10);
    } catch (NumberFormatException e) {
      throw malformed("not an integer", text.substring(from, to));
    }
  }

  private static LimitBackendException malformed(String what, String text) {
    String shown = text.length() > 200 ? text.substring(0, 200) + "…" : text;
    return new LimitBackendException(
        "redis script gcra.lua: malformed reply (" + what + "): " + shown.replace('\n', '|'));
  }
}
