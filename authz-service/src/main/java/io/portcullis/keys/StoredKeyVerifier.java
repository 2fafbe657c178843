package io.portcullis.keys;

import com.github.benmanes.caffeine.cache.Cache;
import com.github.benmanes.caffeine.cache.Caffeine;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.binder.cache.CaffeineStatsCounter;
import io.portcullis.decision.Reason;
import io.portcullis.identity.ApiKeyVerifier;
import io.portcullis.identity.CredentialType;
import io.portcullis.identity.Identity;
import io.portcullis.identity.Verification;
import io.portcullis.metrics.MetricNames;
import io.portcullis.store.StoreException;
import java.time.Duration;
import java.time.Instant;
import java.time.InstantSource;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.LongSupplier;
import org.jspecify.annotations.Nullable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Verifies presented API keys against the {@link KeyStore}, with no store query on the hot path.
 *
 * <p>Design.
 *
 * <ol>
 *   <li><b>Format first.</b> A presented string that is not a well-formed key ({@link
 *       KeyFormat#idOf}: prefix, length, base62, CRC-32 checksum) is {@code unknown_key} without
 *       any lookup.
 *   <li><b>Positive cache</b> (Caffeine, bounded, {@code knownMaxAge} at most): id → the key's
 *       hashes, state and its precomputed identity. A hit costs one SHA-256 of the presented key
 *       and a constant-time comparison ({@link KeyHash}). A secret matching neither of a cached
 *       key's secrets re-reads the key once (so a rotation made a moment ago through another
 *       instance works on first use), then not again for {@code mismatchRefreshInterval} (default 1
 *       s): random secrets against a known id cost at most one store query per second.
 *   <li><b>Negative cache</b> (bounded, {@code unknownTtl}): ids the store does not have. A flood
 *       of random well-formed keys costs one store query per distinct id per TTL; concurrent
 *       lookups of one id share one query (single flight).
 *   <li><b>Change feed.</b> Every {@code pollInterval} (default 250 ms) the verifier reads the
 *       store's changes after its watermark ({@link KeyStore#changesAfter}) and drops both cache
 *       entries of each changed id, so an issue, rotation or revocation made by any instance or the
 *       CLI reaches this one within about one interval. A gap in the sequence (changes pruned while
 *       this instance could not read) or a store whose sequence went backwards (restored from a
 *       backup) drops every entry. A lookup racing with an invalidation does not keep its possibly
 *       stale result: fills are discarded when an invalidation happened since the lookup began.
 *   <li><b>Last use</b> is written behind: a verification only stores the time in the cached entry
 *       (a volatile write) and queues the entry once; a background flush every {@code
 *       flushInterval} writes the latest use of each key in one transaction ({@link
 *       KeyStore#recordUses}).
 * </ol>
 *
 * <p>Reasons, checked in this order so that a caller without a valid secret learns nothing about a
 * key's state: not well-formed, no such id, or a secret matching neither the current nor the
 * previous one → {@code unknown_key}; revoked → {@code revoked_key}; expired → {@code expired_key};
 * the previous secret after its rotation grace → {@code revoked_key} (it was withdrawn, like a
 * revocation; the holder needs the new secret). A secret older than the previous one is {@code
 * unknown_key}: only the last replaced secret is remembered. The store being unreachable on a cache
 * miss, or not answering within about a second ({@link KeyStore#find}), is {@code
 * identity_unavailable} (fail closed); cached keys keep verifying until their entries age out
 * ({@code knownMaxAge}), also after a wrong secret whose re-read failed (the cached state answers
 * it, and the entry stays).
 *
 * <p>Rejection details name the key id (public) and never the presented key. Thread-safe; {@link
 * #verify} never throws.
 */
public final class StoredKeyVerifier implements ApiKeyVerifier, AutoCloseable {
  private static final Logger log = LoggerFactory.getLogger(StoredKeyVerifier.class);

  /** Changes read per store query; more are read at once when there are. */
  static final int CHANGE_BATCH = 1000;

  /** Every this many empty polls, the sequence is checked for going backwards (a restore). */
  private static final int RESTORE_CHECK_EVERY = 20;

  private static final Verification.Rejected MALFORMED =
      new Verification.Rejected(Reason.UNKNOWN_KEY, "not a well-formed API key");
  private static final Verification.Rejected NO_SUCH_KEY =
      new Verification.Rejected(Reason.UNKNOWN_KEY, "no API key has this id");
  private static final Verification.Rejected STORE_DOWN =
      new Verification.Rejected(Reason.IDENTITY_UNAVAILABLE, "the key store is unavailable");

  private final KeyStore store;
  private final InstantSource clock;
  private final Cache<String, CachedKey> known;
  private final Cache<String, Boolean> unknown;
  private final Map<String, CompletableFuture<@Nullable CachedKey>> inflight =
      new ConcurrentHashMap<>();
  private final ConcurrentLinkedQueue<CachedKey> used = new ConcurrentLinkedQueue<>();
  private final AtomicLong invalidations = new AtomicLong();
  private final Duration pollInterval;
  private final Duration flushInterval;
  private final LongSupplier ticker;
  private final long mismatchRefreshNanos;
  private final Object pollLock = new Object();
  private final Object flushLock = new Object();
  private @Nullable ScheduledExecutorService scheduler;
  private long watermark = -1; // guarded by pollLock; -1 = not read yet
  private int emptyPolls; // guarded by pollLock
  private volatile boolean feedFailing;
  private volatile boolean flushFailing;

  private StoredKeyVerifier(Builder b) {
    this.store = b.store;
    this.clock = b.clock;
    this.pollInterval = b.pollInterval;
    this.flushInterval = b.flushInterval;
    this.ticker = b.ticker;
    this.mismatchRefreshNanos = b.mismatchRefreshInterval.toNanos();
    CaffeineStatsCounter knownStats =
        new CaffeineStatsCounter(b.meters, MetricNames.CACHE_API_KEYS_KNOWN);
    this.known =
        Caffeine.newBuilder()
            .maximumSize(b.knownCacheSize)
            .expireAfterWrite(b.knownMaxAge)
            .ticker(b.ticker::getAsLong)
            .recordStats(() -> knownStats)
            .build();
    knownStats.registerSizeMetric(known);
    CaffeineStatsCounter unknownStats =
        new CaffeineStatsCounter(b.meters, MetricNames.CACHE_API_KEYS_UNKNOWN);
    this.unknown =
        Caffeine.newBuilder()
            .maximumSize(b.unknownCacheSize)
            .expireAfterWrite(b.unknownTtl)
            .ticker(b.ticker::getAsLong)
            .recordStats(() -> unknownStats)
            .build();
    unknownStats.registerSizeMetric(unknown);
  }

  public static Builder builder(KeyStore store, MeterRegistry meters) {
    return new Builder(store, meters);
  }

  /**
   * Reads the current change sequence (so that only later changes invalidate) and starts the change
   * poller and the last-use flusher, each on a daemon thread of its own: a flush waiting on the
   * store never delays the poller, and so the invalidations it brings.
   *
   * @throws StoreException if the store cannot be read at start
   */
  public StoredKeyVerifier start() {
    synchronized (pollLock) {
      watermark = store.latestChange();
    }
    ScheduledThreadPoolExecutor s =
        new ScheduledThreadPoolExecutor(
            2, // a periodic task runs on one thread at a time: one each
            r -> {
              Thread t = new Thread(r, "portcullis-keys");
              t.setDaemon(true);
              return t;
            });
    s.setRemoveOnCancelPolicy(true);
    long poll = pollInterval.toMillis();
    long flush = flushInterval.toMillis();
    s.scheduleWithFixedDelay(this::pollChanges, poll, poll, TimeUnit.MILLISECONDS);
    s.scheduleWithFixedDelay(this::flushUses, flush, flush, TimeUnit.MILLISECONDS);
    this.scheduler = s;
    return this;
  }

  @Override
  public Verification verify(String presentedKey) {
    return verify(presentedKey, true);
  }

  @Override
  public Verification verify(String presentedKey, boolean countUse) {
    String id = KeyFormat.idOf(presentedKey);
    if (id == null) {
      return MALFORMED;
    }
    CachedKey key;
    try {
      key = lookup(id);
    } catch (StoreException e) {
      return STORE_DOWN;
    }
    if (key == null) {
      return NO_SUCH_KEY;
    }
    KeyHash presented = KeyHash.of(presentedKey);
    boolean current = key.secretHash.matches(presented);
    boolean previous = !current && key.previousHash != null && key.previousHash.matches(presented);
    if (!current && !previous && key.mayRefresh(ticker.getAsLong())) {
      // Perhaps a secret rotated a moment ago, before the change feed says so: read the key
      // again, at most once per refresh interval per key.
      CachedKey fresh;
      try {
        fresh = reload(id);
      } catch (StoreException e) {
        fresh = key; // cannot look: the cached state says the secret is wrong
      }
      if (fresh == null) {
        return NO_SUCH_KEY;
      }
      key = fresh;
      current = key.secretHash.matches(presented);
      previous = !current && key.previousHash != null && key.previousHash.matches(presented);
    }
    if (!current && !previous) {
      return key.wrongSecret;
    }
    Instant now = clock.instant();
    if (key.revokedAt != null) {
      return key.revoked;
    }
    if (key.expiresAt != null && !now.isBefore(key.expiresAt)) {
      return key.expired;
    }
    if (previous && !now.isBefore(Objects.requireNonNull(key.previousValidUntil))) {
      return key.rotatedOut;
    }
    if (countUse) {
      key.lastUse = now;
      if (!key.queued) {
        key.queued = true;
        used.add(key);
      }
    }
    return key.verified;
  }

  /**
   * Drops what this instance cached of {@code id} at once, so that a change made through this
   * instance (its admin API) applies here without waiting for the change feed.
   */
  public void invalidate(String id) {
    invalidations.incrementAndGet();
    known.invalidate(id);
    unknown.invalidate(id);
  }

  /**
   * Reads {@code id} afresh after a secret mismatch; the new entry may not refresh for a while. The
   * cached entry is replaced only by what the store answers: if the store cannot be read, the entry
   * stays, so that one wrong secret during an outage does not lock the real holder out.
   *
   * @throws StoreException if the store cannot be read (the cache is left as it was)
   */
  private @Nullable CachedKey reload(String id) {
    CachedKey fresh = read(id);
    if (fresh != null) {
      fresh.holdRefresh(ticker.getAsLong());
    }
    return fresh;
  }

  /** The cached state of {@code id}, from the store on a miss; {@code null} if it has no key. */
  private @Nullable CachedKey lookup(String id) {
    CachedKey hit = known.getIfPresent(id);
    if (hit != null) {
      return hit;
    }
    if (unknown.getIfPresent(id) != null) {
      return null;
    }
    return read(id);
  }

  /**
   * Reads {@code id} from the store (concurrent reads of one id share one query) and caches the
   * answer in place of what was cached; {@code null} if the store has no such key.
   *
   * @throws StoreException if the store cannot be read; the caches are then left as they were
   */
  private @Nullable CachedKey read(String id) {
    CompletableFuture<@Nullable CachedKey> mine = new CompletableFuture<>();
    CompletableFuture<@Nullable CachedKey> running = inflight.putIfAbsent(id, mine);
    if (running != null) {
      try {
        return running.join();
      } catch (CompletionException e) {
        throw e.getCause() instanceof StoreException se
            ? se
            : new StoreException("API key lookup failed", e);
      }
    }
    try {
      long epoch = invalidations.get();
      StoredKey row = store.find(id);
      CachedKey result = row == null ? null : new CachedKey(row, mismatchRefreshNanos);
      if (result == null) {
        known.invalidate(id);
        unknown.put(id, Boolean.TRUE);
      } else {
        known.put(id, result);
      }
      if (invalidations.get() != epoch) {
        // A change was applied while we read: our row may predate it. Keep nothing.
        known.invalidate(id);
        unknown.invalidate(id);
      }
      mine.complete(result);
      return result;
    } catch (RuntimeException e) {
      mine.completeExceptionally(e);
      throw e;
    } finally {
      inflight.remove(id, mine);
    }
  }

  /**
   * Applies the store's changes since the last poll (runs on the background thread every poll
   * interval; tests call it directly). Store failures are logged once and retried next time.
   */
  void pollChanges() {
    synchronized (pollLock) {
      try {
        if (watermark < 0) {
          watermark = store.latestChange();
          return;
        }
        List<KeyChange> changes;
        do {
          changes = store.changesAfter(watermark, CHANGE_BATCH);
          if (changes.isEmpty()) {
            if (++emptyPolls % RESTORE_CHECK_EVERY == 0) {
              long latest = store.latestChange();
              if (latest < watermark) {
                log.warn(
                    "the key store's change sequence went back from {} to {} (restored from a"
                        + " backup?); dropping every cached key",
                    watermark,
                    latest);
                invalidateAll();
                watermark = latest;
              }
            }
            break;
          }
          if (changes.getFirst().seq() > watermark + 1) {
            log.warn(
                "API key changes {}..{} were pruned before this instance read them; dropping"
                    + " every cached key",
                watermark + 1,
                changes.getFirst().seq() - 1);
            invalidateAll();
          } else {
            Set<String> ids = new HashSet<>();
            for (KeyChange c : changes) {
              ids.add(c.keyId());
            }
            invalidations.incrementAndGet();
            known.invalidateAll(ids);
            unknown.invalidateAll(ids);
          }
          watermark = changes.getLast().seq();
        } while (changes.size() == CHANGE_BATCH);
        if (feedFailing) {
          feedFailing = false;
          log.info("reading API key changes again");
        }
      } catch (RuntimeException e) {
        if (!feedFailing) {
          feedFailing = true;
          log.warn(
              "cannot read API key changes (retrying every {}): {}", pollInterval, e.getMessage());
        }
      }
    }
  }

  private void invalidateAll() {
    invalidations.incrementAndGet();
    known.invalidateAll();
    unknown.invalidateAll();
  }

  /**
   * Writes the latest use of every key verified since the last flush (runs on the background
   * thread; tests call it directly). On a store failure the times are kept for the next flush.
   */
  void flushUses() {
    synchronized (flushLock) {
      Map<String, Instant> batch = new HashMap<>();
      List<CachedKey> entries = new ArrayList<>();
      CachedKey k;
      while ((k = used.poll()) != null) {
        k.queued = false; // before reading lastUse: a later use queues the entry again
        Instant t = k.lastUse;
        if (t != null) {
          batch.merge(k.id, t, (a, b) -> a.isAfter(b) ? a : b);
          entries.add(k);
        }
      }
      if (batch.isEmpty()) {
        return;
      }
      try {
        store.recordUses(batch);
        if (flushFailing) {
          flushFailing = false;
          log.info("recording API key use again");
        }
      } catch (RuntimeException e) {
        for (CachedKey entry : entries) {
          if (!entry.queued) {
            entry.queued = true;
            used.add(entry);
          }
        }
        if (!flushFailing) {
          flushFailing = true;
          log.warn("cannot record API key use (retrying): {}", e.getMessage());
        }
      }
    }
  }

  /** Stops the background threads after a last flush of pending uses. */
  @Override
  public void close() {
    ScheduledExecutorService s = scheduler;
    if (s != null) {
      s.shutdownNow();
      try {
        s.awaitTermination(5, TimeUnit.SECONDS);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
    }
    flushUses();
  }

  @Override
  public String toString() {
    return "StoredKeyVerifier[" + store + "]";
  }

  /** A key's verification state, immutable but for the last-use bookkeeping. */
  private static final class CachedKey {
    final String id;
    final KeyHash secretHash;
    final @Nullable KeyHash previousHash;
    final @Nullable Instant previousValidUntil;
    final @Nullable Instant revokedAt;
    final @Nullable Instant expiresAt;
    final Verification.Verified verified;
    final Verification.Rejected wrongSecret;
    final Verification.Rejected revoked;
    final Verification.Rejected expired;
    final Verification.Rejected rotatedOut;
    volatile @Nullable Instant lastUse;
    volatile boolean queued;
    private final long refreshIntervalNanos;
    private volatile long nextRefresh = Long.MIN_VALUE; // a first mismatch may refresh at once

    /** Whether a secret mismatch may re-read the key now; if so, holds off the next one. */
    boolean mayRefresh(long nowNanos) {
      if (nextRefresh != Long.MIN_VALUE && nowNanos - nextRefresh < 0) {
        return false;
      }
      nextRefresh = nowNanos + refreshIntervalNanos;
      return true;
    }

    void holdRefresh(long nowNanos) {
      nextRefresh = nowNanos + refreshIntervalNanos;
    }

    CachedKey(StoredKey k, long refreshIntervalNanos) {
      this.refreshIntervalNanos = refreshIntervalNanos;
      KeyMetadata m = k.metadata();
      this.id = m.id();
      this.secretHash = k.secretHash();
      this.previousHash = k.previousHash();
      this.previousValidUntil = k.previousValidUntil();
      this.revokedAt = m.revokedAt();
      this.expiresAt = m.expiresAt();
      this.verified =
          new Verification.Verified(
              Identity.builder(CredentialType.API_KEY, m.id())
                  .client(m.client())
                  .clientType(m.clientType())
                  .roles(Set.copyOf(m.roles()))
                  .scopes(Set.copyOf(m.scopes()))
                  .apiKeyId(m.id())
                  .segmentHint(m.segmentHint())
                  .expiresAt(m.expiresAt())
                  .build());
      this.wrongSecret =
          new Verification.Rejected(Reason.UNKNOWN_KEY, "wrong secret for API key " + id);
      this.revoked =
          new Verification.Rejected(
              Reason.REVOKED_KEY, "API key " + id + " was revoked at " + m.revokedAt());
      this.expired =
          new Verification.Rejected(
              Reason.EXPIRED_KEY, "API key " + id + " expired at " + m.expiresAt());
      this.rotatedOut =
          new Verification.Rejected(
              Reason.REVOKED_KEY,
              "this secret of API key "
                  + id
                  + " was rotated out; it stopped working at "
                  + previousValidUntil);
    }
  }

  /** Builds a {@link StoredKeyVerifier}; not thread-safe. */
  public static final class Builder {
    private final KeyStore store;
    private final MeterRegistry meters;
    private InstantSource clock = InstantSource.system();
    private LongSupplier ticker = System::nanoTime;
    private long knownCacheSize = 100_000;
    private Duration knownMaxAge = Duration.ofMinutes(5);
    private long unknownCacheSize = 100_000;
    private Duration unknownTtl = Duration.ofSeconds(60);
    private Duration pollInterval = Duration.ofMillis(250);
    private Duration flushInterval = Duration.ofSeconds(5);
    private Duration mismatchRefreshInterval = Duration.ofSeconds(1);

    private Builder(KeyStore store, MeterRegistry meters) {
      this.store = Objects.requireNonNull(store, "store");
      this.meters = Objects.requireNonNull(meters, "meters");
    }

    /** The clock for expiry and grace (default: system). */
    public Builder clock(InstantSource clock) {
      this.clock = Objects.requireNonNull(clock, "clock");
      return this;
    }

    /** Monotonic nanoseconds for the caches' ages (default {@code System::nanoTime}). */
    public Builder ticker(LongSupplier ticker) {
      this.ticker = Objects.requireNonNull(ticker, "ticker");
      return this;
    }

    /** How many keys are cached (default 100,000). */
    public Builder knownCacheSize(long size) {
      this.knownCacheSize = positive(size, "knownCacheSize");
      return this;
    }

    /**
     * How long a key's state is served from the cache at most (default 5 minutes): re-read even if
     * no change arrives, and how long cached keys outlive a store outage.
     */
    public Builder knownMaxAge(Duration maxAge) {
      this.knownMaxAge = positive(maxAge, "knownMaxAge");
      return this;
    }

    /** How many unknown ids are remembered (default 100,000). */
    public Builder unknownCacheSize(long size) {
      this.unknownCacheSize = positive(size, "unknownCacheSize");
      return this;
    }

    /** How long an unknown id is remembered (default 60 s); an issue invalidates it anyway. */
    public Builder unknownTtl(Duration ttl) {
      this.unknownTtl = positive(ttl, "unknownTtl");
      return this;
    }

    /** How often the change feed is read (default 250 ms; at most 500 ms keeps the 1 s goal). */
    public Builder pollInterval(Duration interval) {
      this.pollInterval = positive(interval, "pollInterval");
      return this;
    }

    /** How often last-use times are written (default 5 s). */
    public Builder flushInterval(Duration interval) {
      this.flushInterval = positive(interval, "flushInterval");
      return this;
    }

    /**
     * How often a secret that does not match a cached key may make the key be read again (default 1
     * s per key): a secret rotated through another instance works on first use, and random secrets
     * against a known id cost at most one store query per interval.
     */
    public Builder mismatchRefreshInterval(Duration interval) {
      this.mismatchRefreshInterval = positive(interval, "mismatchRefreshInterval");
      return this;
    }

    /** A verifier that is not started: tests drive {@code pollChanges} and {@code flushUses}. */
    public StoredKeyVerifier build() {
      return new StoredKeyVerifier(this);
    }

    private static long positive(long value, String what) {
      if (value <= 0) {
        throw new IllegalArgumentException(what + " must be positive");
      }
      return value;
    }

    private static Duration positive(Duration value, String what) {
      if (value.isNegative() || value.isZero()) {
        throw new IllegalArgumentException(what + " must be positive");
      }
      return value;
    }
  }
}
