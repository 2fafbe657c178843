package io.portcullis.authz;

import io.portcullis.limit.LimitDefinition;
import io.portcullis.payload.BodySchema;
import io.portcullis.request.HttpMethod;
import io.portcullis.request.NormalizedPath;
import java.util.List;
import java.util.Objects;
import org.jspecify.annotations.Nullable;

/**
 * A compiled rule of a segment (spec step 6). A rule <em>applies</em> when its methods and paths
 * match; an applicable deny rule denies, and an applicable allow rule allows when its {@link
 * Conditions} hold.
 *
 * @param name unique within its segment
 * @param effect allow or deny
 * @param methodBits {@link HttpMethod#bit()} of every method it applies to (all when the policy
 *     gives no {@code methods} or {@code "*"})
 * @param paths the path patterns; a rule applies if any matches
 * @param conditions an allow rule's conditions on the identity
 * @param bodySchema the schema the body of an allowed request must match, or {@code null}
 * @param limits limits that apply when this rule allows
 * @param mode enforce, or dry-run
 */
public record Rule(
    String name,
    Effect effect,
    int methodBits,
    List<PathPattern> paths,
    Conditions conditions,
    @Nullable BodySchema bodySchema,
    List<LimitDefinition> limits,
    Mode mode) {

  public Rule {
    Objects.requireNonNull(name, "name");
    Objects.requireNonNull(effect, "effect");
    paths = List.copyOf(paths);
    Objects.requireNonNull(conditions, "conditions");
    limits = List.copyOf(limits);
    Objects.requireNonNull(mode, "mode");
  }

  /** Whether the rule applies to this method and normalized path. */
  public boolean applies(HttpMethod method, NormalizedPath path) {
    return (methodBits & method.bit()) != 0 && matchingPattern(path) != null;
  }

  /**
   * The first of the rule's patterns that matches {@code path}, or {@code null}. A deny rule
   * matches more than its patterns say, in two ways, because many upstreams route more than one
   * spelling of a path to one handler and a deny carved out of a wider allow ({@code allow /v1/**},
   * {@code deny /v1/export}) could otherwise be walked around:
   *
   * <ul>
   *   <li>a path with one trailing {@code /} more than a pattern matches ({@code /v1/export/}:
   *       Spring MVC before 6, Express without strict routing);
   *   <li>a path whose ASCII letters differ in case only ({@code /v1/Export}: Express, ASP.NET Core
   *       and IIS route case-insensitively by default).
   * </ul>
   *
   * Allow rules stay exact: a missing match there denies.
   */
  public @Nullable PathPattern matchingPattern(NormalizedPath path) {
    boolean deny = effect == Effect.DENY;
    for (PathPattern p : paths) {
      if (p.matches(path, path.segmentCount(), deny)) {
        return p;
      }
    }
    int n = path.segmentCount();
    if (deny && n > 1 && path.segment(n - 1).isEmpty()) {
      for (PathPattern p : paths) {
        if (p.matches(path, n - 1, true)) {
          return p;
        }
      }
    }
    return null;
  }
}
