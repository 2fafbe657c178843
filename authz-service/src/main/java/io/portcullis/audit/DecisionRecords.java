package io.portcullis.audit;

import com.google.protobuf.Timestamp;
import io.portcullis.decision.Decision;
import io.portcullis.decision.DecisionContext;
import io.portcullis.identity.Identity;
import io.portcullis.limit.LimitStatus;
import io.portcullis.proto.v1.DecisionRecord;
import java.time.Instant;
import org.jspecify.annotations.Nullable;

/**
 * Turns a {@link Decision} into the unchained {@link DecisionRecord} of the audit log
 * (interfaces.md "Audit record"); {@link RecordChain#link} then places it in the chain.
 *
 * <p>Only the facts of {@link DecisionContext} are copied: never a token, key secret, body, header
 * or query string. As a second line of defence the path loses anything from {@code ?} or {@code #}
 * on and the host loses any {@code user:password@} part, in case a caller built a context from raw
 * input. Time is kept to the microsecond (the precision of the store's time column), so a record
 * and its row agree exactly. Stateless and thread-safe.
 */
public final class DecisionRecords {
  private DecisionRecords() {}

  /** The record of {@code decision}, made by {@code instance}, without chain fields. */
  public static DecisionRecord of(Decision decision, String instance) {
    return builderOf(decision, instance).build();
  }

  /**
   * As {@link #of}, unbuilt: the audit writer adds the chain fields and builds once ({@link
   * RecordChain#linked(DecisionRecord.Builder, ChainHead)}), not twice.
   */
  static DecisionRecord.Builder builderOf(Decision decision, String instance) {
    DecisionContext c = decision.context();
    DecisionRecord.Builder r =
        DecisionRecord.newBuilder()
            .setDecisionId(c.decisionId())
            .setTime(timestamp(c.time()))
            .setInstance(instance)
            .setPolicyVersion(c.policyVersion())
            .setMethod(c.method())
            .setHost(withoutUserInfo(c.host()))
            .setPath(withoutQuery(c.path()))
            .setSourceIp(c.sourceIp())
            .setCountry(orEmpty(c.country()))
            .setSegment(orEmpty(c.segment()))
            .setRule(orEmpty(c.rule()))
            .setDecision(decision.outcome())
            .setStatus(decision.response().status())
            .setLatencyUs(Math.max(0, c.latencyNanos() / 1_000))
            .setDegraded(orEmpty(c.degraded()));
    Identity id = c.identity();
    if (id != null) {
      r.setCredential(id.credential().wireName())
          .setPrincipal(id.principal())
          .setClient(orEmpty(id.client()))
          .setApiKeyId(orEmpty(id.apiKeyId()));
    }
    LimitStatus limit = c.limit();
    if (limit != null) {
      r.setLimit(limit.limit().name()).setRemaining(limit.remaining());
    }
    switch (decision) {
      case Decision.Allow a -> {
        if (a.dryRunReason() != null) {
          r.setDryRunReason(a.dryRunReason().code()).setDryRunRule(orEmpty(c.dryRunRule()));
        }
      }
      case Decision.Deny d -> r.setReason(d.reason().code()).setDetail(d.detail());
    }
    return r;
  }

  /** {@code time} truncated to the microsecond, as a protobuf timestamp. */
  static Timestamp timestamp(Instant time) {
    int micros = time.getNano() / 1_000;
    return Timestamp.newBuilder()
        .setSeconds(time.getEpochSecond())
        .setNanos(micros * 1_000)
        .build();
  }

  /** Epoch microseconds of a record's time: the store's {@code time_us} column. */
  public static long timeMicros(DecisionRecord record) {
    Timestamp t = record.getTime();
    return Math.addExact(Math.multiplyExact(t.getSeconds(), 1_000_000L), t.getNanos() / 1_000);
  }

  /** Epoch microseconds of an instant (floor). */
  public static long micros(Instant time) {
    return Math.addExact(
        Math.multiplyExact(time.getEpochSecond(), 1_000_000L), time.getNano() / 1_000);
  }

  private static String withoutQuery(String path) {
    for (int i = 0; i < path.length(); i++) {
      char ch = path.charAt(i);
      if (ch == '?' || ch == '#') {
        return path.substring(0, i);
      }
    }
    return path;
  }

  private static String withoutUserInfo(String host) {
    int at = host.lastIndexOf('@');
    return at < 0 ? host : host.substring(at + 1);
  }

  private static String orEmpty(@Nullable String s) {
    return s == null ? "" : s;
  }
}
