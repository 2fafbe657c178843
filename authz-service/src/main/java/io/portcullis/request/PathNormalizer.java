package io.portcullis.request;

import java.util.Arrays;

/**
 * Normalizes a request path for rule matching, exactly as the spec's "Paths" section says, and
 * refuses every path whose meaning an upstream could read differently.
 *
 * <p>Design note. Authorization bypasses through paths come from a proxy and its upstream
 * disagreeing on what a path means (CVE-2021-29492 Envoy {@code %2F}, Spring/Tomcat {@code ..;},
 * IIS {@code \}). The normalizer therefore does one well-defined pass and treats every ambiguity as
 * {@code malformed_request} instead of guessing:
 *
 * <ol>
 *   <li>The query ({@code ?...}) is dropped. A raw {@code #} before it is refused: a request target
 *       never carries a fragment (Envoy rejects one), and a proxy that decoded {@code %23} before
 *       forwarding the path would otherwise have the rest of it ignored here.
 *   <li>The path must start with {@code /}; raw control characters, space, non-ASCII and {@code \}
 *       are refused.
 *   <li>Percent-encodings are decoded once (RFC 3986 §2.3: only unreserved characters {@code A-Z
 *       a-z 0-9 - . _ ~}); every other encoding stays encoded with upper-case hex (§6.2.2.1), so
 *       {@code %252e} stays {@code %252E} and is never decoded twice. Invalid encodings, {@code
 *       %2F}, {@code %5C} and {@code %00} are refused, and so is a {@code .} or {@code ..} segment
 *       spelled with {@code %2E}: upstreams differ on whether it is one, and a proxy that forwards
 *       an already decoded path (APISIX) turns a client's {@code %252e} into it.
 *   <li>Repeated {@code /} are merged first (as nginx does), then {@code .} and {@code ..} segments
 *       are resolved (RFC 3986 §5.2.4). A {@code ..} above the root is refused, and so is a {@code
 *       ..} right after an empty segment ({@code /v1/admin//../users}, {@code .} segments between
 *       them aside): merging first makes it {@code /v1/users}, but an upstream that resolves dot
 *       segments as RFC 3986 writes it (keeping the empty segment: Kestrel, WHATWG URL parsers)
 *       makes it {@code /v1/admin/users}.
 *   <li>Every raw {@code ;} is refused: Tomcat, Jetty and Spring strip {@code ;params} from
 *       <em>every</em> segment, so {@code /..;/admin} or {@code /v1/admin;x/users} would escape a
 *       deny rule on {@code /v1/admin/**} and still reach the admin endpoint. ({@code %3B} stays
 *       encoded and is an ordinary character.)
 *   <li>Case is preserved; a trailing {@code /} is preserved.
 * </ol>
 *
 * <p>Allocation: one {@link StringBuilder} per segment boundary; no regular expressions.
 * Thread-safe (stateless).
 */
public final class PathNormalizer {
  private static final int MAX_SEGMENTS = 256;

  private PathNormalizer() {}

  /** The outcome of normalizing one path. */
  public sealed interface Result permits Normalized, Malformed {}

  /** The path normalized. */
  public record Normalized(NormalizedPath path) implements Result {}

  /** The path is ambiguous or invalid; {@code why} is safe to show (it never echoes the path). */
  public record Malformed(String why) implements Result {}

  public static Result normalize(String raw) {
    int end = raw.length();
    for (int i = 0; i < end; i++) {
      char c = raw.charAt(i);
      if (c == '?') {
        end = i;
        break;
      }
      if (c == '#') {
        return new Malformed("'#' in path");
      }
    }
    if (end == 0 || raw.charAt(0) != '/') {
      return new Malformed("path must start with '/'");
    }
    String[] segments = new String[8];
    int count = 0;
    StringBuilder seg = new StringBuilder(32);
    // Whether an empty segment ('//') lies right before the current position, '.' segments aside,
    // and (allocated at the first '//' only) before each kept segment: a '..' that would remove an
    // empty segment under RFC 3986 but a real one once '//' is merged is ambiguous.
    boolean pendingEmpty = false;
    boolean[] emptyBefore = null;
    int i = 1;
    while (true) {
      seg.setLength(0);
      boolean encodedDot = false;
      while (i < end && raw.charAt(i) != '/') {
        char c = raw.charAt(i);
        if (c == '%') {
          if (i + 2 >= end) {
            return new Malformed("invalid percent-encoding");
          }
          int hi = hex(raw.charAt(i + 1));
          int lo = hex(raw.charAt(i + 2));
          if (hi < 0 || lo < 0) {
            return new Malformed("invalid percent-encoding");
          }
          int v = (hi << 4) | lo;
          if (v == '/' || v == '\\') {
            return new Malformed("encoded '/' or '\\' in path");
          }
          if (v == 0) {
            return new Malformed("NUL in path");
          }
          if (isUnreserved(v)) {
            seg.append((char) v);
            encodedDot |= v == '.';
          } else {
            seg.append('%').append(HEX[hi]).append(HEX[lo]);
          }
          i += 3;
          continue;
        }
        if (c == '\\') {
          return new Malformed("'\\' in path");
        }
        if (c == ';') {
          return new Malformed("';' (path parameters) in path");
        }
        if (c <= 0x20 || c >= 0x7f) {
          return new Malformed(c == 0 ? "NUL in path" : "invalid character in path");
        }
        seg.append(c);
        i++;
      }
      boolean last = i >= end;
      int len = seg.length();
      if (len == 0) {
        // Empty segment: '//' (merged) or the trailing '/'.
        if (last && count > 0) {
          segments = push(segments, count++, "");
        }
        pendingEmpty = !last;
      } else if (encodedDot && (isDot(seg) || isDotDot(seg))) {
        // Some upstreams resolve '%2e%2e' as '..', others route it as a name, and a proxy that
        // decoded the path once already (APISIX) turns a client's '%252e' into it: ambiguous.
        return new Malformed("percent-encoded dot segment");
      } else if (isDot(seg)) {
        if (last && count > 0) {
          segments = push(segments, count++, "");
        }
      } else if (isDotDot(seg)) {
        if (count == 0) {
          return new Malformed("path escapes the root");
        }
        if (pendingEmpty) {
          return new Malformed("'..' after '//' (ambiguous)");
        }
        count--;
        pendingEmpty = emptyBefore != null && emptyBefore[count];
        if (last && count > 0) {
          segments = push(segments, count++, "");
        }
      } else {
        if (count >= MAX_SEGMENTS) {
          return new Malformed("too many path segments");
        }
        if (pendingEmpty && emptyBefore == null) {
          emptyBefore = new boolean[MAX_SEGMENTS];
        }
        if (emptyBefore != null) {
          emptyBefore[count] = pendingEmpty;
        }
        pendingEmpty = false;
        segments = push(segments, count++, seg.toString());
      }
      if (last) {
        break;
      }
      i++; // skip '/'
    }
    return new Normalized(NormalizedPath.of(segments, count));
  }

  private static String[] push(String[] a, int at, String s) {
    String[] arr = a;
    if (at == arr.length) {
      arr = Arrays.copyOf(arr, arr.length * 2);
    }
    arr[at] = s;
    return arr;
  }

  private static boolean isDot(StringBuilder s) {
    return s.length() == 1 && s.charAt(0) == '.';
  }

  private static boolean isDotDot(StringBuilder s) {
    return s.length() == 2 && s.charAt(0) == '.' && s.charAt(1) == '.';
  }

  private static final char[] HEX = "0123456789ABCDEF".toCharArray();

  private static int hex(char c) {
    if (c >= '0' && c <= '9') {
      return c - '0';
    }
    if (c >= 'A' && c <= 'F') {
      return c - 'A' + 10;
    }
    if (c >= 'a' && c <= 'f') {
      return c - 'a' + 10;
    }
    return -1;
  }

  private static boolean isUnreserved(int c) {
    return (c >= 'A' && c <= 'Z')
        || (c >= 'a' && c <= 'z')
        || (c >= '0' && c <= '9')
        || c == '-'
        || c == '.'
        || c == '_'
        || c == '~';
  }
}
