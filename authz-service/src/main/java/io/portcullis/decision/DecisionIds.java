package io.portcullis.decision;

import com.fasterxml.uuid.Generators;
import com.fasterxml.uuid.UUIDClock;
import com.fasterxml.uuid.impl.TimeBasedEpochGenerator;
import java.security.SecureRandom;
import java.time.InstantSource;
import org.jspecify.annotations.Nullable;

/**
 * Decision ids: the proxy's {@code x-request-id} when it is a plausible id, otherwise a
 * time-ordered UUID (version 7, RFC 9562), so ids sort by time in the audit log. A request id that
 * is empty, longer than 128 characters, or has characters outside {@code [A-Za-z0-9._:-]} is not
 * trusted (it would end up in headers and logs) and a UUID is minted instead. Thread-safe.
 */
public final class DecisionIds {
  private static final int MAX_LENGTH = 128;

  private final TimeBasedEpochGenerator generator;

  public DecisionIds(InstantSource clock) {
    UUIDClock uuidClock =
        new UUIDClock() {
          @Override
          public long currentTimeMillis() {
            return clock.millis();
          }
        };
    this.generator = Generators.timeBasedEpochGenerator(new SecureRandom(), uuidClock);
  }

  /** The decision id for a request with this {@code x-request-id} (may be {@code null}). */
  public String decisionId(@Nullable String requestId) {
    if (requestId != null && isPlausible(requestId)) {
      return requestId;
    }
    return mint();
  }

  /** A new time-ordered UUID. */
  public String mint() {
    return generator.generate().toString();
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
