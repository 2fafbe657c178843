package io.portcullis.request;

import java.util.Map;
import org.jspecify.annotations.Nullable;

/**
 * Size limits on request headers (spec step 1: "headers within limits"). Defaults admit anything
 * Envoy forwards with its default {@code max_request_headers_kb} of 60 while refusing oversized
 * single headers, which are the usual vehicle for parser and cache-poisoning attacks.
 *
 * @param maxHeaderBytes largest name plus value of one header
 * @param maxTotalBytes largest sum over all headers
 * @param maxCount most headers
 */
public record HeaderLimits(int maxHeaderBytes, int maxTotalBytes, int maxCount) {
  public static final HeaderLimits DEFAULT = new HeaderLimits(16 * 1024, 64 * 1024, 200);

  public HeaderLimits {
    if (maxHeaderBytes <= 0 || maxTotalBytes <= 0 || maxCount <= 0) {
      throw new IllegalArgumentException("header limits must be positive");
    }
  }

  /**
   * Checks {@code headers} against the limits.
   *
   * @return {@code null} if within limits, else why not (naming the header, never its value)
   */
  public @Nullable String violation(Headers headers) {
    if (headers.size() > maxCount) {
      return "more than " + maxCount + " headers";
    }
    long total = 0;
    for (Map.Entry<String, String> e : headers.asMap().entrySet()) {
      int size = e.getKey().length() + e.getValue().length();
      if (size > maxHeaderBytes) {
        return "header '" + printable(e.getKey()) + "' larger than " + maxHeaderBytes + " bytes";
      }
      total += size;
    }
    if (total > maxTotalBytes) {
      return "headers larger than " + maxTotalBytes + " bytes in total";
    }
    return null;
  }

  private static String printable(String name) {
    String n = name.length() > 64 ? name.substring(0, 64) + "..." : name;
    StringBuilder b = new StringBuilder(n.length());
    for (int i = 0; i < n.length(); i++) {
      char c = n.charAt(i);
      b.append(c >= 0x21 && c < 0x7f ? c : '?');
    }
    return b.toString();
  }
}
