package io.portcullis.audit;

import com.google.protobuf.Descriptors;
import com.google.protobuf.Message;
import com.google.protobuf.Timestamp;
import io.portcullis.proto.v1.AuditSummaryRequest;
import java.time.Instant;
import java.util.HashMap;
import java.util.Map;
import org.jspecify.annotations.Nullable;

/**
 * A search of the audit log: every set filter must match (AND); results come newest first, at most
 * {@link #limit()} per page, continuing after {@link #cursor()}.
 *
 * @param since records at or after this time, or {@code null}; in the years 1970 to 9999
 * @param until records strictly before this time, or {@code null}; in the years 1970 to 9999
 * @param decision {@code allow} or {@code deny}, or {@code null}
 * @param reason a deny reason code, or {@code null}
 * @param segment a segment name, or {@code null}
 * @param principal a principal, or {@code null}
 * @param client a client, or {@code null}
 * @param sourceIp a source address in canonical text form, or {@code null}
 * @param pathPrefix records whose normalized path starts with this, or {@code null}
 * @param dryRunOnly only allows that a dry-run turned from a deny
 * @param limit page size, 1 to {@value #MAX_LIMIT}
 * @param cursor where the previous page ended, or {@code null} for the first page
 */
public record AuditQuery(
    @Nullable Instant since,
    @Nullable Instant until,
    @Nullable String decision,
    @Nullable String reason,
    @Nullable String segment,
    @Nullable String principal,
    @Nullable String client,
    @Nullable String sourceIp,
    @Nullable String pathPrefix,
    boolean dryRunOnly,
    int limit,
    @Nullable AuditCursor cursor) {

  public static final int MAX_LIMIT = 1000;
  public static final int DEFAULT_LIMIT = 100;

  /** The earliest time a filter may name. */
  public static final Instant EARLIEST_TIME = Instant.EPOCH;

  /**
   * The first time past those a filter may name: the year 10000. The store keeps times as epoch
   * microseconds, which overflow around the year 294,000; a bound this far inside that leaves room
   * for any arithmetic on a range (bucket widths, alignment) and refuses only nonsense.
   */
  public static final Instant END_OF_TIMES = Instant.parse("+10000-01-01T00:00:00Z");

  public AuditQuery {
    checkTime("since", since);
    checkTime("until", until);
    if (limit < 1 || limit > MAX_LIMIT) {
      throw new IllegalArgumentException("limit must be between 1 and " + MAX_LIMIT);
    }
    if (decision != null && !decision.equals("allow") && !decision.equals("deny")) {
      throw new IllegalArgumentException("decision must be allow or deny");
    }
    if (since != null && until != null && until.isBefore(since)) {
      throw new IllegalArgumentException("until must not be before since");
    }
  }

  public static Builder builder() {
    return new Builder();
  }

  /**
   * Refuses a filter time outside the years 1970 to 9999.
   *
   * @throws AuditFilters.InvalidParameter naming {@code parameter}
   */
  static void checkTime(String parameter, @Nullable Instant time) {
    if (time != null && (time.isBefore(EARLIEST_TIME) || !time.isBefore(END_OF_TIMES))) {
      throw new AuditFilters.InvalidParameter(
          parameter, "must be a time in the years 1970 to 9999");
    }
  }

  /**
   * A filter time given as a protobuf timestamp (the admin gRPC API).
   *
   * @throws AuditFilters.InvalidParameter naming {@code parameter} if it is outside the years 1970
   *     to 9999 (including seconds too large for an {@link Instant})
   */
  public static Instant time(String parameter, Timestamp t) {
    if (t.getSeconds() < EARLIEST_TIME.getEpochSecond()
        || t.getSeconds() >= END_OF_TIMES.getEpochSecond()) {
      throw new AuditFilters.InvalidParameter(
          parameter, "must be a time in the years 1970 to 9999");
    }
    Instant time = Instant.ofEpochSecond(t.getSeconds(), t.getNanos());
    checkTime(parameter, time);
    return time;
  }

  /** The first page of everything, {@value #DEFAULT_LIMIT} records. */
  public static AuditQuery all() {
    return builder().build();
  }

  /** This query continued after {@code next} (the previous page's {@link AuditPage#next()}). */
  public AuditQuery after(AuditCursor next) {
    return new AuditQuery(
        since,
        until,
        decision,
        reason,
        segment,
        principal,
        client,
        sourceIp,
        pathPrefix,
        dryRunOnly,
        limit,
        next);
  }

  /**
   * The query an admin gRPC {@code AuditQuery} asks for; empty fields mean "any", limit 0 means
   * {@value #DEFAULT_LIMIT}.
   *
   * @throws AuditFilters.InvalidParameter naming the first field whose value {@code GET
   *     /admin/audit} would refuse
   */
  public static AuditQuery fromProto(io.portcullis.proto.v1.AuditQuery q) {
    return fromRequest(q);
  }

  /**
   * The filters and limit of an admin gRPC {@code AuditSummaryRequest} (its {@code group_by}
   * aside), as {@code GET /admin/audit/summary} takes them.
   *
   * @throws AuditFilters.InvalidParameter naming the first field whose value that endpoint would
   *     refuse
   */
  public static AuditQuery fromProto(AuditSummaryRequest r) {
    return fromRequest(r);
  }

  /**
   * The filters of a gRPC request whose fields are named as {@link AuditFilters#NAMES}, parsed by
   * {@link AuditFilters} as the admin HTTP API parses its parameters, so both APIs accept, refuse
   * and canonicalise alike (a reason code is checked, a path prefix must start with /,
   * ::ffff:10.0.0.1 is 10.0.0.1). Times are timestamps rather than text; an unset field, an empty
   * string, {@code false} and 0 mean "not given". A parameter the message lacks (a summary's
   * cursor) is not given.
   */
  private static AuditQuery fromRequest(Message request) {
    Descriptors.Descriptor type = request.getDescriptorForType();
    Map<String, String> params = new HashMap<>();
    Map<String, Instant> times = new HashMap<>();
    for (String name : AuditFilters.NAMES) {
      Descriptors.FieldDescriptor f = type.findFieldByName(name);
      if (f == null) {
        continue;
      }
      Object value = request.getField(f);
      switch (value) {
        case Timestamp t when request.hasField(f) -> times.put(name, time(name, t));
        case Timestamp t -> {}
        case String text when !text.isEmpty() -> params.put(name, text);
        case Boolean flag when flag -> params.put(name, "true");
        case Integer n when n != 0 -> params.put(name, Integer.toUnsignedString(n)); // uint32
        default -> {}
      }
    }
    Builder b = AuditFilters.parse(params::get, Instant.EPOCH);
    Instant since = times.get("since");
    Instant until = times.get("until");
    if (since != null && until != null && until.isBefore(since)) {
      throw new AuditFilters.InvalidParameter("until", "must not be before since (" + since + ")");
    }
    return b.since(since).until(until).build();
  }

  /**
   * Builds an {@link AuditQuery}; not thread-safe. Empty strings mean "no filter", so request
   * parameters can be passed through as they come.
   */
  public static final class Builder {
    private @Nullable Instant since;
    private @Nullable Instant until;
    private @Nullable String decision;
    private @Nullable String reason;
    private @Nullable String segment;
    private @Nullable String principal;
    private @Nullable String client;
    private @Nullable String sourceIp;
    private @Nullable String pathPrefix;
    private boolean dryRunOnly;
    private int limit = DEFAULT_LIMIT;
    private @Nullable AuditCursor cursor;

    private Builder() {}

    public Builder since(@Nullable Instant since) {
      this.since = since;
      return this;
    }

    public Builder until(@Nullable Instant until) {
      this.until = until;
      return this;
    }

    public Builder decision(@Nullable String decision) {
      this.decision = blankToNull(decision);
      return this;
    }

    public Builder reason(@Nullable String reason) {
      this.reason = blankToNull(reason);
      return this;
    }

    public Builder segment(@Nullable String segment) {
      this.segment = blankToNull(segment);
      return this;
    }

    public Builder principal(@Nullable String principal) {
      this.principal = blankToNull(principal);
      return this;
    }

    public Builder client(@Nullable String client) {
      this.client = blankToNull(client);
      return this;
    }

    public Builder sourceIp(@Nullable String sourceIp) {
      this.sourceIp = blankToNull(sourceIp);
      return this;
    }

    public Builder pathPrefix(@Nullable String pathPrefix) {
      this.pathPrefix = blankToNull(pathPrefix);
      return this;
    }

    /** Only records of dry-run allows (a deny that a dry-run segment or rule waived). */
    public Builder dryRunOnly() {
      this.dryRunOnly = true;
      return this;
    }

    public Builder limit(int limit) {
      this.limit = limit;
      return this;
    }

    public Builder cursor(@Nullable AuditCursor cursor) {
      this.cursor = cursor;
      return this;
    }

    /**
     * Continues after an opaque cursor string; empty means the first page.
     *
     * @throws IllegalArgumentException if the cursor is invalid
     */
    public Builder cursor(@Nullable String cursor) {
      this.cursor = cursor == null || cursor.isEmpty() ? null : AuditCursor.parse(cursor);
      return this;
    }

    /**
     * @throws IllegalArgumentException if the limit is out of range, the decision is not
     *     allow/deny, a time is outside the years 1970 to 9999, or until is before since
     */
    public AuditQuery build() {
      return new AuditQuery(
          since,
          until,
          decision,
          reason,
          segment,
          principal,
          client,
          sourceIp,
          pathPrefix,
          dryRunOnly,
          limit,
          cursor);
    }

    private static @Nullable String blankToNull(@Nullable String s) {
      return s == null || s.isEmpty() ? null : s;
    }
  }
}
