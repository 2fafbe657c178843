package io.portcullis.server.http;

import io.portcullis.authz.Rule;
import io.portcullis.limit.LimitBackendException;
import io.portcullis.limit.LimitDefinition;
import io.portcullis.limit.LimitKey;
import io.portcullis.limit.LimitUsage;
import io.portcullis.limit.RateLimiter;
import io.portcullis.limit.SourceProtection;
import io.portcullis.net.SourceKeys;
import io.portcullis.policy.Policy;
import io.portcullis.segment.Segment;
import java.util.ArrayList;
import java.util.List;
import java.util.function.Supplier;
import org.jspecify.annotations.Nullable;

/**
 * {@code GET /admin/usage?limit=&key=}, {@code GET /admin/blocks} and {@code DELETE
 * /admin/blocks/{key}}.
 *
 * <p>{@code limit} names a limit of the running policy as {@code <segment>/<limit>} or {@code
 * <segment>/<rule>/<limit>}, or by its bare name when that is unique in the policy. {@code key} is
 * the bucket's key values in the order of the limit's {@code key}, as they are (the service escapes
 * them as the decision pipeline does, {@link LimitKey#bucket}): one {@code key} parameter per value
 * ({@code ?key=acme&key=eu}), or, for a limit whose {@code key} has several parts, one {@code key}
 * with the values joined by {@code ","} ({@code ?key=acme,eu}). A one-part key's value is taken
 * whole, so {@code ?key=a,b} reads the bucket of a client named {@code a,b}. An {@code ip} part is
 * keyed as the limiter keys a source ({@link SourceKeys#ofText}: an IPv6 address by its /64); a
 * value that names no source (not an address) is a 400 naming it, not an empty bucket's usage.
 * {@code DELETE /admin/blocks/{key}} likewise refuses, with 400, an {@code ip:} key that names no
 * source and a key that is neither {@code ip:} nor {@code header:}: no block can have such a key,
 * and "not blocked" would mislead about the source meant.
 */
public final class LimitAdminRoutes {
  private final Supplier<Policy> policy;
  private final RateLimiter limiter;
  private final SourceProtection protection;

  public LimitAdminRoutes(
      Supplier<Policy> policy, RateLimiter limiter, SourceProtection protection) {
    this.policy = policy;
    this.limiter = limiter;
    this.protection = protection;
  }

  public AdminRouter register(AdminRouter router) {
    return router
        .add("GET", "/admin/usage", this::usage)
        .add("GET", "/admin/blocks", this::blocks)
        .add("DELETE", "/admin/blocks/{key...}", this::unblock);
  }

  AdminResponse usage(AdminRequest request) {
    String name = request.param("limit");
    List<String> key = request.query().getOrDefault("key", List.of());
    if (name == null || name.isBlank() || key.isEmpty()) {
      return AdminResponse.problem(
          400, "bad_request", "limit and key are required", "e.g. ?limit=partners/daily&key=acme");
    }
    Policy current = policy.get();
    List<LimitDefinition> found = find(current, name);
    if (found.isEmpty()) {
      return AdminResponse.problem(404, "not_found", "No such limit", unknownLimit(current));
    }
    if (found.size() > 1) {
      return AdminResponse.problem(
          409,
          "ambiguous_limit",
          "Several limits have this name",
          "qualify it as <segment>/<limit> or <segment>/<rule>/<limit>");
    }
    LimitDefinition limit = found.getFirst();
    String bucket;
    switch (bucketOf(limit, key)) {
      case Bucket.Named named -> bucket = named.bucket();
      case Bucket.WrongCount wrong -> {
        return AdminResponse.problem(
            400,
            "bad_request",
            "key does not match the limit's key",
            "the limit is keyed by "
                + limit.key().stream().map(LimitKey::keyName).toList()
                + ": give one key value per part");
      }
      case Bucket.NotASource bad -> {
        return AdminResponse.problem(400, "bad_request", "key is not a source", bad.detail());
      }
    }
    LimitUsage u;
    try {
      u = limiter.usage(limit, bucket);
    } catch (LimitBackendException e) {
      return AdminResponse.problem(503, "backend_unavailable", "Limit backend unavailable", "");
    }
    if (u == null) {
      return AdminResponse.problem(404, "not_found", "This service keeps no limit state", "");
    }
    LimitDefinition l = u.limit();
    String json =
        "{\"limit\":\""
            + Json.escape(qualifiedName(l))
            + "\",\"key\":\""
            + Json.escape(u.bucket())
            + "\",\"used\":"
            + u.used()
            + ",\"max\":"
            + u.max()
            + ",\"remaining\":"
            + u.remaining()
            + ",\"resets_at\":\""
            + u.resetsAt()
            + "\"}";
    return AdminResponse.json(200, json);
  }

  AdminResponse blocks(AdminRequest request) {
    List<SourceProtection.BlockedSource> blocked;
    try {
      blocked = protection.blocked();
    } catch (LimitBackendException e) {
      return AdminResponse.problem(503, "backend_unavailable", "Limit backend unavailable", "");
    }
    StringBuilder json = new StringBuilder("{\"blocks\":[");
    for (int i = 0; i < blocked.size(); i++) {
      SourceProtection.BlockedSource b = blocked.get(i);
      if (i > 0) {
        json.append(',');
      }
      json.append("{\"key\":\"")
          .append(Json.escape(b.key()))
          .append("\",\"blocked_at\":\"")
          .append(b.blockedAt())
          .append("\",\"blocked_until\":\"")
          .append(b.blockedUntil())
          .append("\",\"failures\":")
          .append(b.failures())
          .append('}');
    }
    return AdminResponse.json(200, json.append("]}").toString());
  }

  AdminResponse unblock(AdminRequest request) {
    // The listener has decoded the path once already; an IPv6 block's key holds a '/'.
    String given = request.pathParam("key");
    String key = blockKeyOf(given);
    if (key == null) {
      return AdminResponse.problem(400, "bad_request", "Not a block key", notABlockKey(given));
    }
    boolean removed;
    try {
      removed = protection.unblock(key);
    } catch (LimitBackendException e) {
      return AdminResponse.problem(503, "backend_unavailable", "Limit backend unavailable", "");
    }
    return removed
        ? AdminResponse.noContent()
        : AdminResponse.problem(404, "not_found", "Not blocked", "");
  }

  /** What {@link #bucketOf} makes of the key values an operator gave for a limit. */
  public sealed interface Bucket {
    /** The bucket the decision pipeline counts those values under. */
    record Named(String bucket) implements Bucket {}

    /** Not as many values as the limit's key has parts. */
    record WrongCount() implements Bucket {}

    /**
     * The value of an {@code ip} part names no source ({@link SourceKeys#ofText}): no request is
     * ever counted under it, so its usage would read as unused.
     */
    record NotASource(String value) implements Bucket {
      /** Why, naming the value: the detail of the 400 and of {@code INVALID_ARGUMENT}. */
      public String detail() {
        return "key "
            + quoted(value)
            + " is not a source: the limit's ip part takes "
            + SourceKeys.TEXT_FORMS;
      }
    }
  }

  /**
   * The bucket the decision pipeline counts {@code key} under for {@code limit} ({@link
   * LimitKey#bucket}): one value per key part, or the values of a several-part key joined with
   * {@code ,} in one string. Shared with the admin gRPC service, so both read the bucket the
   * pipeline counts and refuse the same values.
   */
  public static Bucket bucketOf(LimitDefinition limit, List<String> key) {
    int parts = limit.key().size();
    List<String> values =
        key.size() == 1 && parts > 1 ? List.of(key.getFirst().split(",", -1)) : key;
    if (values.size() != parts) {
      return new Bucket.WrongCount();
    }
    // A header part is counted under its digest when it carries credentials or is long, an ip
    // part under the source's key (an IPv6 address's /64): do the same, so the caller can give the
    // value as the client sent it.
    List<String> keyed = new java.util.ArrayList<>(parts);
    for (int i = 0; i < parts; i++) {
      LimitKey part = limit.key().get(i);
      String v = values.get(i);
      if (part instanceof LimitKey.Header h) {
        keyed.add(h.keyValue(v));
      } else if (part == LimitKey.Attribute.IP) {
        String source = SourceKeys.ofText(v);
        if (source == null) {
          return new Bucket.NotASource(v);
        }
        keyed.add(source);
      } else {
        keyed.add(v);
      }
    }
    return new Bucket.Named(LimitKey.bucket(keyed));
  }

  /**
   * The protection key that {@code key} of {@code DELETE /admin/blocks/{key}} names: an {@code ip:}
   * key's address as the failed-auth rule keys a request from it ({@link SourceKeys#ofText}, so
   * {@code ip:2001:db8::1} lifts the block of {@code ip:2001:db8::/64}), a {@code header:} key as
   * given; {@code null} for an {@code ip:} key that names no source and for any other key, which no
   * block can have ({@link #notABlockKey} says why). Shared with the admin gRPC service.
   */
  public static @Nullable String blockKeyOf(String key) {
    if (key.startsWith(HEADER_PREFIX)) {
      return key;
    }
    if (!key.startsWith(IP_PREFIX)) {
      return null;
    }
    String source = SourceKeys.ofText(key.substring(IP_PREFIX.length()));
    return source == null ? null : IP_PREFIX + source;
  }

  /** Why {@link #blockKeyOf} refused {@code key}, naming it. */
  public static String notABlockKey(String key) {
    if (key.startsWith(IP_PREFIX)) {
      return "key " + quoted(key) + " is not a block key: after ip: give " + SourceKeys.TEXT_FORMS;
    }
    return "key "
        + quoted(key)
        + " is not a block key: blocks are keyed ip:<address> or header:<name>:<value>, as"
        + " GET /admin/blocks lists them";
  }

  private static final String IP_PREFIX = "ip:";
  private static final String HEADER_PREFIX = "header:";

  /** {@code value} in single quotes for a message ({@link AdminRequest#clip}). */
  private static String quoted(String value) {
    return "'" + AdminRequest.clip(value) + "'";
  }

  /**
   * {@code partners/daily} for {@code segment/partners}, {@code partners/create/writes} for rules.
   * Also used by the admin gRPC service, so both name limits alike.
   */
  public static String qualifiedName(LimitDefinition l) {
    String scope = l.scope().replaceFirst("^segment/", "").replace("/rule/", "/");
    return scope + "/" + l.name();
  }

  /** The most limit names {@link #unknownLimit} lists. */
  static final int MAX_NAMES_LISTED = 20;

  /**
   * The detail of a limit name that {@link #find} does not know: the names {@code policy} does
   * know, qualified, in policy order, at most {@value #MAX_NAMES_LISTED} of them. Shared with the
   * admin gRPC service.
   */
  public static String unknownLimit(Policy policy) {
    List<String> names = limits(policy).stream().map(LimitAdminRoutes::qualifiedName).toList();
    if (names.isEmpty()) {
      return "no limit of that name: the policy has no limits";
    }
    int shown = Math.min(names.size(), MAX_NAMES_LISTED);
    return "no limit of that name; the policy's limits: "
        + String.join(", ", names.subList(0, shown))
        + (names.size() > shown ? " and " + (names.size() - shown) + " more" : "");
  }

  /**
   * The limits of {@code policy} that {@code name} denotes: those whose qualified name it is, else
   * those whose bare name it is (several when the bare name is ambiguous).
   */
  public static List<LimitDefinition> find(Policy policy, String name) {
    List<LimitDefinition> all = limits(policy);
    List<LimitDefinition> exact = all.stream().filter(l -> qualifiedName(l).equals(name)).toList();
    if (!exact.isEmpty()) {
      return exact;
    }
    return all.stream().filter(l -> l.name().equals(name)).toList();
  }

  /** Every limit of {@code policy}, segment limits and rule limits, in policy order. */
  private static List<LimitDefinition> limits(Policy policy) {
    List<LimitDefinition> all = new ArrayList<>();
    for (Segment s : policy.segments()) {
      all.addAll(s.limits());
      for (Rule r : s.rules()) {
        all.addAll(r.limits());
      }
    }
    return all;
  }
}
