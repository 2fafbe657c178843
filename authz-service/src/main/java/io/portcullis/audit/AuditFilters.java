package io.portcullis.audit;

import com.google.common.net.InetAddresses;
import io.portcullis.decision.Reason;
import io.portcullis.policy.YamlReader;
import io.portcullis.request.RequestAttributes;
import java.net.InetAddress;
import java.time.DateTimeException;
import java.time.Duration;
import java.time.Instant;
import java.time.OffsetDateTime;
import java.util.List;
import java.util.Locale;
import java.util.function.Function;
import org.jspecify.annotations.Nullable;

/**
 * The audit filters as text, the way the admin API ({@code GET
 * /admin/audit?since=1h&decision=deny}) and the CLI ({@code portcullis audit query --since 1h
 * --decision deny}) take them: one parser, so both accept and refuse the same values with the same
 * messages.
 *
 * <ul>
 *   <li>{@code since}, {@code until}: an RFC 3339 instant ({@code 2026-11-22T10:00:00Z}, {@code
 *       2026-11-22T11:00:00+01:00}) or a duration before now ({@code 90s}, {@code 30m}, {@code 1h},
 *       {@code 7d}), in the years 1970 to 9999; {@code until} must not be before {@code since}.
 *   <li>{@code decision}: {@code allow} or {@code deny}; {@code reason}: a reason code of the
 *       decision order (policy.md).
 *   <li>{@code segment}, {@code principal}, {@code client}: exact values.
 *   <li>{@code source_ip}: an IP literal, matched in canonical form ({@code ::ffff:10.0.0.1} is
 *       {@code 10.0.0.1}); {@code path_prefix}: starts with {@code /}, matched on the normalized
 *       path.
 *   <li>{@code dry_run}: {@code true}/{@code false} (or {@code 1}/{@code 0}): only allows that a
 *       dry-run turned from a deny.
 *   <li>{@code limit}: 1 to {@value AuditQuery#MAX_LIMIT}; {@code cursor}: a previous page's {@code
 *       X-Next-Cursor}.
 * </ul>
 *
 * Empty values mean "no filter". Messages never repeat the value (it may be anything a caller
 * typed). Stateless and thread-safe.
 */
public final class AuditFilters {
  /** Every parameter {@link #parse} reads. */
  public static final List<String> NAMES =
      List.of(
          "since",
          "until",
          "decision",
          "reason",
          "segment",
          "principal",
          "client",
          "source_ip",
          "path_prefix",
          "dry_run",
          "limit",
          "cursor");

  /** A parameter whose value cannot be used; the message says which and why. */
  public static final class InvalidParameter extends IllegalArgumentException {
    private final String parameter;

    public InvalidParameter(String parameter, String message) {
      super(parameter + ": " + message);
      this.parameter = parameter;
    }

    /** The parameter's name, e.g. {@code since}. */
    public String parameter() {
      return parameter;
    }
  }

  private AuditFilters() {}

  /**
   * A query builder with every filter of {@link #NAMES} that {@code param} supplies.
   *
   * @param param the value of a parameter by name, {@code null} or empty when not given
   * @param now what relative times count back from
   * @throws InvalidParameter naming the first parameter whose value is unusable
   */
  public static AuditQuery.Builder parse(Function<String, @Nullable String> param, Instant now) {
    AuditQuery.Builder b = AuditQuery.builder();
    Instant since = time("since", param.apply("since"), now);
    Instant until = time("until", param.apply("until"), now);
    if (since != null && until != null && until.isBefore(since)) {
      throw new InvalidParameter("until", "must not be before since (" + since + ")");
    }
    b.since(since).until(until);
    String decision = value(param, "decision");
    if (decision != null && !decision.equals("allow") && !decision.equals("deny")) {
      throw new InvalidParameter("decision", "must be allow or deny");
    }
    b.decision(decision);
    String reason = value(param, "reason");
    if (reason != null && Reason.parse(reason) == null) {
      throw new InvalidParameter("reason", "is not a reason code (e.g. invalid_token)");
    }
    b.reason(reason)
        .segment(value(param, "segment"))
        .principal(value(param, "principal"))
        .client(value(param, "client"))
        .sourceIp(sourceIp(value(param, "source_ip")));
    String prefix = value(param, "path_prefix");
    if (prefix != null && !prefix.startsWith("/")) {
      throw new InvalidParameter("path_prefix", "must start with /");
    }
    b.pathPrefix(prefix);
    if (flag("dry_run", value(param, "dry_run"))) {
      b.dryRunOnly();
    }
    String limit = value(param, "limit");
    if (limit != null) {
      b.limit(limit(limit));
    }
    String cursor = value(param, "cursor");
    if (cursor != null) {
      try {
        b.cursor(cursor);
      } catch (IllegalArgumentException e) {
        throw new InvalidParameter("cursor", "is not a cursor this service issued");
      }
    }
    return b;
  }

  /**
   * An RFC 3339 instant or a duration before {@code now}, in the years 1970 to 9999 (a time the
   * store can hold and do arithmetic on); {@code null} for null or empty text.
   *
   * @throws InvalidParameter naming {@code parameter}
   */
  public static @Nullable Instant time(String parameter, @Nullable String text, Instant now) {
    if (text == null || text.isBlank()) {
      return null;
    }
    String t = text.trim();
    Duration ago = YamlReader.parseDuration(t);
    Instant time;
    try {
      time =
          ago != null
              ? now.minus(ago)
              : OffsetDateTime.parse(t.toUpperCase(Locale.ROOT)).toInstant();
    } catch (DateTimeException | ArithmeticException e) {
      throw new InvalidParameter(
          parameter,
          "is neither an RFC 3339 time (2026-11-22T10:00:00Z) nor a duration before now"
              + " (30m, 1h, 7d)");
    }
    AuditQuery.checkTime(parameter, time);
    return time;
  }

  private static @Nullable String sourceIp(@Nullable String text) {
    if (text == null) {
      return null;
    }
    InetAddress ip = RequestAttributes.parseIp(text);
    if (ip == null) {
      throw new InvalidParameter("source_ip", "is not an IP address");
    }
    return InetAddresses.toAddrString(ip);
  }

  private static boolean flag(String parameter, @Nullable String text) {
    if (text == null) {
      return false;
    }
    return switch (text.toLowerCase(Locale.ROOT)) {
      case "true", "1", "yes" -> true;
      case "false", "0", "no" -> false;
      default -> throw new InvalidParameter(parameter, "must be true or false");
    };
  }

  private static int limit(String text) {
    try {
      int n = Integer.parseInt(text);
      if (n >= 1 && n <= AuditQuery.MAX_LIMIT) {
        return n;
      }
    } catch (NumberFormatException e) {
      // reported below
    }
    throw new InvalidParameter("limit", "must be an integer from 1 to " + AuditQuery.MAX_LIMIT);
  }

  private static @Nullable String value(Function<String, @Nullable String> param, String name) {
    String v = param.apply(name);
    return v == null || v.isBlank() ? null : v.trim();
  }
}
