package io.portcullis.segment;

import static org.assertj.core.api.Assertions.assertThat;

import io.portcullis.identity.CredentialType;
import io.portcullis.identity.Identity;
import io.portcullis.identity.Subject;
import io.portcullis.net.CidrSet;
import io.portcullis.request.HttpMethod;
import io.portcullis.request.NormalizedPath;
import io.portcullis.request.PathNormalizer;
import io.portcullis.request.RequestAttributes;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.function.Consumer;
import org.junit.jupiter.api.Test;

/** {@code matches} (the hot path) and {@code mismatch} (traces) must agree on every condition. */
class SegmentMatchTest {

  private static final Identity ALICE =
      Identity.builder(CredentialType.JWT, "alice")
          .issuer("corp")
          .client("web")
          .clientType("public")
          .roles(Set.of("reader", "auditor"))
          .build();

  private static Subject subject(Identity id, String sourceIp, String country) {
    NormalizedPath path =
        switch (PathNormalizer.normalize("/v1/x")) {
          case PathNormalizer.Normalized(NormalizedPath p) -> p;
          case PathNormalizer.Malformed(String why) -> throw new AssertionError(why);
        };
    RequestAttributes request =
        RequestAttributes.builder()
            .method("GET")
            .path("/v1/x")
            .sourceIp(sourceIp)
            .context("env", "prod")
            .build();
    return new Subject(request, HttpMethod.GET, path, id, country);
  }

  /** A match with only the conditions a test sets; every other condition imposes nothing. */
  private static final class Conditions {
    Set<CredentialType> credentials = Set.of();
    List<String> principals = List.of();
    Set<String> clients = Set.of();
    Set<String> clientTypes = Set.of();
    Set<String> roles = Set.of();
    List<String> cidrs = List.of();
    Set<String> countries = Set.of();
    Map<String, String> context = Map.of();
    Set<String> issuers = Set.of();

    SegmentMatch build() {
      return new SegmentMatch(
          credentials,
          principals.stream().map(PrincipalPattern::compile).toList(),
          clients,
          clientTypes,
          roles,
          cidrs.isEmpty() ? CidrSet.empty() : CidrSet.parse(cidrs),
          countries,
          context,
          issuers);
    }
  }

  private static SegmentMatch match(Consumer<Conditions> set) {
    Conditions c = new Conditions();
    set.accept(c);
    return c.build();
  }

  private static void assertRefusedWith(SegmentMatch m, Subject s, String reasonStart) {
    assertThat(m.matches(s)).isFalse();
    assertThat(m.mismatch(s)).startsWith(reasonStart);
  }

  @Test
  void everyConditionHolding_matches_andHasNoMismatch() {
    SegmentMatch m =
        match(
            c -> {
              c.credentials = Set.of(CredentialType.JWT);
              c.principals = List.of("ali*");
              c.clients = Set.of("web");
              c.clientTypes = Set.of("public");
              c.roles = Set.of("auditor", "admin");
              c.cidrs = List.of("10.0.0.0/8");
              c.countries = Set.of("NO");
              c.context = Map.of("env", "prod");
              c.issuers = Set.of("corp");
            });
    Subject s = subject(ALICE, "10.1.2.3", "NO");
    assertThat(m.matches(s)).isTrue();
    assertThat(m.mismatch(s)).isNull();
    assertThat(SegmentMatch.any().matches(s)).isTrue();
  }

  @Test
  void eachFailingCondition_refuses_andNamesThatCondition() {
    Subject s = subject(ALICE, "10.1.2.3", "NO");
    assertRefusedWith(match(c -> c.issuers = Set.of("other")), s, "issuer corp, not one of");
    assertRefusedWith(
        match(c -> c.credentials = Set.of(CredentialType.API_KEY)), s, "credential is");
    assertRefusedWith(match(c -> c.principals = List.of("bob*")), s, "principal matches none of");
    assertRefusedWith(match(c -> c.clients = Set.of("cli")), s, "client is not one of");
    assertRefusedWith(
        match(c -> c.clientTypes = Set.of("confidential")), s, "client_type public, not one of");
    assertRefusedWith(match(c -> c.roles = Set.of("admin")), s, "no role in");
    assertRefusedWith(match(c -> c.cidrs = List.of("192.168.0.0/16")), s, "source_ip not in");
    assertRefusedWith(match(c -> c.countries = Set.of("SE")), s, "country NO, not one of");
    assertRefusedWith(
        match(c -> c.context = Map.of("env", "staging")), s, "context env is not 'staging'");
  }

  @Test
  void absentAttributes_neverMatchAConditionOnThem() {
    Subject anonymous = subject(Identity.anonymous(), "10.1.2.3", null);
    assertRefusedWith(match(c -> c.issuers = Set.of("corp")), anonymous, "issuer absent");
    assertRefusedWith(match(c -> c.countries = Set.of("NO")), anonymous, "country unknown");
    assertRefusedWith(
        match(c -> c.clientTypes = Set.of("public")), anonymous, "client_type absent");
  }
}
