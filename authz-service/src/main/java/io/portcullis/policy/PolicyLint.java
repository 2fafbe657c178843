package io.portcullis.policy;

import io.portcullis.authz.Effect;
import io.portcullis.authz.Mode;
import io.portcullis.authz.PathPattern;
import io.portcullis.identity.CredentialType;
import io.portcullis.limit.LimitKey;
import io.portcullis.policy.PolicySpec.LimitSpec;
import io.portcullis.policy.PolicySpec.MatchSpec;
import io.portcullis.policy.PolicySpec.RuleSpec;
import io.portcullis.policy.PolicySpec.SegmentSpec;
import io.portcullis.request.HttpMethod;
import io.portcullis.segment.PrincipalPattern;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collection;
import java.util.EnumSet;
import java.util.List;
import java.util.Locale;
import java.util.Objects;
import java.util.Set;
import java.util.SortedSet;
import java.util.TreeSet;
import java.util.stream.Stream;
import org.jspecify.annotations.Nullable;

/**
 * Warnings about a valid policy: things that load and run, but are most likely not what the author
 * meant. They are shown by {@code policy check} and kept in {@link LivePolicy#status()}; they never
 * prevent loading. Every check is conservative: it warns only when sure.
 *
 * <ul>
 *   <li><b>Everything to anyone.</b> An allow rule without conditions whose path pattern matches
 *       every path ({@code /**}) in a segment that admits anonymous callers.
 *   <li><b>Unlimited anonymous access.</b> An allow rule without conditions in a segment that
 *       admits anonymous callers, when no limit of the rule or the segment applies to them (a limit
 *       keyed only by {@code ip}, {@code segment} or {@code route}; {@code client}, {@code
 *       principal} and {@code api_key} are absent for anonymous callers, a {@code header:} can be
 *       left out).
 *   <li><b>Order decides.</b> Two enforced allow rules of one segment whose methods overlap and one
 *       of whose path patterns {@linkplain PathPattern#subsumes subsumes} one of the other's, when
 *       they differ in body schema or limits: a caller both rules admit gets the first rule's
 *       schema and limits, so the order of the rules matters. Rules that differ only in their
 *       conditions are not reported (the outcome is the same whichever decides), nor rules whose
 *       {@code clients} conditions are disjoint (no caller meets both).
 *   <li><b>Unused schema files.</b> JSON files in the directories of the referenced schemas, or
 *       under a {@code schemas/} folder next to the policy, that no {@code body_schema} names and
 *       no referenced schema reaches by {@code $ref}. Hidden files and directories (Kubernetes'
 *       {@code ..data}) are not considered.
 * </ul>
 *
 * <p>A segment <em>admits anonymous callers</em> when its match neither names credential types
 * other than {@code anonymous} nor requires a client, client type or role, and its principal
 * patterns (if any) match {@code anonymous}. Rules with conditions are never reported for anonymous
 * callers (who cannot meet them), and dry-run waivers are not considered: a dry-run segment or rule
 * lets through what it would deny, by design, while it is rolled out.
 */
final class PolicyLint {
  /** Bounds the schemas/ walk: a policy directory is not a file system to crawl. */
  private static final int MAX_WALK_DEPTH = 8;

  private static final int MAX_CANDIDATES = 1000;

  private PolicyLint() {}

  /** The rule lints over a policy that bound without errors. */
  static void rules(PolicySpec spec, Diagnostics d) {
    for (int i = 0; i < spec.segments().size(); i++) {
      SegmentSpec s = spec.segments().get(i);
      String segmentPath = "segments[" + i + "]";
      boolean anonymous = admitsAnonymous(s.match());
      boolean segmentLimitsAnonymous = limitsAnonymous(s.limits());
      for (int j = 0; j < s.rules().size(); j++) {
        RuleSpec r = s.rules().get(j);
        String rulePath = segmentPath + ".rules[" + j + "]";
        boolean openToAnonymous = anonymous && r.effect() == Effect.ALLOW && unconditional(r);
        if (openToAnonymous) {
          for (int k = 0; k < r.paths().size(); k++) {
            if (r.paths().get(k).matchesEverything()) {
              PolicySpec.Pos at = r.pathPositions().get(k);
              d.warning(
                  at.line(),
                  at.column(),
                  rulePath + ".paths[" + k + "]",
                  "rule '"
                      + r.name()
                      + "' allows every path to anonymous callers: segment '"
                      + s.name()
                      + "' admits requests without credentials; narrow the paths, add conditions,"
                      + " or restrict the segment's match (e.g. credential: [jwt])");
            }
          }
          if (!segmentLimitsAnonymous && !limitsAnonymous(r.limits())) {
            d.warning(
                r.at().line(),
                r.at().column(),
                rulePath,
                "rule '"
                    + r.name()
                    + "' admits anonymous callers without any limit: segment '"
                    + s.name()
                    + "' admits requests without credentials, and neither the rule nor the segment"
                    + " has a limit keyed by ip, segment or route (e.g. limits: [{ name: per-ip,"
                    + " key: [ip], rate: 10/s }])");
          }
        }
        RuleSpec earlier = firstOrderDependentOverlap(s.rules(), j);
        if (earlier != null) {
          d.warning(
              r.at().line(),
              r.at().column(),
              rulePath,
              "rule '"
                  + r.name()
                  + "' overlaps rule '"
                  + earlier.name()
                  + "' (line "
                  + earlier.at().line()
                  + ") for "
                  + methods(earlier, r)
                  + " "
                  + overlapPattern(earlier, r)
                  + ": a caller both rules admit is decided by '"
                  + earlier.name()
                  + "', which comes first, so '"
                  + r.name()
                  + "''s "
                  + difference(earlier, r)
                  + " do not apply to it; make the paths disjoint or put the more specific rule"
                  + " first");
        }
      }
    }
  }

  /** Schema files next to the referenced ones, or under {@code schemas/}, that nothing uses. */
  static void unusedSchemas(Path policyDirectory, Collection<Path> used, Diagnostics d) {
    Path root;
    try {
      root = policyDirectory.toAbsolutePath().normalize().toRealPath();
    } catch (IOException e) {
      return;
    }
    SortedSet<Path> candidates = new TreeSet<>();
    for (Path file : used) {
      Path dir = file.getParent();
      if (dir != null) {
        collect(dir, 1, candidates);
      }
    }
    collect(root.resolve("schemas"), MAX_WALK_DEPTH, candidates);
    for (Path candidate : candidates) {
      if (!used.contains(candidate)) {
        String shown =
            candidate.startsWith(root)
                ? root.relativize(candidate).toString()
                : candidate.toString();
        d.warning(
            0,
            0,
            "",
            "schema file '"
                + shown
                + "' is not used: no rule's body_schema names it and no used schema reaches it by"
                + " $ref; delete it or reference it");
      }
    }
  }

  // ---------------------------------------------------------------- anonymous callers

  static boolean admitsAnonymous(MatchSpec m) {
    boolean credential =
        m.credentials().isEmpty() || m.credentials().contains(CredentialType.ANONYMOUS);
    boolean principal =
        m.principals().isEmpty() || m.principals().stream().anyMatch(PolicyLint::matchesAnonymous);
    return credential
        && principal
        && m.clients().isEmpty()
        && m.clientTypes().isEmpty()
        && m.rolesAny().isEmpty()
        && m.issuers().isEmpty();
  }

  private static boolean matchesAnonymous(PrincipalPattern p) {
    return p.matches("anonymous");
  }

  private static boolean unconditional(RuleSpec r) {
    return r.rolesAny().isEmpty()
        && r.rolesAll().isEmpty()
        && r.scopesAny().isEmpty()
        && r.clients().isEmpty();
  }

  /** Whether one of the limits applies to every anonymous request. */
  private static boolean limitsAnonymous(List<LimitSpec> limits) {
    for (LimitSpec l : limits) {
      boolean always = true;
      for (LimitKey k : l.key()) {
        always &=
            k == LimitKey.Attribute.IP
                || k == LimitKey.Attribute.SEGMENT
                || k == LimitKey.Attribute.ROUTE;
      }
      if (always) {
        return true;
      }
    }
    return false;
  }

  // ---------------------------------------------------------------- order-dependent overlaps

  /** The first earlier rule that overlaps rule {@code j} so that their order decides, or null. */
  private static @Nullable RuleSpec firstOrderDependentOverlap(List<RuleSpec> rules, int j) {
    RuleSpec b = rules.get(j);
    if (!isEnforcedAllow(b)) {
      return null;
    }
    for (int i = 0; i < j; i++) {
      RuleSpec a = rules.get(i);
      if (isEnforcedAllow(a)
          && methodSet(a).stream().anyMatch(methodSet(b)::contains)
          && overlapPattern(a, b) != null
          && treatedDifferently(a, b)
          && !disjointClients(a, b)) {
        return a;
      }
    }
    return null;
  }

  private static boolean isEnforcedAllow(RuleSpec r) {
    return r.effect() == Effect.ALLOW && r.mode() == Mode.ENFORCE;
  }

  private static Set<HttpMethod> methodSet(RuleSpec r) {
    return r.methods().isEmpty() ? EnumSet.allOf(HttpMethod.class) : r.methods();
  }

  /** The narrower of a pair of patterns one of which subsumes the other, or null. */
  private static @Nullable String overlapPattern(RuleSpec a, RuleSpec b) {
    for (PathPattern pa : a.paths()) {
      for (PathPattern pb : b.paths()) {
        if (pa.subsumes(pb)) {
          return pb.pattern();
        }
        if (pb.subsumes(pa)) {
          return pa.pattern();
        }
      }
    }
    return null;
  }

  private static String methods(RuleSpec a, RuleSpec b) {
    Set<HttpMethod> both = EnumSet.copyOf(methodSet(a));
    both.retainAll(methodSet(b));
    if (both.size() == HttpMethod.values().length) {
      return "every method";
    }
    return String.join(",", both.stream().map(Enum::name).toList());
  }

  private static boolean treatedDifferently(RuleSpec a, RuleSpec b) {
    return !Objects.equals(schemaOf(a), schemaOf(b)) || !limitShapes(a).equals(limitShapes(b));
  }

  private static String difference(RuleSpec a, RuleSpec b) {
    List<String> parts = new ArrayList<>();
    if (!Objects.equals(schemaOf(a), schemaOf(b))) {
      parts.add("body schema (" + describeSchema(b) + " vs " + describeSchema(a) + ")");
    }
    if (!limitShapes(a).equals(limitShapes(b))) {
      parts.add("limits");
    }
    return String.join(" and ", parts);
  }

  private static @Nullable String schemaOf(RuleSpec r) {
    return r.bodySchema() == null ? null : r.bodySchema().source();
  }

  private static String describeSchema(RuleSpec r) {
    String s = schemaOf(r);
    return s == null ? "none" : s;
  }

  /** A rule's limits without their positions: name, key and kind. */
  private static List<List<Object>> limitShapes(RuleSpec r) {
    return r.limits().stream().map(l -> List.<Object>of(l.name(), l.key(), l.kind())).toList();
  }

  private static boolean disjointClients(RuleSpec a, RuleSpec b) {
    return !a.clients().isEmpty()
        && !b.clients().isEmpty()
        && a.clients().stream().noneMatch(b.clients()::contains);
  }

  // ---------------------------------------------------------------- schema files

  private static void collect(Path dir, int depth, SortedSet<Path> out) {
    if (!Files.isDirectory(dir)) {
      return;
    }
    try (Stream<Path> files = Files.walk(dir, depth)) {
      files
          .filter(p -> !hidden(dir, p))
          .filter(p -> p.getFileName().toString().toLowerCase(Locale.ROOT).endsWith(".json"))
          .filter(Files::isRegularFile)
          .limit(MAX_CANDIDATES)
          .forEach(p -> out.add(p.toAbsolutePath().normalize()));
    } catch (IOException | RuntimeException e) {
      // An unreadable directory is not worth a warning of its own: lint is best effort.
    }
  }

  private static boolean hidden(Path dir, Path p) {
    for (Path part : dir.relativize(p)) {
      if (part.toString().startsWith(".")) {
        return true;
      }
    }
    return false;
  }
}
