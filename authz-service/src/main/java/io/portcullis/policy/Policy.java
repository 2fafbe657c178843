package io.portcullis.policy;

import io.portcullis.decision.ResponseOptions;
import io.portcullis.identity.IdentityResolver;
import io.portcullis.limit.FailedAuthRule;
import io.portcullis.segment.Segment;
import java.time.Instant;
import java.util.List;
import java.util.Objects;
import org.jspecify.annotations.Nullable;

/**
 * A loaded, validated and compiled policy: what the decision pipeline runs. Immutable; swapped
 * atomically on reload.
 *
 * @param version content hash of the policy file and the schema files it references ({@code
 *     sha256:} and 16 hex digits); every audit record names the version that decided it
 * @param source the policy file
 * @param loadedAt when it was compiled
 * @param identity verifies the credentials of phase 3
 * @param segments in policy order
 * @param protect {@code protect.failed_auth}, or {@code null}
 * @param response the {@code response:} section
 * @param usesCountry whether any segment matches or guards on country (GeoIP lookups are skipped
 *     otherwise)
 */
public record Policy(
    String version,
    String source,
    Instant loadedAt,
    IdentityResolver identity,
    List<Segment> segments,
    @Nullable FailedAuthRule protect,
    ResponseOptions response,
    boolean usesCountry) {

  public Policy {
    Objects.requireNonNull(version, "version");
    Objects.requireNonNull(source, "source");
    Objects.requireNonNull(loadedAt, "loadedAt");
    Objects.requireNonNull(identity, "identity");
    segments = List.copyOf(segments);
    Objects.requireNonNull(response, "response");
  }
}
