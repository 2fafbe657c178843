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

  private static SegmentMatch match(
      Set<CredentialType> credentials,
      List<String> principals,
      Set<String> clients,
      Set<String> clientTypes,
      Set<String> roles,
      List<String> cidrs,
      Set<String> countries,
      Map<String, String> context,
      Set<String> issuers) {
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

  private static void assertRefusedWith(SegmentMatch m, Subject s, String reasonStart) {
    assertThat(m.matches(s)).isFalse();
    assertThat(m.mismatch(s)).startsWith(reasonStart);
  }

  @Test
  void everyConditionHolding_matches_andHasNoMismatch() {
    SegmentMatch m =
        match(
            Set.of(CredentialType.JWT),
            List.of("ali*"),
            Set.of("web"),
            Set.of("public"),
            Set.of("auditor", "admin"),
            List.of("10.0.0.0/8"),
            Set.of("NO"),
            Map.of("env", "prod"),
            Set.of("corp"));
    Subject s = subject(ALICE, "10.1.2.3", "NO");
    assertThat(m.matches(s)).isTrue();
    assertThat(m.mismatch(s)).isNull();
    assertThat(SegmentMatch.any().matches(s)).isTrue();
  }

  @Test
  void eachFailingCondition_refuses_andNamesThatCondition() {
    Subject s = subject(ALICE, "10.1.2.3", "NO");
    Set<CredentialType> none = Set.of();
    assertRefusedWith(
        match(
            none,
            List.of(),
            Set.of(),
            Set.of(),
            Set.of(),
            List.of(),
            Set.of(),
            Map.of(),
            Set.of("other")),
        s,
        "issuer corp, not one of");
    assertRefusedWith(
        match(
            Set.of(CredentialType.API_KEY),
            List.of(),
            Set.of(),
            Set.of(),
            Set.of(),
            List.of(),
            Set.of(),
            Map.of(),
            Set.of()),
        s,
        "credential is");
    assertRefusedWith(
        match(
            none,
            List.of("bob*"),
            Set.of(),
            Set.of(),
            Set.of(),
            List.of(),
            Set.of(),
            Map.of(),
            Set.of()),
        s,
        "principal matches none of");
    assertRefusedWith(
        match(
            none,
            List.of(),
            Set.of("cli"),
            Set.of(),
            Set.of(),
            List.of(),
            Set.of(),
            Map.of(),
            Set.of()),
        s,
        "client is not one of");
    assertRefusedWith(
        match(
            none,
            List.of(),
            Set.of(),
            Set.of("confidential"),
            Set.of(),
            List.of(),
            Set.of(),
            Map.of(),
            Set.of()),
        s,
        "client_type public, not one of");
    assertRefusedWith(
        match(
            none,
            List.of(),
            Set.of(),
            Set.of(),
            Set.of("admin"),
            List.of(),
            Set.of(),
            Map.of(),
            Set.of()),
        s,
        "no role in");
    assertRefusedWith(
        match(
            none,
            List.of(),
            Set.of(),
            Set.of(),
            Set.of(),
            List.of("192.168.0.0/16"),
            Set.of(),
            Map.of(),
            Set.of()),
        s,
        "source_ip not in");
    assertRefusedWith(
        match(
            none,
            List.of(),
            Set.of(),
            Set.of(),
            Set.of(),
            List.of(),
            Set.of("SE"),
            Map.of(),
            Set.of()),
        s,
        "country NO, not one of");
    assertRefusedWith(
        match(
            none,
            List.of(),
            Set.of(),
            Set.of(),
            Set.of(),
            List.of(),
            Set.of(),
            Map.of("env", "staging"),
            Set.of()),
        s,
        "context env is not 'staging'");
  }

  @Test
  void absentAttributes_neverMatchAConditionOnThem() {
    Subject anonymous = subject(Identity.anonymous(), "10.1.2.3", null);
    Set<CredentialType> none = Set.of();
    assertRefusedWith(
        match(
            none,
            List.of(),
            Set.of(),
            Set.of(),
            Set.of(),
            List.of(),
            Set.of(),
            Map.of(),
            Set.of("corp")),
        anonymous,
        "issuer absent");
    assertRefusedWith(
        match(
            none,
            List.of(),
            Set.of(),
            Set.of(),
            Set.of(),
            List.of(),
            Set.of("NO"),
            Map.of(),
            Set.of()),
        anonymous,
        "country unknown");
    assertRefusedWith(
        match(
            none,
            List.of(),
            Set.of(),
            Set.of("public"),
            Set.of(),
            List.of(),
            Set.of(),
            Map.of(),
            Set.of()),
        anonymous,
        "client_type absent");
  }
}
