package io.portcullis.geo;

import com.maxmind.db.CHMCache;
import com.maxmind.geoip2.DatabaseReader;
import com.maxmind.geoip2.exception.GeoIp2Exception;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import io.portcullis.config.FileCheck;
import io.portcullis.config.FileVersion;
import io.portcullis.config.ReloadResult;
import io.portcullis.metrics.MetricNames;
import io.portcullis.request.RequestAttributes;
import java.io.Closeable;
import java.io.IOException;
import java.net.InetAddress;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.time.InstantSource;
import java.util.EnumMap;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.atomic.AtomicReference;
import org.jspecify.annotations.Nullable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Country from a MaxMind GeoIP2/GeoLite2 Country or City database, memory-mapped and read with
 * MaxMind's reader and its node cache. Lookups do no I/O beyond page faults of the mapped file.
 *
 * <p>A lookup never throws: whatever goes wrong in it means "country unknown" (spec policy.md: an
 * unknown country passes a geo deny list and fails an allow list), counted in {@code
 * portcullis_geoip_lookup_errors_total{cause}} and logged at WARN at most once a minute per cause.
 * The causes are a file MaxMind's reader finds corrupt ({@code invalid_database}), a record of the
 * wrong shape ({@code bad_record}: MaxMind's {@code DeserializationException}, a {@link
 * RuntimeException}), and the mapped file changed under the reader ({@code changed_in_place}: a
 * file truncated or overwritten in place, by {@code cp} say, makes the next access to the mapping
 * fault with SIGBUS, which the JVM raises as {@link InternalError}).
 *
 * <p>Reloads. {@link #reload()} opens the file again (the service calls it on SIGHUP and on an
 * admin reload); {@link #reloadIfChanged()} does so only when the path now names another file, or
 * the file's size or modification time changed, and runs every {@link Builder#checkEvery} on a
 * thread of its own. A file replaced by a rename (geoipupdate, {@code mv}) is thus picked up on its
 * own, and so is a file rewritten in place once the writer is done. A database that fails to open
 * (half-written, of a type without countries, unreadable) is logged and the running one stays; the
 * same file is not tried again until it changes. The replaced reader is not closed: lookups running
 * on other threads may still be using it, and closing it would only fail them; its mapping goes
 * with it when it is collected. Thread-safe.
 */
public final class MaxMindCountryResolver implements CountryResolver, Closeable {
  private static final Logger log = LoggerFactory.getLogger(MaxMindCountryResolver.class);

  /** {@link ReloadResult#name()} of this database's reloads. */
  public static final String RELOAD_NAME = "geoip_database";

  /** How often the WARN of each cause of failed lookups is repeated while lookups keep failing. */
  private static final Duration WARN_INTERVAL = Duration.ofMinutes(1);

  /** Why a lookup answered "unknown" instead of a country; {@link #tag} is the metric's cause. */
  enum Failure {
    INVALID_DATABASE("invalid_database"),
    BAD_RECORD("bad_record"),
    CHANGED_IN_PLACE("changed_in_place");

    final String tag;

    Failure(String tag) {
      this.tag = tag;
    }
  }

  private final Path file;
  private final InstantSource clock;
  private final Map<Failure, Counter> failures = new EnumMap<>(Failure.class);
  private final Map<Failure, AtomicReference<@Nullable Instant>> warnedAt =
      new EnumMap<>(Failure.class);
  private final Counter reloaded;
  private final Counter reloadFailed;
  private volatile Opened current;
  private @Nullable FileVersion lastTried; // guarded by this
  private @Nullable ScheduledExecutorService watcher; // guarded by this
  private boolean closed; // guarded by this

  /** An open database and the version of the file it was opened from. */
  private record Opened(DatabaseReader reader, boolean city, @Nullable FileVersion version) {
    /** Opens {@code file}, whose version was read before (a change while opening is seen). */
    static Opened of(Path file, @Nullable FileVersion version) throws IOException {
      DatabaseReader reader = openReader(file);
      return new Opened(reader, reader.getMetadata().databaseType().contains("City"), version);
    }
  }

  private MaxMindCountryResolver(Builder b, Opened opened) {
    this.file = b.database;
    this.clock = b.clock;
    this.current = opened;
    this.reloaded = reloads(b.registry, "success");
    this.reloadFailed = reloads(b.registry, "error");
    for (Failure f : Failure.values()) {
      failures.put(
          f,
          Counter.builder(MetricNames.GEOIP_LOOKUP_ERRORS)
              .description("GeoIP lookups that failed, answering the country as unknown")
              .tag(MetricNames.TAG_CAUSE, f.tag)
              .register(b.registry));
      warnedAt.put(f, new AtomicReference<>());
    }
  }

  private static Counter reloads(MeterRegistry registry, String result) {
    return Counter.builder(MetricNames.GEOIP_RELOADS)
        .description("GeoIP database reloads by result")
        .tag(MetricNames.TAG_RESULT, result)
        .register(registry);
  }

  /** A resolver of the database in {@code database}; {@link Builder#open()} opens it. */
  public static Builder builder(Path database) {
    return new Builder(database);
  }

  /** Opens {@code database}: see {@link Builder#open()}. */
  private static DatabaseReader openReader(Path database) throws IOException {
    DatabaseReader reader;
    String type;
    try {
      reader = new DatabaseReader.Builder(database.toFile()).withCache(new CHMCache()).build();
      type = reader.getMetadata().databaseType();
    } catch (IOException | RuntimeException | InternalError e) {
      // Badly shaped metadata throws ClassCastException or DeserializationException, and a file
      // truncated under the mapping while it is read InternalError: all mean "cannot be used".
      throw new IOException(
          "cannot open the GeoIP database " + database + ": " + e.getMessage(), e);
    }
    if (!holdsCountries(type)) {
      reader.close();
      throw new IOException(
          "the GeoIP database "
              + database
              + " is a "
              + type
              + " database, which has no countries: use a Country, City or Enterprise database"
              + " (GeoLite2-Country, GeoIP2-Country, GeoLite2-City, GeoIP2-City, GeoIP2-Enterprise)");
    }
    return reader;
  }

  /**
   * Whether MaxMind's reader answers country lookups on a database of this type: it does for types
   * naming Country, City or Enterprise (its own test of {@code database_type}), and throws {@link
   * UnsupportedOperationException} on every lookup otherwise.
   */
  static boolean holdsCountries(String databaseType) {
    return databaseType.contains("Country")
        || databaseType.contains("City")
        || databaseType.contains("Enterprise");
  }

  @Override
  public @Nullable String country(RequestAttributes request) {
    return lookup(request.sourceIp());
  }

  /**
   * The country of an address, or {@code null} if the database does not know it or the lookup
   * failed (counted and logged, see the class comment). Never throws.
   */
  public @Nullable String lookup(@Nullable InetAddress address) {
    if (address == null) {
      return null;
    }
    Opened db = current;
    try {
      Optional<String> iso =
          db.city()
              ? db.reader().tryCity(address).map(c -> c.country().isoCode())
              : db.reader().tryCountry(address).map(c -> c.country().isoCode());
      return CountryResolver.normalize(iso.orElse(null));
    } catch (IOException | GeoIp2Exception e) {
      failed(Failure.INVALID_DATABASE, e);
    } catch (RuntimeException e) {
      failed(Failure.BAD_RECORD, e);
    } catch (InternalError e) {
      // SIGBUS on the mapping: the file was truncated or rewritten under it
      failed(Failure.CHANGED_IN_PLACE, e);
    }
    return null;
  }

  private void failed(Failure failure, Throwable e) {
    failures.get(failure).increment();
    AtomicReference<@Nullable Instant> last = warnedAt.get(failure);
    Instant now = clock.instant();
    Instant before = last.get();
    if ((before != null && now.isBefore(before.plus(WARN_INTERVAL)))
        || !last.compareAndSet(before, now)) {
      return;
    }
    String what =
        switch (failure) {
          case INVALID_DATABASE ->
              "MaxMind's reader finds the file damaged (or it is being overwritten in place)";
          case BAD_RECORD -> "a record in it does not have the shape of a Country or City record";
          case CHANGED_IN_PLACE ->
              "the file was changed in place (truncated or overwritten, by cp say) while it is"
                  + " memory-mapped; replace it by an atomic rename instead (geoipupdate does;"
                  + " or copy the new file beside it and mv it over); it is opened again once it"
                  + " changes no more, or on SIGHUP";
        };
    log.warn(
        "GeoIP lookup in {} failed ({}): {}. The country of such requests is unknown. (Logged at"
            + " most once a minute; counted in portcullis_geoip_lookup_errors_total{cause=\"{}\"}.)",
        file,
        e.toString(),
        what,
        failure.tag);
  }

  /**
   * Opens the file again and, if that works, looks countries up in it from now on (SIGHUP, admin
   * reload).
   *
   * @return whether the new database is in use, with its type and build time; if not, the running
   *     one stays and the reason was logged and is the detail
   */
  public synchronized ReloadResult reload() {
    if (closed) {
      return ReloadResult.failed(RELOAD_NAME, "the GeoIP database " + file + " is closed");
    }
    FileVersion version = FileVersion.of(file);
    lastTried = version;
    Opened next;
    try {
      next = Opened.of(file, version);
    } catch (IOException e) {
      reloadFailed.increment();
      log.error("GeoIP database not reloaded, the running one stays: {}", e.getMessage());
      return ReloadResult.failed(
          RELOAD_NAME, e.getMessage() + "; the running database (" + describe(current) + ") stays");
    }
    current = next;
    reloaded.increment();
    String now = describe(next);
    log.info("GeoIP database {} reloaded ({})", file, now);
    return ReloadResult.ok(RELOAD_NAME, file + ": " + now);
  }

  /** {@code GeoLite2-Country, built 2026-11-20T...} */
  private static String describe(Opened db) {
    return db.reader().getMetadata().databaseType()
        + ", built "
        + db.reader().getMetadata().buildTime();
  }

  /**
   * {@link #reload()} if the path names another file than the running database was opened from, or
   * the file's size or modification time changed, and that version was not tried already.
   *
   * @return whether a new database is in use
   */
  public synchronized boolean reloadIfChanged() {
    FileVersion now = FileVersion.of(file);
    if (now == null || now.equals(current.version()) || now.equals(lastTried)) {
      return false;
    }
    return reload().ok();
  }

  /** Stops the checks for a new file and closes the database; later reloads do nothing. */
  @Override
  public synchronized void close() throws IOException {
    closed = true;
    if (watcher != null) {
      watcher.shutdownNow();
      watcher = null;
    }
    current.reader().close();
  }

  private synchronized void watch(Duration every) {
    this.watcher =
        FileCheck.every(
            every,
            "portcullis-geoip-watcher",
            log,
            "the GeoIP database " + file,
            this::reloadIfChanged);
  }

  /** Settings of a {@link MaxMindCountryResolver}. */
  public static final class Builder {
    private final Path database;
    private MeterRegistry registry = new SimpleMeterRegistry();
    private InstantSource clock = InstantSource.system();
    private @Nullable Duration checkEvery;

    private Builder(Path database) {
      this.database = Objects.requireNonNull(database, "database");
    }

    /** Where the lookup error counter goes. */
    public Builder meterRegistry(MeterRegistry registry) {
      this.registry = Objects.requireNonNull(registry, "registry");
      return this;
    }

    /**
     * What paces the repeated WARNs (at most one a minute per cause); the system clock by default.
     */
    public Builder clock(InstantSource clock) {
      this.clock = Objects.requireNonNull(clock, "clock");
      return this;
    }

    /**
     * Checks the file this often for a new one ({@link #reloadIfChanged()}), on a thread of its
     * own; not at all by default.
     */
    public Builder checkEvery(Duration interval) {
      if (interval.isNegative() || interval.isZero()) {
        throw new IllegalArgumentException("checkEvery must be positive: " + interval);
      }
      this.checkEvery = interval;
      return this;
    }

    /**
     * Opens the database.
     *
     * @throws IOException if the file cannot be read, is not a MaxMind database, or is a database
     *     without countries (ASN, ISP, Domain, Connection-Type, Anonymous-IP: MaxMind's reader
     *     opens them and then refuses every country lookup); the message names the file
     */
    public MaxMindCountryResolver open() throws IOException {
      MaxMindCountryResolver r =
          new MaxMindCountryResolver(this, Opened.of(database, FileVersion.of(database)));
      if (checkEvery != null) {
        r.watch(checkEvery);
      }
      return r;
    }
  }
}
