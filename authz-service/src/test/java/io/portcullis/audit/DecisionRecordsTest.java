package io.portcullis.audit;

import static org.assertj.core.api.Assertions.assertThat;

import io.portcullis.decision.Decision;
import io.portcullis.decision.DecisionContext;
import io.portcullis.decision.Reason;
import io.portcullis.identity.CredentialType;
import io.portcullis.identity.Identity;
import io.portcullis.proto.v1.DecisionRecord;
import io.portcullis.request.RequestAttributes;
import io.portcullis.testing.DecisionFixtures;
import java.time.Instant;
import org.junit.jupiter.api.Test;

class DecisionRecordsTest {
  private static final Instant T = Instant.parse("2026-11-22T10:00:00.123456789Z");

  private static final RequestAttributes REQUEST =
      RequestAttributes.builder()
          .method("POST")
          .host("api.example.com")
          .path("/v1/orders/../orders/7?debug=1")
          .sourceIp("203.0.113.9")
          .build();

  @Test
  void of_allowWithIdentityAndLimit_fillsEveryAuditField() {
    Identity id =
        Identity.builder(CredentialType.API_KEY, "key_abc")
            .client("acme")
            .apiKeyId("key_abc")
            .build();

    DecisionRecord r =
        DecisionRecords.of(
            DecisionFixtures.from(REQUEST)
                .decisionId("req-1")
                .time(T)
                .policyVersion("sha256:feed")
                .country("NL")
                .identity(id)
                .segment("partners")
                .rule("create-order")
                .limit(DecisionFixtures.limit("per-client", 7))
                .degraded("ratelimit_backend:local")
                .latencyNanos(1_234_567)
                .allow(),
            "pc-1");

    assertThat(r.getDecisionId()).isEqualTo("req-1");
    assertThat(r.getTime().getSeconds()).isEqualTo(T.getEpochSecond());
    assertThat(r.getTime().getNanos()).isEqualTo(123_456_000); // microseconds
    assertThat(r.getInstance()).isEqualTo("pc-1");
    assertThat(r.getPolicyVersion()).isEqualTo("sha256:feed");
    assertThat(r.getMethod()).isEqualTo("POST");
    assertThat(r.getHost()).isEqualTo("api.example.com");
    assertThat(r.getPath()).isEqualTo("/v1/orders/7");
    assertThat(r.getSourceIp()).isEqualTo("203.0.113.9");
    assertThat(r.getCountry()).isEqualTo("NL");
    assertThat(r.getCredential()).isEqualTo("api_key");
    assertThat(r.getPrincipal()).isEqualTo("key_abc");
    assertThat(r.getClient()).isEqualTo("acme");
    assertThat(r.getApiKeyId()).isEqualTo("key_abc");
    assertThat(r.getSegment()).isEqualTo("partners");
    assertThat(r.getRule()).isEqualTo("create-order");
    assertThat(r.getDecision()).isEqualTo("allow");
    assertThat(r.getStatus()).isEqualTo(200);
    assertThat(r.getReason()).isEmpty();
    assertThat(r.getLimit()).isEqualTo("per-client");
    assertThat(r.getRemaining()).isEqualTo(7);
    assertThat(r.getLatencyUs()).isEqualTo(1_234);
    assertThat(r.getDegraded()).isEqualTo("ratelimit_backend:local");
    assertThat(r.getSeq()).isZero();
    assertThat(r.getHash()).isEmpty();
  }

  @Test
  void of_deny_recordsReasonStatusAndDetail() {
    DecisionRecord r =
        DecisionRecords.of(
            DecisionFixtures.from(REQUEST).deny(Reason.EXPIRED_TOKEN, "token expired 5s ago"),
            "pc-1");

    assertThat(r.getDecision()).isEqualTo("deny");
    assertThat(r.getStatus()).isEqualTo(401);
    assertThat(r.getReason()).isEqualTo("expired_token");
    assertThat(r.getDetail()).isEqualTo("token expired 5s ago");
    assertThat(r.getCredential()).isEmpty(); // refused before an identity existed
    assertThat(r.getPrincipal()).isEmpty();
  }

  @Test
  void of_dryRunAllow_recordsTheWaivedReasonAndRule() {
    DecisionRecord r =
        DecisionRecords.of(
            DecisionFixtures.from(REQUEST)
                .identity(Identity.anonymous())
                .segment("beta")
                .dryRunAllow(Reason.DENIED_BY_RULE, "block-writes"),
            "pc-1");

    assertThat(r.getDecision()).isEqualTo("allow");
    assertThat(r.getReason()).isEmpty();
    assertThat(r.getDryRunReason()).isEqualTo("denied_by_rule");
    assertThat(r.getDryRunRule()).isEqualTo("block-writes");
    assertThat(r.getCredential()).isEqualTo("anonymous");
  }

  @Test
  void of_contextBuiltFromRawInput_losesQueryAndUserInfo() {
    Decision.Allow plain =
        DecisionFixtures.from(RequestAttributes.builder().path("/x").build()).allow();
    DecisionContext raw =
        new DecisionContext(
            "d-raw",
            T,
            "v1",
            "GET",
            "bob:s3cret@api.example.com",
            "/x?token=abc#frag",
            "",
            null,
            null,
            null,
            null,
            null,
            null,
            null,
            0);

    DecisionRecord r = DecisionRecords.of(new Decision.Allow(raw, plain.response(), null), "pc-1");

    assertThat(r.getPath()).isEqualTo("/x");
    assertThat(r.getHost()).isEqualTo("api.example.com");
  }
}
