package io.portcullis.limit.rls;

import io.portcullis.limit.LimitKey;
import java.io.IOException;
import java.nio.file.Path;
import java.time.Duration;
import java.time.InstantSource;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.HexFormat;
import java.util.List;
import java.util.Objects;
import java.util.Set;
import org.jspecify.annotations.Nullable;

/**
 * Answers Envoy's {@code ShouldRateLimit} from an envoyproxy/ratelimit configuration with that
 * project's fixed-window semantics, so existing configurations give the same answers:
 *
 * <ul>
 *   <li>Each descriptor is matched to at most one limit ({@link RlsConfig#find}). Limits named in
 *       another matched limit's {@code replaces} are dropped; {@code unlimited} ones are not
 *       counted and answer {@code OK} with {@code limit_remaining} 2³²−1; descriptors without a
 *       limit answer {@code OK} without {@code current_limit}.
 *   <li>Every counted descriptor's counter for the current window (windows aligned to the Unix
 *       epoch, key {@code domain_key_value_..._windowStart}, see {@link #counterKey}) is
 *       incremented by its hits addend <em>whether or not</em> it, or another descriptor, ends up
 *       over the limit: descriptors are independent, unlike the policy's all-or-nothing limits.
 *   <li>After the increment a descriptor is {@code OVER_LIMIT} iff its counter exceeds {@code
 *       requests_per_unit} ({@code limit_remaining} 0), else {@code OK} with {@code limit_remaining
 *       = requests_per_unit − counter}; {@code duration_until_reset} is the time to the window's
 *       end. {@code shadow_mode} turns {@code OVER_LIMIT} into {@code OK} (remaining stays 0).
 *   <li>{@code overall_code} is {@code OVER_LIMIT} if any descriptor is.
 *   <li>A descriptor the counters refused without counting (memory full, or Redis down under {@code
 *       on_backend_failure: deny}) is {@code OVER_LIMIT} with its limit, {@code limit_remaining} 0
 *       and {@code duration_until_reset} = when to try again (1 s, or the Redis retry interval),
 *       not the window's end: Envoy turns the status into {@code x-ratelimit-reset}, and a client
 *       told to wait out a daily window would stay away a day for an outage of seconds. One
 *       admitted without counting ({@code allow}) is {@code OK} without a limit, as a descriptor
 *       that has none: there is no count, and a full {@code limit_remaining} would be made up.
 * </ul>
 *
 * The configuration is swapped atomically by {@link #reload()}; a bad configuration is refused and
 * the last good one stays. Thread-safe.
 */
public final class DescriptorLimiter {
  /** {@code limit_remaining} of an unlimited descriptor: uint32 max, as envoyproxy/ratelimit. */
  public static final long UNLIMITED_REMAINING = 0xFFFF_FFFFL;

  /**
   * The longest entries' part of a counter key ({@code k1_v1_k2_v2_}) kept as it is, {@value}
   * characters; a longer one is replaced by its digest.
   */
  static final int MAX_PLAIN_ENTRIES = 128;

  /**
   * The most descriptors one request may carry, {@value}. Envoy sends one per matching {@code
   * rate_limits} entry of the route and virtual host, a handful in practice; without a bound, one 8
   * MiB message (the listener's limit) of a million one-entry descriptors became a Redis pipeline
   * of two million commands, which timed out every request sharing it and opened the Redis circuit
   * for all of them.
   */
  public static final int MAX_DESCRIPTORS = 256;

  /** The most entries one descriptor may have, {@value} (one per action of a rate limit). */
  public static final int MAX_ENTRIES = 64;

  private final @Nullable Path configDirectory;
  private final FixedWindowCounters counters;
  private final InstantSource clock;
  private volatile RlsConfig config;

  private DescriptorLimiter(Builder b, RlsConfig initial) {
    this.configDirectory = b.configDirectory;
    this.counters = Objects.requireNonNull(b.counters, "counters");
    this.clock = b.clock;
    this.config = initial;
  }

  public static Builder builder() {
    return new Builder();
  }

  /** The configuration in use. */
  public RlsConfig config() {
    return config;
  }

  /** The directory {@link #reload()} reads, or {@code null} if built from a fixed configuration. */
  public @Nullable Path configDirectory() {
    return configDirectory;
  }

  /**
   * Re-reads the configuration directory and swaps it in. On any problem the current configuration
   * stays and the problems are thrown. One reload at a time (SIGHUP and an admin reload may come
   * together), so an older read never replaces a newer one.
   *
   * @throws IllegalStateException when this limiter was built without a directory
   */
  public synchronized RlsConfig reload() throws RlsConfigException, IOException {
    if (configDirectory == null) {
      throw new IllegalStateException("no rls config directory to reload from");
    }
    RlsConfig next = RlsConfig.load(configDirectory);
    config = next;
    return next;
  }

  /**
   * Counts the request's descriptors and answers for each.
   *
   * @throws IllegalArgumentException when the domain is empty or there are no descriptors (the gRPC
   *     adapter answers {@code INVALID_ARGUMENT}, as envoyproxy/ratelimit returns an error), or
   *     more than {@link #MAX_DESCRIPTORS} descriptors or a descriptor with more than {@link
   *     #MAX_ENTRIES} entries; nothing is counted then
   */
  public RlsResponse shouldRateLimit(RlsRequest request) {
    return answer(request, null);
  }

  /**
   * As {@link #shouldRateLimit(RlsRequest)}, for a caller that needs the answer within {@code
   * answerWithin} (Envoy's deadline, less the way back): when the counters' shared store has not
   * answered by then, {@code on_backend_failure} answers, as if it had failed, instead of the
   * answer arriving after Envoy gave up on it (and applied its {@code failure_mode_deny}).
   */
  public RlsResponse shouldRateLimit(RlsRequest request, Duration answerWithin) {
    return answer(request, Objects.requireNonNull(answerWithin, "answerWithin"));
  }

  private RlsResponse answer(RlsRequest request, @Nullable Duration answerWithin) {
    if (request.domain().isEmpty()) {
      throw new IllegalArgumentException("rate limit domain must not be empty");
    }
    if (request.descriptors().isEmpty()) {
      throw new IllegalArgumentException("rate limit descriptor list must not be empty");
    }
    if (request.descriptors().size() > MAX_DESCRIPTORS) {
      throw new IllegalArgumentException(
          "rate limit request has "
              + request.descriptors().size()
              + " descriptors, more than "
              + MAX_DESCRIPTORS);
    }
    for (RlsRequest.Descriptor d : request.descriptors()) {
      if (d.entries().size() > MAX_ENTRIES) {
        throw new IllegalArgumentException(
            "rate limit descriptor has "
                + d.entries().size()
                + " entries, more than "
                + MAX_ENTRIES);
      }
    }
    RlsConfig cfg = config;
    List<RlsRequest.Descriptor> descriptors = request.descriptors();
    int n = descriptors.size();
    RlsLimit[] limits = new RlsLimit[n];
    boolean[] unlimited = new boolean[n];
    Set<String> replaced = new HashSet<>();
    for (int i = 0; i < n; i++) {
      RlsLimit l = cfg.find(request.domain(), descriptors.get(i));
      if (l != null) {
        replaced.addAll(l.replaces());
        if (l.unlimited()) {
          unlimited[i] = true;
          l = null;
        }
      }
      limits[i] = l;
    }
    long now = clock.instant().getEpochSecond();
    List<FixedWindowCounters.Hit> hits = new ArrayList<>(n);
    int[] hitIndex = new int[n];
    for (int i = 0; i < n; i++) {
      RlsLimit l = limits[i];
      if (l != null && l.name() != null && replaced.contains(l.name())) {
        limits[i] = l = null; // replaced: neither counted nor reported
      }
      if (l == null) {
        hitIndex[i] = -1;
        continue;
      }
      RlsUnit unit = Objects.requireNonNull(l.unit());
      hitIndex[i] = hits.size();
      hits.add(
          new FixedWindowCounters.Hit(
              counterKey(request.domain(), descriptors.get(i), unit.windowStart(now)),
              request.hitsFor(descriptors.get(i)),
              unit.length()));
    }
    FixedWindowCounters.Totals totals =
        hits.isEmpty()
            ? FixedWindowCounters.Totals.counted(new long[0])
            : answerWithin == null ? counters.add(hits) : counters.add(hits, answerWithin);
    List<RlsResponse.Status> statuses = new ArrayList<>(n);
    RlsResponse.Code overall = RlsResponse.Code.OK;
    for (int i = 0; i < n; i++) {
      RlsLimit l = limits[i];
      if (unlimited[i]) {
        statuses.add(new RlsResponse.Status(RlsResponse.Code.OK, null, UNLIMITED_REMAINING, null));
        continue;
      }
      if (l == null) {
        statuses.add(new RlsResponse.Status(RlsResponse.Code.OK, null, 0, null));
        continue;
      }
      long after = totals.values()[hitIndex[i]];
      if (after == FixedWindowCounters.NOT_COUNTED) { // on_backend_failure: allow
        statuses.add(new RlsResponse.Status(RlsResponse.Code.OK, null, 0, null));
        continue;
      }
      boolean refused = after == FixedWindowCounters.REFUSED;
      Duration reset =
          refused
              ? totals.retryAfter()
              : Duration.ofSeconds(Objects.requireNonNull(l.unit()).untilReset(now));
      boolean over = refused || after > l.requestsPerUnit();
      RlsResponse.Code code =
          over && !l.shadowMode() ? RlsResponse.Code.OVER_LIMIT : RlsResponse.Code.OK;
      if (code == RlsResponse.Code.OVER_LIMIT) {
        overall = RlsResponse.Code.OVER_LIMIT;
      }
      statuses.add(new RlsResponse.Status(code, l, over ? 0 : l.requestsPerUnit() - after, reset));
    }
    return new RlsResponse(overall, statuses, totals.degraded());
  }

  /**
   * A descriptor's counter key for one window: envoyproxy/ratelimit's {@code
   * domain_k1_v1_k2_v2_<window start>}, with {@code %} and {@code _} in each value percent-encoded
   * ({@code %25}, {@code %5F}). Values come from the client (a header, an address); unencoded, the
   * value {@code victim_path_x} of a one-entry descriptor {@code [user]} was counted under the key
   * of the two-entry {@code [user=victim, path=x]}, so a client limited per user could use up
   * another user's per-path limit. A lone surrogate in a value (a byte that was not UTF-8) is
   * {@code %XX} too ({@link #lonelySurrogate}). Keys and domains come from Envoy's and this
   * service's configuration and are left as they are.
   *
   * <p>When the entries' part is longer than {@value #MAX_PLAIN_ENTRIES} characters it is replaced
   * by {@code sha256:} and the first 32 hex digits of its SHA-256 ({@link
   * io.portcullis.limit.LimitKey.Header#digest}, as the policy's limits key long header values):
   * values come from clients, and a header value can be tens of kilobytes, so a flood of distinct
   * long values would otherwise hold that much per in-memory counter (of up to a million) and per
   * Redis key.
   */
  static String counterKey(String domain, RlsRequest.Descriptor d, long windowStart) {
    String entries = entriesPart(d);
    if (entries.length() > MAX_PLAIN_ENTRIES) {
      entries = LimitKey.Header.digest(entries) + "_";
    }
    return domain + "_" + entries + windowStart;
  }

  /** {@code k1_v1_k2_v2_}, each value percent-encoded. */
  private static String entriesPart(RlsRequest.Descriptor d) {
    StringBuilder b = new StringBuilder(64);
    for (RlsRequest.Entry e : d.entries()) {
      b.append(e.key()).append('_');
      String v = e.value();
      for (int i = 0; i < v.length(); i++) {
        char c = v.charAt(i);
        switch (c) {
          case '%' -> b.append("%25");
          case '_' -> b.append("%5F");
          default -> {
            if (Character.isSurrogate(c) && !pairedAt(v, i)) {
              lonelySurrogate(b, c);
            } else {
              b.append(c);
            }
          }
        }
      }
      b.append('_');
    }
    return b.toString();
  }

  /** Whether the surrogate at {@code i} is half of a valid pair. */
  private static boolean pairedAt(String v, int i) {
    char c = v.charAt(i);
    return Character.isHighSurrogate(c)
        ? i + 1 < v.length() && Character.isLowSurrogate(v.charAt(i + 1))
        : i > 0 && Character.isHighSurrogate(v.charAt(i - 1));
  }

  /**
   * A lone surrogate, which UTF-8 cannot carry (Redis keys are UTF-8): U+DC80 to U+DCFF, a byte
   * that was not UTF-8 in Envoy's value (the gRPC adapter reads such bytes so), as {@code %XX} of
   * that byte; any other as {@code %uXXXX}. A literal {@code %} is {@code %25}, so neither collides
   * with a value's own characters.
   */
  private static void lonelySurrogate(StringBuilder b, char c) {
    if (c >= 0xDC80 && c <= 0xDCFF) {
      b.append('%').append(HexFormat.of().withUpperCase().toHexDigits((byte) (c - 0xDC00)));
    } else {
      b.append("%u").append(HexFormat.of().withUpperCase().toHexDigits(c));
    }
  }

  /** Builds a {@link DescriptorLimiter}; not thread-safe. */
  public static final class Builder {
    private @Nullable Path configDirectory;
    private @Nullable RlsConfig config;
    private @Nullable FixedWindowCounters counters;
    private InstantSource clock = InstantSource.system();

    private Builder() {}

    /** The {@code rls.config_dir}: loaded by {@link #build()} and by every {@link #reload()}. */
    public Builder configDirectory(Path configDirectory) {
      this.configDirectory = configDirectory;
      return this;
    }

    /** A fixed configuration (when there is no directory). */
    public Builder config(RlsConfig config) {
      this.config = config;
      return this;
    }

    /** Where counts live (in memory, or Redis with its failure policy). */
    public Builder counters(FixedWindowCounters counters) {
      this.counters = counters;
      return this;
    }

    public Builder clock(InstantSource clock) {
      this.clock = clock;
      return this;
    }

    /**
     * @throws RlsConfigException when the configuration directory is invalid
     * @throws IOException when it cannot be read
     */
    public DescriptorLimiter build() throws RlsConfigException, IOException {
      RlsConfig initial =
          configDirectory != null
              ? RlsConfig.load(configDirectory)
              : config != null ? config : RlsConfig.empty();
      return new DescriptorLimiter(this, initial);
    }
  }
}
