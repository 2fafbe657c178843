package io.portcullis.segment;

import static org.assertj.core.api.Assertions.assertThat;

import io.portcullis.decision.Reason;
import io.portcullis.identity.Identity;
import io.portcullis.identity.Subject;
import io.portcullis.net.CidrSet;
import io.portcullis.request.HttpMethod;
import io.portcullis.request.NormalizedPath;
import io.portcullis.request.PathNormalizer;
import io.portcullis.request.RequestAttributes;
import java.util.List;
import java.util.Set;
import java.util.stream.Stream;
import org.jspecify.annotations.Nullable;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * The network and geo guards (policy.md step 5) with a known-in, a known-out and an unknown source
 * or country. "Unknown country never matches allow" (policy.md), and an unknown source is in no
 * network list: an allow list denies both, so a caller cannot pass an allow list by hiding where it
 * comes from. A deny list denies an unknown source (it cannot be evaded that way either) but lets
 * an unknown country pass (a country lookup that fails is not evidence of a denied country). {@code
 * describe} (explain) must give the same verdict as {@code check} (the hot path).
 */
class GuardsTest {

  private static final Guards NETWORK_ALLOW =
      new Guards(
          false,
          CidrSet.parse(List.of("10.0.0.0/8", "2001:db8::/32")),
          CidrSet.empty(),
          Set.of(),
          Set.of());
  private static final Guards NETWORK_DENY =
      new Guards(
          false,
          CidrSet.empty(),
          CidrSet.parse(List.of("10.0.0.0/8", "2001:db8::/32")),
          Set.of(),
          Set.of());
  private static final Guards GEO_ALLOW =
      new Guards(false, CidrSet.empty(), CidrSet.empty(), Set.of("DE", "NO"), Set.of());
  private static final Guards GEO_DENY =
      new Guards(false, CidrSet.empty(), CidrSet.empty(), Set.of(), Set.of("KP", "IR"));

  static Stream<Arguments> cases() {
    return Stream.of(
        // network.allow: known-in, known-out, unknown
        Arguments.of("network.allow, source in", NETWORK_ALLOW, "10.1.2.3", null, null),
        Arguments.of("network.allow, v6 source in", NETWORK_ALLOW, "2001:db8::7", null, null),
        Arguments.of(
            "network.allow, source out", NETWORK_ALLOW, "192.0.2.1", null, Reason.IP_DENIED),
        Arguments.of("network.allow, source unknown", NETWORK_ALLOW, null, null, Reason.IP_DENIED),
        // network.deny: the same three
        Arguments.of("network.deny, source in", NETWORK_DENY, "10.1.2.3", null, Reason.IP_DENIED),
        Arguments.of("network.deny, source out", NETWORK_DENY, "192.0.2.1", null, null),
        Arguments.of("network.deny, source unknown", NETWORK_DENY, null, null, Reason.IP_DENIED),
        // geo.allow: known-in, known-out, unknown
        Arguments.of("geo.allow, country in", GEO_ALLOW, "192.0.2.1", "DE", null),
        Arguments.of("geo.allow, country out", GEO_ALLOW, "192.0.2.1", "US", Reason.GEO_DENIED),
        Arguments.of("geo.allow, country unknown", GEO_ALLOW, "192.0.2.1", null, Reason.GEO_DENIED),
        // geo.deny: the same three
        Arguments.of("geo.deny, country in", GEO_DENY, "192.0.2.1", "KP", Reason.GEO_DENIED),
        Arguments.of("geo.deny, country out", GEO_DENY, "192.0.2.1", "DE", null),
        Arguments.of("geo.deny, country unknown", GEO_DENY, "192.0.2.1", null, null));
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("cases")
  void guard_withKnownInKnownOutAndUnknown(
      String name,
      Guards guards,
      @Nullable String sourceIp,
      @Nullable String country,
      @Nullable Reason expected) {
    Subject s = subject(sourceIp, country);

    assertThat(guards.check(s)).as(name).isEqualTo(expected);
    assertThat(guards.describe(s))
        .as(name)
        .singleElement()
        .asString()
        .endsWith(expected == null ? ": passes" : ": " + expected.code());
  }

  private static Subject subject(@Nullable String sourceIp, @Nullable String country) {
    NormalizedPath path =
        switch (PathNormalizer.normalize("/v1/x")) {
          case PathNormalizer.Normalized(NormalizedPath p) -> p;
          case PathNormalizer.Malformed(String why) -> throw new AssertionError(why);
        };
    RequestAttributes request =
        RequestAttributes.builder().method("GET").path("/v1/x").sourceIp(sourceIp).build();
    return new Subject(request, HttpMethod.GET, path, Identity.anonymous(), country);
  }
}
