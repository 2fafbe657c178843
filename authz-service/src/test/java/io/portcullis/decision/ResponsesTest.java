package io.portcullis.decision;

import static org.assertj.core.api.Assertions.assertThat;

import io.portcullis.identity.CredentialType;
import io.portcullis.identity.Identity;
import io.portcullis.request.Headers;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

class ResponsesTest {

  private static ResponsePlan allow(Identity identity, Map<String, String> requestHeaders) {
    return Responses.allow(
        "d-1",
        identity,
        "partners",
        Headers.of(requestHeaders),
        ResponseOptions.DEFAULT,
        Set.of(),
        null);
  }

  private static String upstream(ResponsePlan plan, String name) {
    return plan.upstreamHeaders().stream()
        .filter(h -> h.name().equals(name))
        .map(ResponseHeader::value)
        .findFirst()
        .orElse(null);
  }

  /**
   * Header parsers strip surrounding whitespace and a header carries no non-ASCII text, so these
   * principals all reached the upstream as "admin": each must name exactly one identity there.
   */
  @ParameterizedTest(name = "[{0}] -> [{1}]")
  @CsvSource(
      delimiter = '|',
      ignoreLeadingAndTrailingWhitespace = false,
      value = {
        "admin|admin",
        "user 42|user 42",
        " admin|%20admin",
        "admin |admin%20",
        "用户admin|%E7%94%A8%E6%88%B7admin",
        "josé|jos%C3%A9",
        "100%|100%25",
        "%20admin|%2520admin",
      })
  void principalAndClient_areSentUpstreamAsOneUnambiguousAsciiValue(String raw, String sent) {
    Identity identity = Identity.builder(CredentialType.JWT, raw).client(raw).build();

    ResponsePlan plan = allow(identity, Map.of());

    assertThat(upstream(plan, HeaderNames.PRINCIPAL)).isEqualTo(sent);
    assertThat(upstream(plan, HeaderNames.CLIENT)).isEqualTo(sent);
  }

  @Test
  void identityHeadersPortcullisDoesNotSet_areRemovedEvenIfItNeverSawThem() {
    // Anonymous: no client. A proxy that sends Portcullis only some headers (Envoy's
    // allowed_headers) would otherwise pass a client's own x-portcullis-client upstream.
    ResponsePlan plan = allow(Identity.anonymous(), Map.of());

    assertThat(upstream(plan, HeaderNames.CLIENT)).isNull();
    assertThat(plan.upstreamHeadersToRemove()).contains(HeaderNames.CLIENT);
    assertThat(plan.upstreamHeadersToRemove())
        .doesNotContain(HeaderNames.PRINCIPAL, HeaderNames.SEGMENT, HeaderNames.DECISION_ID);

    ResponsePlan quiet =
        Responses.allow(
            "d-2",
            Identity.anonymous(),
            "public",
            Headers.of(Map.of("x-portcullis-principal", "spoofed", "x-portcullis-other", "x")),
            new ResponseOptions(true, false),
            Set.of(),
            null);
    assertThat(quiet.upstreamHeaders()).isEmpty();
    assertThat(quiet.upstreamHeadersToRemove())
        .containsAll(HeaderNames.UPSTREAM_IDENTITY)
        .contains("x-portcullis-other")
        .doesNotHaveDuplicates();
    assertThat(List.copyOf(quiet.upstreamHeadersToRemove())).hasSize(6);
  }
}
