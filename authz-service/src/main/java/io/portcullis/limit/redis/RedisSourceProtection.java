package io.portcullis.limit.redis;

import static io.portcullis.limit.BackendCircuit.Caller.PROTECT;

import com.github.benmanes.caffeine.cache.Cache;
import com.github.benmanes.caffeine.cache.Caffeine;
import com.github.benmanes.caffeine.cache.Expiry;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import io.portcullis.limit.BackendCircuit;
import io.portcullis.limit.EpochNanos;
import io.portcullis.limit.InMemorySourceProtection;
import io.portcullis.limit.LimitBackendException;
import io.portcullis.limit.SourceProtection;
import io.portcullis.metrics.MetricNames;
import java.time.Duration;
import java.time.Instant;
import java.time.InstantSource;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import org.jspecify.annotations.Nullable;
import org.redisson.api.BatchOptions;
import org.redisson.api.RBatch;
import org.redisson.api.RBucketAsync;
import org.redisson.api.RFuture;
import org.redisson.api.RScript;
import org.redisson.api.RTopic;
import org.redisson.api.RedissonClient;
import org.redisson.api.listener.StatusListener;
import org.redisson.client.codec.StringCodec;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * {@code protect.failed_auth} shared by every instance through Redis: a source that fails
 * authentication on any instance counts towards one threshold, and a block set by one instance
 * refuses the source on all of them.
 *
 * <h2>Design note</h2>
 *
 * <ul>
 *   <li><b>No Redis on the hot path.</b> {@link #blockedUntil} (every request) reads a local mirror
 *       of the blocks, never Redis. The mirror is filled (1) at once by this instance's own {@link
 *       #recordFailure}, (2) by pub/sub: the script that sets a block publishes it, and an unblock
 *       publishes its removal, (3) by a full re-read ({@code SCAN} of the block keys) when the
 *       subscription is (re)established and every {@code blockSyncInterval}, which repairs anything
 *       pub/sub lost (it delivers at most once, and not while disconnected). Another instance's
 *       block therefore applies here within one pub/sub delivery, typically well under a
 *       millisecond, and at worst after one sync interval. A re-read does not undo what (1) and (2)
 *       changed while it ran: its {@code SCAN} can miss a block set meanwhile, or return one lifted
 *       meanwhile, so those sources keep the newer state ({@link #sync}).
 *   <li><b>One round trip per failed request.</b> {@link #recordFailure} (only after a 401) runs
 *       {@code protect.lua} once: {@code INCR} of the source's counter with the window as expiry on
 *       the first failure, and at the threshold {@code SET} of the block key with {@code PX
 *       block_for}, deletion of the counter, and {@code PUBLISH}. Both keys of a source share one
 *       hash tag. Times come from Redis {@code TIME}.
 *   <li><b>A bounded number of calls in flight.</b> At most {@code callsInFlight} (default 16)
 *       {@code protect.lua} calls wait for Redis at once; a failure that finds them all taken is
 *       counted by this instance alone, as during an outage, and counts as a degraded decision (not
 *       as a backend error: Redis did not fail). Without the bound a flood of 401s from many
 *       addresses (credential stuffing) put one call per request on the client: at 3,000 requests/s
 *       it ran out of connections, every call timed out, and the service answered 323 of them a
 *       second (loadtest/RESULTS.md, finding 10).
 *   <li><b>Failure policy.</b> While Redis fails, failures are counted and blocks set by an
 *       in-memory {@link InMemorySourceProtection} in this instance (the {@code local} policy
 *       regardless of {@code on_backend_failure}: protection must not turn into a way to lock
 *       everyone out or to switch itself off), each such call counts in {@code
 *       portcullis_ratelimit_backend_degraded_decisions_total{caller="protect"}} (the circuit logs
 *       and counts the outage), and {@link #blockedUntil} consults both. A caller with a deadline
 *       ({@code Check}) that Redis has not answered by then counts its failure locally too, without
 *       opening the circuit; the script still runs, and its block or its failure (which opens the
 *       circuit) is taken when it comes.
 * </ul>
 *
 * <p>Publishes {@code portcullis_blocked_sources} (blocks known to this instance). Thread-safe;
 * {@link #close()} stops the sync and the subscription (the Redis client stays open).
 */
public final class RedisSourceProtection implements SourceProtection, AutoCloseable {
  private static final Logger log = LoggerFactory.getLogger(RedisSourceProtection.class);
  static final LuaScript SCRIPT = LuaScript.resource("protect.lua");

  private final RedissonClient redis;
  private final String keyPrefix;
  private final InstantSource clock;
  private final BackendCircuit circuit;
  private final InMemorySourceProtection local;
  private final Cache<String, BlockedSource> mirror;
  private final RTopic topic;
  private final ScheduledExecutorService sync;
  private final int callsInFlight;
  private final long timeoutNanos;
  private final AtomicInteger inFlight = new AtomicInteger();
  private volatile @Nullable Integer messageListener;
  private volatile @Nullable Integer statusListener;

  // While a sync reads Redis, every change the mirror gets from this instance or an event is
  // numbered here, so that the sync leaves those sources as they are (see sync()).
  private volatile boolean syncing;
  private final AtomicLong changes = new AtomicLong();
  private final Map<String, Long> changedDuringSync = new ConcurrentHashMap<>();

  /** Runs in {@link #sync} between reading Redis and applying what it read (tests: a change). */
  volatile Runnable afterScan = () -> {};

  private RedisSourceProtection(Builder b) {
    this.redis = b.redis;
    this.keyPrefix = b.keyPrefix;
    this.clock = b.clock;
    this.circuit = Objects.requireNonNull(b.circuit, "circuit");
    this.callsInFlight = b.callsInFlight;
    this.timeoutNanos = RedissonClients.callTimeout(redis).toNanos();
    this.local = InMemorySourceProtection.builder().clock(clock).maximumSources(b.maximum).build();
    this.mirror =
        Caffeine.newBuilder()
            .maximumSize(b.maximum)
            .ticker(EpochNanos.ticker(clock))
            .executor(Runnable::run)
            .expireAfter(
                new Expiry<String, BlockedSource>() {
                  @Override
                  public long expireAfterCreate(String k, BlockedSource v, long now) {
                    return Math.max(0, EpochNanos.of(v.blockedUntil()) - now);
                  }

                  @Override
                  public long expireAfterUpdate(String k, BlockedSource v, long now, long d) {
                    return Math.max(0, EpochNanos.of(v.blockedUntil()) - now);
                  }

                  @Override
                  public long expireAfterRead(String k, BlockedSource v, long now, long d) {
                    return d;
                  }
                })
            .build();
    this.topic = redis.getTopic(keyPrefix + ":protect:events", StringCodec.INSTANCE);
    if (b.registry != null) {
      Gauge.builder(MetricNames.BLOCKED_SOURCES, this, p -> p.known().size())
          .description("Sources currently blocked by protect.failed_auth")
          .register(b.registry);
    }
    this.sync =
        Executors.newSingleThreadScheduledExecutor(
            r -> {
              Thread t = new Thread(r, "portcullis-block-sync");
              t.setDaemon(true);
              return t;
            });
    long every = b.syncInterval.toMillis();
    sync.scheduleWithFixedDelay(this::subscribeAndSync, 0, every, TimeUnit.MILLISECONDS);
  }

  /** Protection on {@code redis}; the caller owns (and shuts down) the client. */
  public static Builder builder(RedissonClient redis, BackendCircuit circuit) {
    return new Builder(redis, circuit);
  }

  @Override
  public @Nullable Instant blockedUntil(String key) {
    BlockedSource b = mirror.getIfPresent(key);
    if (b != null && b.blockedUntil().isAfter(clock.instant())) {
      return b.blockedUntil();
    }
    return local.blockedUntil(key);
  }

  @Override
  public void recordFailure(String key, int threshold, Duration window, Duration blockFor) {
    record(key, threshold, window, blockFor, false, 0);
  }

  /**
   * {@inheritDoc}
   *
   * <p>When Redis has not answered by {@code answerByNanos} (sooner than its timeout), the failure
   * is counted locally, as during an outage; it is a degraded decision but does not open the
   * circuit (one caller's tight deadline says nothing about Redis). The script still runs when its
   * turn comes: a block it sets reaches the mirror then, and its failure opens the circuit.
   */
  @Override
  public void recordFailure(
      String key, int threshold, Duration window, Duration blockFor, long answerByNanos) {
    record(key, threshold, window, blockFor, true, answerByNanos);
  }

  private void record(
      String key,
      int threshold,
      Duration window,
      Duration blockFor,
      boolean bounded,
      long answerByNanos) {
    if (blockedUntil(key) != null) {
      return;
    }
    if (!circuit.allowsAttempt()) {
      circuit.skipped(PROTECT);
      local.recordFailure(key, threshold, window, blockFor);
      return;
    }
    long wait = bounded ? Math.min(timeoutNanos, answerByNanos - System.nanoTime()) : timeoutNanos;
    if (wait <= 0) {
      circuit.expired(PROTECT); // the caller's time is up: Redis is not asked
      local.recordFailure(key, threshold, window, blockFor);
      return;
    }
    if (inFlight.incrementAndGet() > callsInFlight) {
      inFlight.decrementAndGet();
      circuit.skipped(PROTECT); // not an outage: Redis is busy with this instance's other calls
      local.recordFailure(key, threshold, window, blockFor);
      return;
    }
    // The call's outcome goes to whoever comes first: this caller, in time, or (when the caller
    // stopped waiting at its deadline) the call's own completion, which then handles it alone.
    AtomicBoolean settled = new AtomicBoolean();
    CompletableFuture<List<Object>> call;
    try {
      call =
          SCRIPT
              .<List<Object>>runAsync(
                  redis,
                  RScript.ReturnType.LIST,
                  List.of(failuresKey(key), blockKey(key)),
                  Integer.toString(threshold),
                  Long.toString(window.toMillis()),
                  Long.toString(blockFor.toMillis()),
                  topic.getChannelNames().get(0),
                  key)
              .toCompletableFuture();
    } catch (RuntimeException e) { // the client is shutting down
      inFlight.decrementAndGet();
      failed(new LimitBackendException("redis script protect.lua failed: " + describe(e), e));
      local.recordFailure(key, threshold, window, blockFor);
      return;
    }
    call.whenComplete(
        (reply, error) -> {
          inFlight.decrementAndGet(); // the bound is on calls the client holds, late ones too
          if (!settled.compareAndSet(false, true)) { // the caller stopped waiting: nobody else will
            if (error != null) {
              circuit.failedLate(PROTECT, describe(error));
            } else {
              blocked(key, reply);
            }
          }
        });
    try {
      List<Object> reply;
      try {
        reply = call.get(wait, TimeUnit.NANOSECONDS);
      } catch (TimeoutException e) {
        if (settled.compareAndSet(false, true)) {
          if (wait < timeoutNanos) {
            circuit.late(PROTECT);
          } else {
            failed(
                new LimitBackendException(
                    "redis script protect.lua timed out after " + Duration.ofNanos(wait), e));
          }
          local.recordFailure(key, threshold, window, blockFor);
          return;
        }
        reply = call.get(); // the answer came in just now
      }
      circuit.succeeded();
      blocked(key, reply);
    } catch (ExecutionException e) {
      failed(
          new LimitBackendException(
              "redis script protect.lua failed: " + describe(e.getCause()), e.getCause()));
      local.recordFailure(key, threshold, window, blockFor);
    } catch (InterruptedException e) {
      settled.set(true); // a late answer is handled when it comes
      Thread.currentThread().interrupt();
      failed(new LimitBackendException("interrupted while waiting for redis", e));
      local.recordFailure(key, threshold, window, blockFor);
    }
  }

  /** The script's reply: when it set a block, that block is known here at once. */
  private void blocked(String key, List<Object> r) {
    if (((Long) r.get(0)) == 1) {
      remember(
          new BlockedSource(
              key,
              Instant.ofEpochMilli((Long) r.get(1)),
              Instant.ofEpochMilli((Long) r.get(2)),
              (Long) r.get(3)));
    }
  }

  private void failed(LimitBackendException e) {
    circuit.failed(PROTECT, String.valueOf(e.getMessage()));
  }

  private static String describe(Throwable e) {
    return LuaScript.describe(e);
  }

  /**
   * Every blocked source: read from Redis ({@code SCAN}), merged with blocks this instance set
   * locally during an outage. Falls back to this instance's view when Redis fails.
   */
  @Override
  public List<BlockedSource> blocked() {
    Map<String, BlockedSource> all = new HashMap<>();
    try {
      for (BlockedSource b : readAll()) {
        all.put(b.key(), b);
      }
    } catch (LimitBackendException e) {
      log.warn("protection backend failed, listing known blocks only: {}", e.toString());
      for (BlockedSource b : known()) {
        all.put(b.key(), b);
      }
    }
    for (BlockedSource b : local.blocked()) {
      all.merge(b.key(), b, (x, y) -> x.blockedUntil().isAfter(y.blockedUntil()) ? x : y);
    }
    List<BlockedSource> out = new ArrayList<>(all.values());
    out.sort(Comparator.comparing(BlockedSource::blockedAt).thenComparing(BlockedSource::key));
    return out;
  }

  /**
   * Lifts the block in Redis (and announces it to every instance) and locally.
   *
   * @throws LimitBackendException when Redis fails (the local block, if any, is lifted anyway)
   */
  @Override
  public boolean unblock(String key) {
    boolean wasLocal = local.unblock(key);
    RBatch batch = redis.createBatch(BatchOptions.defaults());
    RFuture<Long> deleted = batch.getKeys().deleteAsync(blockKey(key), failuresKey(key));
    batch.getTopic(topic.getChannelNames().get(0), StringCodec.INSTANCE).publishAsync("U:" + key);
    long deletedKeys;
    try {
      batch.execute();
      deletedKeys = deleted.get();
    } catch (RuntimeException | ExecutionException e) {
      forget(key);
      throw new LimitBackendException("redis unblock failed: " + LuaScript.describe(e), e);
    } catch (InterruptedException e) {
      forget(key);
      Thread.currentThread().interrupt();
      throw new LimitBackendException("interrupted while unblocking", e);
    }
    // Forgotten after the delete, not before: a sync that read the block before the delete
    // cannot bring it back (see sync()).
    boolean wasMirrored = forget(key);
    return deletedKeys > 0 || wasLocal || wasMirrored;
  }

  /**
   * Re-reads every block from Redis into the local mirror (also runs on a timer).
   *
   * <p>The read ({@code SCAN}, then {@code GET}) takes a while, and blocks keep arriving and being
   * lifted meanwhile, by pub/sub and by this instance. The read is older than those changes: a
   * block set during the scan may be missing from it, and one lifted during the scan may be in it.
   * So a source whose mirror entry changed after the read began is left as that change made it;
   * every other source is set to what Redis held. Each source is decided atomically with respect to
   * those changes (both go through the mirror's per-key {@code compute}).
   */
  public synchronized void sync() {
    long since = changes.get();
    syncing = true;
    try {
      List<BlockedSource> current = readAll();
      afterScan.run();
      Set<String> seen = new HashSet<>();
      Instant now = clock.instant();
      for (BlockedSource b : current) {
        seen.add(b.key());
        if (b.blockedUntil().isAfter(now)) {
          mirror.asMap().compute(b.key(), (k, old) -> changedSince(k, since) ? old : b);
        }
      }
      for (String k : List.copyOf(mirror.asMap().keySet())) {
        if (!seen.contains(k)) {
          mirror.asMap().computeIfPresent(k, (key, old) -> changedSince(key, since) ? old : null);
        }
      }
    } finally {
      syncing = false;
      changedDuringSync.clear();
    }
  }

  private boolean changedSince(String key, long since) {
    Long at = changedDuringSync.get(key);
    return at != null && at > since;
  }

  /** Called inside the mirror's compute of {@code key}: a sync in progress must keep it. */
  private void changed(String key) {
    if (syncing) {
      changedDuringSync.put(key, changes.incrementAndGet());
    }
  }

  @Override
  public void close() {
    sync.shutdownNow();
    Integer m = messageListener;
    Integer s = statusListener;
    try {
      if (m != null) {
        topic.removeListener(m);
      }
      if (s != null) {
        topic.removeListener(s);
      }
    } catch (RuntimeException e) {
      log.debug("could not unsubscribe from block events: {}", e.toString());
    }
  }

  /** Blocks known to this instance (mirror and local), for the gauge. */
  List<BlockedSource> known() {
    Instant now = clock.instant();
    Map<String, BlockedSource> all = new HashMap<>();
    for (BlockedSource b : mirror.asMap().values()) {
      if (b.blockedUntil().isAfter(now)) {
        all.put(b.key(), b);
      }
    }
    for (BlockedSource b : local.blocked()) {
      all.putIfAbsent(b.key(), b);
    }
    return List.copyOf(all.values());
  }

  String blockKey(String source) {
    return keyPrefix + ":protect:{" + escape(source) + "}:block";
  }

  String failuresKey(String source) {
    return keyPrefix + ":protect:{" + escape(source) + "}:fails";
  }

  /** A block this instance set, or an event announced: newer than any sync's read in progress. */
  private void remember(BlockedSource b) {
    if (b.blockedUntil().isAfter(clock.instant())) {
      mirror
          .asMap()
          .compute(
              b.key(),
              (k, old) -> {
                changed(k);
                return b;
              });
    }
  }

  /** A lifted block: gone from the mirror, and a sync in progress does not bring it back. */
  private boolean forget(String key) {
    boolean[] was = {false};
    mirror
        .asMap()
        .compute(
            key,
            (k, old) -> {
              changed(k);
              was[0] = old != null;
              return null;
            });
    return was[0];
  }

  private void subscribeAndSync() {
    try {
      if (messageListener == null) {
        messageListener = topic.addListener(String.class, (channel, message) -> onEvent(message));
        statusListener =
            topic.addListener(
                new StatusListener() {
                  @Override
                  public void onSubscribe(String channel) {
                    sync.execute(RedisSourceProtection.this::trySync);
                  }

                  @Override
                  public void onUnsubscribe(String channel) {}
                });
      }
      sync();
    } catch (RuntimeException e) {
      log.debug("block sync failed, will retry: {}", e.toString());
    }
  }

  private void trySync() {
    try {
      sync();
    } catch (RuntimeException e) {
      log.debug("block sync failed, will retry: {}", e.toString());
    }
  }

  /** {@code B:<at>:<until>:<failures>:<key>} or {@code U:<key>}. */
  void onEvent(String message) {
    try {
      if (message.startsWith("B:")) {
        String[] p = message.split(":", 5);
        remember(
            new BlockedSource(
                p[4],
                Instant.ofEpochMilli(Long.parseLong(p[1])),
                Instant.ofEpochMilli(Long.parseLong(p[2])),
                Long.parseLong(p[3])));
      } else if (message.startsWith("U:")) {
        forget(message.substring(2));
      }
    } catch (RuntimeException e) {
      log.warn("ignoring malformed block event");
    }
  }

  private List<BlockedSource> readAll() {
    String prefix = keyPrefix + ":protect:{";
    List<String> keys;
    try {
      keys = redis.getKeys().getKeysStreamByPattern(prefix + "*}:block", 500).toList();
    } catch (RuntimeException e) {
      throw new LimitBackendException("redis scan of blocks failed: " + LuaScript.describe(e), e);
    }
    if (keys.isEmpty()) {
      return List.of();
    }
    RBatch batch = redis.createBatch(BatchOptions.defaults());
    List<RFuture<Object>> values = new ArrayList<>(keys.size());
    for (String k : keys) {
      RBucketAsync<Object> bucket = batch.getBucket(k, StringCodec.INSTANCE);
      values.add(bucket.getAsync());
    }
    List<BlockedSource> out = new ArrayList<>(keys.size());
    try {
      batch.execute();
      for (int i = 0; i < keys.size(); i++) {
        Object v = values.get(i).get();
        String k = keys.get(i);
        if (v == null) {
          continue; // expired between SCAN and GET
        }
        String[] p = v.toString().split(":", 3);
        String source = unescape(k.substring(prefix.length(), k.length() - "}:block".length()));
        out.add(
            new BlockedSource(
                source,
                Instant.ofEpochMilli(Long.parseLong(p[0])),
                Instant.ofEpochMilli(Long.parseLong(p[1])),
                Long.parseLong(p[2])));
      }
    } catch (RuntimeException | ExecutionException e) {
      throw new LimitBackendException("redis read of blocks failed: " + LuaScript.describe(e), e);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new LimitBackendException("interrupted while reading blocks", e);
    }
    return out;
  }

  /** Keeps the hash tag intact and reversible: {@code %}, braces and glob characters escaped. */
  static String escape(String source) {
    StringBuilder b = new StringBuilder(source.length() + 8);
    for (int i = 0; i < source.length(); i++) {
      char c = source.charAt(i);
      switch (c) {
        case '%', '{', '}', '*', '?', '[', ']', '\\' ->
            b.append('%').append(String.format("%02X", (int) c));
        default -> b.append(c);
      }
    }
    return b.toString();
  }

  static String unescape(String s) {
    StringBuilder b = new StringBuilder(s.length());
    for (int i = 0; i < s.length(); i++) {
      char c = s.charAt(i);
      if (c == '%' && i + 2 < s.length()) {
        b.append((char) Integer.parseInt(s.substring(i + 1, i + 3), 16));
        i += 2;
      } else {
        b.append(c);
      }
    }
    return b.toString();
  }

  /** Builds a {@link RedisSourceProtection}; not thread-safe. */
  public static final class Builder {
    private final RedissonClient redis;
    private final BackendCircuit circuit;
    private String keyPrefix = "portcullis";
    private InstantSource clock = InstantSource.system();
    private long maximum = 100_000;
    private Duration syncInterval = Duration.ofSeconds(30);
    private @Nullable MeterRegistry registry;
    private int callsInFlight = 16;

    private Builder(RedissonClient redis, BackendCircuit circuit) {
      this.redis = Objects.requireNonNull(redis, "redis");
      this.circuit = circuit;
    }

    public Builder keyPrefix(String keyPrefix) {
      this.keyPrefix = keyPrefix;
      return this;
    }

    public Builder clock(InstantSource clock) {
      this.clock = clock;
      return this;
    }

    /** The most sources tracked locally (mirror and fallback), each (default 100,000). */
    public Builder maximumSources(long maximum) {
      this.maximum = maximum;
      return this;
    }

    /** How often to re-read all blocks from Redis (default 30 s). */
    public Builder syncInterval(Duration syncInterval) {
      if (syncInterval.isNegative() || syncInterval.isZero()) {
        throw new IllegalArgumentException("syncInterval must be positive");
      }
      this.syncInterval = syncInterval;
      return this;
    }

    /**
     * The most {@code protect.lua} calls waiting for Redis at once (default 16, well below the
     * client's connection pool); failures beyond them are counted by this instance alone.
     */
    public Builder callsInFlight(int callsInFlight) {
      if (callsInFlight < 1) {
        throw new IllegalArgumentException("callsInFlight must be at least 1");
      }
      this.callsInFlight = callsInFlight;
      return this;
    }

    /** Publish {@code portcullis_blocked_sources} here (default: no gauge). */
    public Builder meterRegistry(MeterRegistry registry) {
      this.registry = registry;
      return this;
    }

    /** Builds the protection and starts its subscription and periodic sync. */
    public RedisSourceProtection build() {
      return new RedisSourceProtection(this);
    }
  }
}
