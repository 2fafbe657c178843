package io.portcullis.request;

import org.jspecify.annotations.Nullable;

/** The HTTP methods Portcullis knows (RFC 9110 and PATCH); any other method is malformed. */
public enum HttpMethod {
  GET,
  HEAD,
  POST,
  PUT,
  DELETE,
  CONNECT,
  OPTIONS,
  TRACE,
  PATCH;

  private static final HttpMethod[] VALUES = values();

  /** One bit per method, so that a rule's method set is a single {@code int}. */
  public int bit() {
    return 1 << ordinal();
  }

  /** Bits of every method. */
  public static int allBits() {
    return (1 << VALUES.length) - 1;
  }

  /**
   * Parses a method name as sent on the wire. Methods are case-sensitive (RFC 9110 §9.1), so {@code
   * get} is not {@code GET}.
   *
   * @return the method, or {@code null} if it is not one Portcullis knows
   */
  public static @Nullable HttpMethod parse(@Nullable String name) {
    if (name == null) {
      return null;
    }
    for (HttpMethod m : VALUES) {
      if (m.name().equals(name)) {
        return m;
      }
    }
    return null;
  }
}
