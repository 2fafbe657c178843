package io.portcullis.request;

import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import org.jspecify.annotations.Nullable;

/**
 * The request body as the proxy forwarded it (Envoy sends it only with {@code with_request_body}).
 * {@code partial} is true when the proxy truncated it ({@code x-envoy-auth-partial-body: true}, see
 * {@link #markedPartial}). Never logged or stored.
 */
public final class Body {
  private static final Body EMPTY = new Body(new byte[0], false);

  private final byte[] bytes;
  private final boolean partial;

  private Body(byte[] bytes, boolean partial) {
    this.bytes = bytes;
    this.partial = partial;
  }

  public static Body empty() {
    return EMPTY;
  }

  public static Body of(byte[] bytes, boolean partial) {
    return bytes.length == 0 && !partial ? EMPTY : new Body(bytes.clone(), partial);
  }

  public static Body of(String utf8, boolean partial) {
    return of(utf8.getBytes(StandardCharsets.UTF_8), partial);
  }

  /** A copy of the body bytes. */
  public byte[] bytes() {
    return bytes.clone();
  }

  /** Reads the body without copying; callers must not modify the array. */
  public byte[] unsafeBytes() {
    return bytes;
  }

  public int length() {
    return bytes.length;
  }

  public boolean isEmpty() {
    return bytes.length == 0;
  }

  public boolean partial() {
    return partial;
  }

  /**
   * Whether an {@code x-envoy-auth-partial-body} value marks the body truncated: any of its
   * comma-separated elements is {@code true} (case-insensitive, blanks around it ignored). A client
   * can send the header too, and proxies join repeated headers with {@code ","}; so a client's
   * {@code false} beside the proxy's {@code true} must not make a truncated body look complete.
   * {@code null} (no header) is {@code false}.
   */
  public static boolean markedPartial(@Nullable String headerValue) {
    if (headerValue == null) {
      return false;
    }
    for (String element : headerValue.split(",", -1)) {
      if (element.strip().equalsIgnoreCase("true")) {
        return true;
      }
    }
    return false;
  }

  @Override
  public boolean equals(Object o) {
    return o instanceof Body b && partial == b.partial && Arrays.equals(bytes, b.bytes);
  }

  @Override
  public int hashCode() {
    return Arrays.hashCode(bytes) * 31 + Boolean.hashCode(partial);
  }

  /** Never the content: bodies can hold personal data and secrets. */
  @Override
  public String toString() {
    return "Body[" + bytes.length + " bytes" + (partial ? ", partial" : "") + "]";
  }
}
