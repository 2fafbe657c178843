package io.portcullis.decision;

import java.time.InstantSource;
import java.util.Objects;
import java.util.UUID;
import java.util.concurrent.ThreadLocalRandom;
import org.jspecify.annotations.Nullable;

/**
 * Decision ids: the proxy's {@code x-request-id} when it is a plausible id, otherwise a
 * time-ordered UUID (version 7, RFC 9562), so ids sort by time in the audit log. A request id that
 * is empty, longer than 128 characters, or has characters outside {@code [A-Za-z0-9._:-]} is not
 * trusted (it would end up in headers and logs) and a UUID is minted instead. Thread-safe.
 *
 * <p>Minting is on every decision's path, so it takes no lock: the 48-bit Unix millisecond
 * timestamp, then 74 random bits from the calling thread's {@link ThreadLocalRandom}. Ids minted in
 * the same millisecond are unordered among themselves (RFC 9562 section 6.2 makes the counter
 * optional). A decision id names a decision; it is returned to the caller in a header and grants
 * nothing, so it needs to be unique, not unguessable. (java-uuid-generator's version 7 generators,
 * used before, serialize every call on one lock around a {@code SecureRandom} read: 3% of a
 * cached-JWT decision's CPU samples, loadtest/RESULTS.md.)
 */
public final class DecisionIds {
  private static final int MAX_LENGTH = 128;

  private final InstantSource clock;

  public DecisionIds(InstantSource clock) {
    this.clock = Objects.requireNonNull(clock, "clock");
  }

  /** The decision id for a request with this {@code x-request-id} (may be {@code null}). */
  public String decisionId(@Nullable String requestId) {
    if (requestId != null && isPlausible(requestId)) {
      return requestId;
    }
    return mint();
  }

  /** A new time-ordered UUID (version 7). */
  public String mint() {
    return uuidV7(clock.millis(), ThreadLocalRandom.current()).toString();
  }

  /**
   * The version 7 UUID of {@code unixMillis}: 48 bits of time, version {@code 0111}, 12 random
   * bits, variant {@code 10}, 62 random bits (RFC 9562 section 5.7).
   */
  static UUID uuidV7(long unixMillis, ThreadLocalRandom random) {
    long msb = (unixMillis << 16) | 0x7000L | (random.nextInt() & 0x0FFFL);
    long lsb = (random.nextLong() & 0x3FFF_FFFF_FFFF_FFFFL) | 0x8000_0000_0000_0000L;
    return new UUID(msb, lsb);
  }

  static boolean isPlausible(String id) {
    int n = id.length();
    if (n == 0 || n > MAX_LENGTH) {
      return false;
    }
    for (int i = 0; i < n; i++) {
      char c = id.charAt(i);
      boolean ok =
          (c >= 'a' && c <= 'z')
              || (c >= 'A' && c <= 'Z')
              || (c >= '0' && c <= '9')
              || c == '-'
              || c == '.'
              || c == '_'
              || c == ':';
      if (!ok) {
        return false;
      }
    }
    return true;
  }
}
