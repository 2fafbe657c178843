package io.portcullis.limit.rls;

import java.util.List;
import java.util.Objects;
import org.jspecify.annotations.Nullable;

/**
 * One descriptor's {@code rate_limit} block, compiled.
 *
 * @param fullKey where it sits, e.g. {@code messaging.message_type_marketing.to_number} (for
 *     diagnostics)
 * @param requestsPerUnit requests allowed per window (0 refuses everything)
 * @param unit the window; {@code null} only when {@code unlimited}
 * @param name the limit's name, or {@code null}; other limits can {@code replaces} it by name
 * @param unlimited never limited: answers {@code OK} with {@code limit_remaining} = 2³²−1, no count
 * @param shadowMode counted as usual, but always answers {@code OK}
 * @param replaces names of limits this one drops from the same request
 */
public record RlsLimit(
    String fullKey,
    long requestsPerUnit,
    @Nullable RlsUnit unit,
    @Nullable String name,
    boolean unlimited,
    boolean shadowMode,
    List<String> replaces) {
  public RlsLimit {
    Objects.requireNonNull(fullKey, "fullKey");
    replaces = List.copyOf(replaces);
    if (requestsPerUnit < 0 || requestsPerUnit > 0xFFFF_FFFFL) {
      throw new IllegalArgumentException("requests_per_unit must be a uint32");
    }
    if (!unlimited && unit == null) {
      throw new IllegalArgumentException("a limited rate_limit needs a unit");
    }
  }

  /** A limit sent by Envoy in the descriptor itself ({@code RateLimitDescriptor.limit}). */
  public static RlsLimit override(String fullKey, long requestsPerUnit, RlsUnit unit) {
    return new RlsLimit(fullKey, requestsPerUnit, unit, null, false, false, List.of());
  }
}
