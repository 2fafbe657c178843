package io.portcullis.limit.rls;

import java.util.List;
import java.util.Objects;
import org.jspecify.annotations.Nullable;

/**
 * A {@code ShouldRateLimit} request, wire-free.
 *
 * @param domain the configuration domain (must not be empty)
 * @param descriptors the descriptors to count (at least one)
 * @param hitsAddend how much each descriptor counts; 0 (the wire default) means 1
 */
public record RlsRequest(String domain, List<Descriptor> descriptors, long hitsAddend) {
  public RlsRequest {
    Objects.requireNonNull(domain, "domain");
    descriptors = List.copyOf(descriptors);
    if (hitsAddend < 0) {
      throw new IllegalArgumentException("hits_addend must not be negative");
    }
  }

  /** One descriptor entry: a key and a value (the value may be empty). */
  public record Entry(String key, String value) {
    public Entry {
      Objects.requireNonNull(key, "key");
      Objects.requireNonNull(value, "value");
    }
  }

  /**
   * A limit Envoy sends inside a descriptor, used instead of the configured one.
   *
   * @param requestsPerUnit requests per window
   * @param unit the window
   */
  public record LimitOverride(long requestsPerUnit, RlsUnit unit) {}

  /**
   * One descriptor.
   *
   * @param entries the key/value entries, outermost first
   * @param limitOverride Envoy's per-descriptor limit, or {@code null}
   * @param hitsAddend the descriptor's own hits addend (0 = look without counting), or {@code null}
   *     to use the request's
   */
  public record Descriptor(
      List<Entry> entries, @Nullable LimitOverride limitOverride, @Nullable Long hitsAddend) {
    public Descriptor {
      entries = List.copyOf(entries);
    }

    /** A descriptor with entries only. */
    public static Descriptor of(List<Entry> entries) {
      return new Descriptor(entries, null, null);
    }
  }

  /**
   * The most one descriptor counts per request, {@value}: more than any {@code requests_per_unit}
   * (a uint32), so a capped hit is over every limit as the uncapped one would be, and a counter
   * cannot overflow (in memory two hits of {@code Long.MAX_VALUE} wrapped it to −2, {@code OK} for
   * the rest of the window; Redis {@code INCRBY} failed and tripped the backend circuit).
   */
  public static final long MAX_HITS = 1L << 32;

  /**
   * How much {@code d} counts in this request: its own addend, else the request's, at least 1; at
   * most {@link #MAX_HITS}. A descriptor's addend is a uint64 on the wire, so one past 2⁶³ arrives
   * as a negative long: it counts {@link #MAX_HITS} too.
   */
  public long hitsFor(Descriptor d) {
    Long own = d.hitsAddend();
    long hits = own != null ? own : Math.max(1, hitsAddend);
    return hits < 0 || hits > MAX_HITS ? MAX_HITS : hits;
  }
}
