package io.portcullis.limit;

import java.time.Duration;
import java.time.Instant;
import java.util.List;
import org.jspecify.annotations.Nullable;

/**
 * Dynamic protection from what the service observes (spec {@code protect.failed_auth}, step 2):
 * sources that fail authentication too often are blocked for a while. In memory per instance, or
 * shared through Redis.
 *
 * <p>Thread-safe; {@link #blockedUntil} is on the hot path and must not do blocking I/O.
 */
public interface SourceProtection {

  /**
   * When the source named by {@code key} is blocked, until when; otherwise {@code null}.
   *
   * @param key the protect key's value for this request (e.g. the source IP)
   */
  @Nullable Instant blockedUntil(String key);

  /**
   * Records one failed authentication (a 401) for {@code key}; blocks it for {@code blockFor} once
   * {@code threshold} failures fall within {@code window}.
   */
  void recordFailure(String key, int threshold, Duration window, Duration blockFor);

  /**
   * As {@link #recordFailure(String, int, Duration, Duration)}, for a caller that needs to answer
   * by {@code answerByNanos} (a {@link System#nanoTime()} value): a shared backend that has not
   * answered by then is treated as failed for this call (the failure is counted locally). The
   * default, for protection that does not wait, ignores the deadline.
   */
  default void recordFailure(
      String key, int threshold, Duration window, Duration blockFor, long answerByNanos) {
    recordFailure(key, threshold, window, blockFor);
  }

  /** Currently blocked sources, for {@code GET /admin/blocks}. */
  List<BlockedSource> blocked();

  /** Lifts a block; returns whether there was one. */
  boolean unblock(String key);

  /** One blocked source. */
  record BlockedSource(String key, Instant blockedAt, Instant blockedUntil, long failures) {}

  /** Protection that never blocks: for policies without {@code protect}. */
  static SourceProtection disabled() {
    return new SourceProtection() {
      @Override
      public @Nullable Instant blockedUntil(String key) {
        return null;
      }

      @Override
      public void recordFailure(String key, int threshold, Duration window, Duration blockFor) {}

      @Override
      public List<BlockedSource> blocked() {
        return List.of();
      }

      @Override
      public boolean unblock(String key) {
        return false;
      }
    };
  }
}
