package io.portcullis.request;

import java.util.Arrays;
import java.util.List;

/**
 * A path after {@link PathNormalizer}: no query, unreserved characters decoded, other
 * percent-encodings in upper-case hex, no {@code .}/{@code ..} segments, no repeated {@code /}.
 * Rules match against it. Its {@link #segments() segments} exclude the leading {@code /}; a
 * trailing {@code /} shows as a final empty segment ({@code /v1/orders/} is {@code [v1, orders,
 * ""]}), and {@code /} has no segments.
 */
public final class NormalizedPath {
  private static final String[] NONE = new String[0];
  private static final NormalizedPath ROOT = new NormalizedPath("/", NONE);

  private final String value;
  private final String[] segments;

  private NormalizedPath(String value, String[] segments) {
    this.value = value;
    this.segments = segments;
  }

  static NormalizedPath root() {
    return ROOT;
  }

  static NormalizedPath of(String[] segments, int count) {
    if (count == 0) {
      return ROOT;
    }
    String[] s = Arrays.copyOf(segments, count);
    return new NormalizedPath("/" + String.join("/", s), s);
  }

  /** The normalized path, e.g. {@code /v1/orders/42}. */
  public String value() {
    return value;
  }

  public int segmentCount() {
    return segments.length;
  }

  public String segment(int index) {
    return segments[index];
  }

  public List<String> segments() {
    return List.of(segments);
  }

  @Override
  public boolean equals(Object o) {
    return o instanceof NormalizedPath p && p.value.equals(value);
  }

  @Override
  public int hashCode() {
    return value.hashCode();
  }

  @Override
  public String toString() {
    return value;
  }
}
