package io.portcullis.server.http;

import io.portcullis.audit.AuditFilters;
import io.portcullis.audit.AuditJson;
import io.portcullis.audit.AuditPage;
import io.portcullis.audit.AuditQuery;
import io.portcullis.audit.AuditStore;
import io.portcullis.audit.SummaryDimension;
import io.portcullis.audit.SummaryRow;
import io.portcullis.audit.TimelineBucket;
import io.portcullis.store.StoreException;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.time.Instant;
import java.time.InstantSource;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.TreeSet;
import org.jspecify.annotations.Nullable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The audit log on the admin API (interfaces.md "Admin API"):
 *
 * <ul>
 *   <li>{@code GET /admin/audit?since=&until=&decision=&reason=&segment=&principal=&client=
 *       &source_ip=&path_prefix=&dry_run=&limit=&cursor=}: records newest first as JSON lines
 *       ({@code application/x-ndjson}), the next page's cursor in {@code X-Next-Cursor} (absent on
 *       the last page).
 *   <li>{@code GET /admin/audit/summary?<filters>&group_by=segment,decision,reason&limit=}: counts,
 *       largest first, at most {@code limit} groups ({@value AuditQuery#DEFAULT_LIMIT} by default).
 *       {@code dry_run=true&group_by=dry_run_reason,segment,dry_run_rule} is the dry-run report.
 *   <li>{@code GET /admin/audit/timeline?<filters>&buckets=60}: allows, denies and dry-run allows
 *       per time bucket for the web page's chart; the range defaults to the last 24 hours and is
 *       split into at most {@code buckets} buckets of a round width (1 s ... 1 d), aligned to it.
 *   <li>{@code GET /admin/audit/verify}: {@code {"ok":true,"checked":N}} or {@code
 *       {"ok":false,"first_broken":"<decision_id>","detail":"…"}}.
 * </ul>
 *
 * <p>Filters are parsed by {@link AuditFilters} (relative times count back from the injected
 * clock). An unknown or unusable parameter is 400 problem+json whose detail names it; a failing
 * store is 503 {@code store_unavailable}. Thread-safe.
 */
public final class AuditAdminRoutes {
  private static final Logger log = LoggerFactory.getLogger(AuditAdminRoutes.class);

  /** Default and largest number of timeline buckets. */
  static final int DEFAULT_BUCKETS = 60;

  static final int MAX_BUCKETS = 500;

  /** Default timeline range when {@code since} is not given. */
  static final Duration DEFAULT_TIMELINE_RANGE = Duration.ofHours(24);

  /** Bucket widths the timeline chooses from: round numbers on a clock. */
  private static final List<Duration> WIDTHS =
      List.of(
          Duration.ofSeconds(1),
          Duration.ofSeconds(5),
          Duration.ofSeconds(10),
          Duration.ofSeconds(30),
          Duration.ofMinutes(1),
          Duration.ofMinutes(5),
          Duration.ofMinutes(10),
          Duration.ofMinutes(15),
          Duration.ofMinutes(30),
          Duration.ofHours(1),
          Duration.ofHours(3),
          Duration.ofHours(6),
          Duration.ofHours(12),
          Duration.ofDays(1));

  private static final Set<String> QUERY_PARAMS = Set.copyOf(AuditFilters.NAMES);
  private static final Set<String> SUMMARY_PARAMS = plus(without("cursor"), "group_by");
  private static final Set<String> TIMELINE_PARAMS = plus(without("cursor", "limit"), "buckets");

  private final AuditStore store;
  private final InstantSource clock;

  public AuditAdminRoutes(AuditStore store, InstantSource clock) {
    this.store = Objects.requireNonNull(store, "store");
    this.clock = Objects.requireNonNull(clock, "clock");
  }

  public AdminRouter register(AdminRouter router) {
    return router
        .add("GET", "/admin/audit", this::query)
        .add("GET", "/admin/audit/summary", this::summary)
        .add("GET", "/admin/audit/timeline", this::timeline)
        .add("GET", "/admin/audit/verify", this::verify);
  }

  AdminResponse query(AdminRequest request) throws IOException {
    AuditQuery q;
    try {
      q = filters(request, QUERY_PARAMS).build();
    } catch (AuditFilters.InvalidParameter e) {
      return invalid(e);
    }
    AuditPage page;
    try {
      page = store.query(q);
    } catch (StoreException e) {
      return unavailable(e);
    }
    StringBuilder body = new StringBuilder(page.records().size() * 512);
    AuditJson.lines(page.records(), body);
    AdminResponse r =
        new AdminResponse(
            200, AuditJson.NDJSON, body.toString().getBytes(StandardCharsets.UTF_8), Map.of());
    return page.next() == null ? r : r.withHeader("X-Next-Cursor", page.nextCursor());
  }

  AdminResponse summary(AdminRequest request) {
    AuditQuery q;
    List<SummaryDimension> groupBy;
    try {
      q = filters(request, SUMMARY_PARAMS).build();
      String g = request.param("group_by");
      groupBy = g == null ? List.of() : SummaryDimension.parseList(g);
    } catch (AuditFilters.InvalidParameter e) {
      return invalid(e);
    } catch (IllegalArgumentException e) { // group_by
      return AdminResponse.problem(400, "invalid_parameter", "Invalid parameter", e.getMessage());
    }
    List<SummaryRow> rows;
    try {
      rows = store.summary(q, groupBy);
    } catch (StoreException e) {
      return unavailable(e);
    }
    return AdminResponse.json(200, AuditJson.summary(rows));
  }

  AdminResponse timeline(AdminRequest request) {
    Instant now = clock.instant();
    AuditQuery.Builder b;
    int buckets;
    try {
      b = filters(request, TIMELINE_PARAMS);
      buckets = buckets(request.param("buckets"));
    } catch (AuditFilters.InvalidParameter e) {
      return invalid(e);
    }
    AuditQuery given = b.build();
    Instant until = given.until() == null ? now : given.until();
    Instant since = given.since();
    if (since == null) {
      Instant dayBefore = until.minus(DEFAULT_TIMELINE_RANGE);
      since = dayBefore.isBefore(AuditQuery.EARLIEST_TIME) ? AuditQuery.EARLIEST_TIME : dayBefore;
    }
    if (!since.isBefore(until)) {
      return invalid(new AuditFilters.InvalidParameter("until", "must be after since"));
    }
    Duration width = width(Duration.between(since, until), buckets);
    Instant start = alignDown(since, width);
    List<TimelineBucket> counts;
    try {
      counts = store.timeline(b.since(start).until(until).build(), width);
    } catch (StoreException e) {
      return unavailable(e);
    }
    return AdminResponse.json(200, AuditJson.timeline(start, until, width, counts));
  }

  AdminResponse verify(AdminRequest request) {
    try {
      return AdminResponse.json(200, AuditJson.verification(store.verify()));
    } catch (StoreException e) {
      return unavailable(e);
    }
  }

  /** The smallest round width that covers {@code range} in at most {@code buckets} buckets. */
  static Duration width(Duration range, int buckets) {
    for (Duration w : WIDTHS) {
      // one bucket more than the plain division, for the alignment of the first bucket
      if (ceilDiv(range, w) + 1 <= buckets) {
        return w;
      }
    }
    return Duration.ofDays(
        Math.max(1, Math.ceilDiv(ceilDiv(range, Duration.ofDays(1)), buckets - 1)));
  }

  private static long ceilDiv(Duration a, Duration b) {
    return Math.ceilDiv(a.toMillis(), b.toMillis());
  }

  /** {@code t} rounded down to a multiple of {@code width} since the epoch (UTC). */
  static Instant alignDown(Instant t, Duration width) {
    long w = width.toMillis();
    return Instant.ofEpochMilli(Math.floorDiv(t.toEpochMilli(), w) * w);
  }

  private AuditQuery.Builder filters(AdminRequest request, Set<String> allowed) {
    TreeSet<String> unknown = new TreeSet<>(request.query().keySet());
    unknown.removeAll(allowed);
    if (!unknown.isEmpty()) {
      throw new AuditFilters.InvalidParameter(
          unknown.first(), "unknown parameter; use " + String.join(", ", new TreeSet<>(allowed)));
    }
    for (Map.Entry<String, List<String>> e : request.query().entrySet()) {
      if (e.getValue().size() > 1) {
        throw new AuditFilters.InvalidParameter(e.getKey(), "given more than once");
      }
    }
    return AuditFilters.parse(request::param, clock.instant());
  }

  private static int buckets(@Nullable String text) {
    if (text == null || text.isBlank()) {
      return DEFAULT_BUCKETS;
    }
    try {
      int n = Integer.parseInt(text.trim());
      if (n >= 2 && n <= MAX_BUCKETS) {
        return n;
      }
    } catch (NumberFormatException e) {
      // reported below
    }
    throw new AuditFilters.InvalidParameter(
        "buckets", "must be an integer from 2 to " + MAX_BUCKETS);
  }

  private static AdminResponse invalid(AuditFilters.InvalidParameter e) {
    return AdminResponse.problem(400, "invalid_parameter", "Invalid parameter", e.getMessage());
  }

  private static AdminResponse unavailable(StoreException e) {
    log.warn("audit store unavailable: {}", e.getMessage());
    return AdminResponse.problem(
        503, "store_unavailable", "Audit store unavailable", "the audit store cannot be read now");
  }

  private static Set<String> without(String... names) {
    List<String> out = new ArrayList<>(AuditFilters.NAMES);
    out.removeAll(List.of(names));
    return Set.copyOf(out);
  }

  private static Set<String> plus(Set<String> base, String name) {
    TreeSet<String> out = new TreeSet<>(base);
    out.add(name);
    return Set.copyOf(out);
  }
}
