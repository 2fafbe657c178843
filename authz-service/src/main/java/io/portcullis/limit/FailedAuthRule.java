package io.portcullis.limit;

import io.portcullis.net.SourceKeys;
import io.portcullis.request.RequestAttributes;
import java.time.Duration;
import java.util.Locale;
import java.util.Objects;
import org.jspecify.annotations.Nullable;

/**
 * The policy's {@code protect.failed_auth}: block a source for {@code blockFor} once it has failed
 * authentication {@code threshold} times within {@code window}. The key is read before identity is
 * known, so it is the source IP or a request header. A header's value is keyed as in a {@code
 * header:} limit key ({@link LimitKey.Header}): a credential header or a long value by its SHA-256
 * digest.
 *
 * @param key {@code ip} or {@code header:<name>}
 */
public record FailedAuthRule(String key, int threshold, Duration window, Duration blockFor) {
  public FailedAuthRule {
    Objects.requireNonNull(key, "key");
    if (!key.equals("ip") && !key.startsWith("header:")) {
      throw new IllegalArgumentException("protect key must be 'ip' or 'header:<name>'");
    }
    if (threshold <= 0
        || window.isNegative()
        || window.isZero()
        || blockFor.isNegative()
        || blockFor.isZero()) {
      throw new IllegalArgumentException("threshold, window and block_for must be positive");
    }
  }

  /** This rule's key for a request (e.g. {@code ip:203.0.113.7}), or {@code null} if absent. */
  public @Nullable String keyOf(RequestAttributes request) {
    if (key.equals("ip")) {
      return "ip:" + SourceKeys.of(request.sourceIp());
    }
    // keyed like a header: limit key, so a credential header (failed_auth on header:x-api-key) is
    // counted, stored in Redis, announced and listed under its digest, never the secret, and a
    // client-chosen 16 KiB value cannot make a 16 KiB key
    String v = HEADERS.computeIfAbsent(key, FailedAuthRule::header).value(request);
    return v == null ? null : key + ":" + v;
  }

  /**
   * The header key part of each {@code header:<name>} rule key, built once: keyOf runs on every
   * request when {@code protect} is configured.
   */
  private static final java.util.concurrent.ConcurrentHashMap<String, LimitKey.Header> HEADERS =
      new java.util.concurrent.ConcurrentHashMap<>();

  private static LimitKey.Header header(String key) {
    return new LimitKey.Header(key.substring("header:".length()).toLowerCase(Locale.ROOT));
  }
}
