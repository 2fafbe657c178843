package io.portcullis.testing;

import io.portcullis.audit.AuditStore;
import io.portcullis.audit.ChainHead;
import io.portcullis.audit.DecisionRecords;
import io.portcullis.audit.RecordChain;
import io.portcullis.decision.Decision;
import io.portcullis.decision.Reason;
import io.portcullis.identity.CredentialType;
import io.portcullis.identity.Identity;
import io.portcullis.proto.v1.DecisionRecord;
import io.portcullis.request.RequestAttributes;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;

/**
 * A small audit log with every kind of record the audit views show, stored through the real {@link
 * AuditStore#append} as one chain of instance {@code pc-1}. Relative to {@code now}:
 *
 * <ul>
 *   <li>{@code old-deny}: invalid_token, 3 h ago, {@code GET /v1/orders} from 203.0.113.9
 *   <li>{@code allow-0..4}: segment public, rule status, {@code GET /v1/status}, 50..46 min ago
 *   <li>{@code bad-token-0..2}: invalid_token (401), {@code GET /v1/orders}, 30..28 min ago
 *   <li>{@code limited}: rate_limited (429) by limit per-client with 0 remaining, alice of client
 *       acme, segment partners, {@code POST /v2/pay} from 10.0.0.2, 20 min ago
 *   <li>{@code dry-0..1}: dry-run allows of alice in segment beta, rule testers, that the dry-run
 *       segment beta waived (insufficient_permissions), 10..9 min ago
 * </ul>
 */
public final class AuditSamples {
  /** How many records {@link #store} writes. */
  public static final int COUNT = 12;

  private AuditSamples() {}

  public static void store(AuditStore store, Instant now) {
    RequestAttributes status =
        RequestAttributes.builder().path("/v1/status").sourceIp("198.51.100.1").build();
    RequestAttributes orders =
        RequestAttributes.builder().path("/v1/orders").sourceIp("203.0.113.9").build();
    RequestAttributes pay =
        RequestAttributes.builder().method("POST").path("/v2/pay").sourceIp("10.0.0.2").build();
    Identity alice = Identity.builder(CredentialType.JWT, "alice").client("acme").build();
    List<Decision> ds = new ArrayList<>();
    ds.add(
        DecisionFixtures.from(orders)
            .decisionId("old-deny")
            .time(now.minus(Duration.ofHours(3)))
            .deny(Reason.INVALID_TOKEN, "bad signature"));
    for (int i = 0; i < 5; i++) {
      ds.add(
          DecisionFixtures.from(status)
              .decisionId("allow-" + i)
              .time(now.minus(Duration.ofMinutes(50 - i)))
              .segment("public")
              .rule("status")
              .allow());
    }
    for (int i = 0; i < 3; i++) {
      ds.add(
          DecisionFixtures.from(orders)
              .decisionId("bad-token-" + i)
              .time(now.minus(Duration.ofMinutes(30 - i)))
              .deny(Reason.INVALID_TOKEN, "bad signature"));
    }
    ds.add(
        DecisionFixtures.from(pay)
            .decisionId("limited")
            .time(now.minus(Duration.ofMinutes(20)))
            .identity(alice)
            .segment("partners")
            .limit(DecisionFixtures.limit("per-client", 0))
            .deny(Reason.RATE_LIMITED, "limit 'per-client' exhausted"));
    for (int i = 0; i < 2; i++) {
      ds.add(
          DecisionFixtures.from(orders)
              .decisionId("dry-" + i)
              .time(now.minus(Duration.ofMinutes(10 - i)))
              .identity(alice)
              .segment("beta")
              .rule("testers")
              .dryRunAllow(Reason.INSUFFICIENT_PERMISSIONS, "beta"));
    }
    ChainHead head = store.head("pc-1");
    List<DecisionRecord> linked = new ArrayList<>();
    for (Decision d : ds) {
      DecisionRecord r = RecordChain.link(DecisionRecords.of(d, "pc-1"), head);
      head = new ChainHead(r.getSeq(), r.getHash());
      linked.add(r);
    }
    store.append(linked);
  }
}
