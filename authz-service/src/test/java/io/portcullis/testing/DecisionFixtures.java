package io.portcullis.testing;

import io.portcullis.decision.Decision;
import io.portcullis.decision.DecisionContext;
import io.portcullis.decision.Reason;
import io.portcullis.decision.ResponseOptions;
import io.portcullis.decision.Responses;
import io.portcullis.identity.Identity;
import io.portcullis.limit.LimitDefinition;
import io.portcullis.limit.LimitKey;
import io.portcullis.limit.LimitKind;
import io.portcullis.limit.LimitStatus;
import io.portcullis.request.PathNormalizer;
import io.portcullis.request.RequestAttributes;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Set;
import java.util.concurrent.atomic.AtomicLong;
import org.jspecify.annotations.Nullable;

/**
 * {@link Decision} values built the way the pipeline builds them: the context's method, host,
 * normalized path and source address come from a {@link RequestAttributes}, so a test can put
 * secrets in the request's headers and query and check they never travel further.
 *
 * <pre>{@code
 * Decision d = DecisionFixtures.from(RequestAttributes.builder().path("/v1/orders?token=x").build())
 *     .identity(Identity.builder(CredentialType.JWT, "alice").build())
 *     .segment("partners")
 *     .deny(Reason.RATE_LIMITED, "limit 'per-client' exhausted");
 * }</pre>
 */
public final class DecisionFixtures {
  private static final AtomicLong IDS = new AtomicLong();

  private DecisionFixtures() {}

  public static Builder from(RequestAttributes request) {
    return new Builder(request);
  }

  /** A plain allowed {@code GET /v1/orders} at {@code time}. */
  public static Decision allowAt(Instant time) {
    return from(RequestAttributes.builder().path("/v1/orders").host("api.example.com").build())
        .time(time)
        .segment("public")
        .allow();
  }

  /** A limit status for a limit named {@code name} with {@code remaining} left. */
  public static LimitStatus limit(String name, long remaining) {
    LimitDefinition def =
        new LimitDefinition(
            name,
            "segment/test",
            List.of(LimitKey.parse("principal")),
            new LimitKind.Rate(10, Duration.ofSeconds(1), 10));
    return new LimitStatus(def, 10, remaining, Duration.ofMillis(100), Duration.ofSeconds(1));
  }

  /** Builds one decision; not thread-safe. */
  public static final class Builder {
    private final RequestAttributes request;
    private String decisionId;
    private Instant time = Instant.parse("2026-11-22T10:00:00Z");
    private String policyVersion = "sha256:test";
    private @Nullable String country;
    private @Nullable Identity identity;
    private @Nullable String segment;
    private @Nullable String rule;
    private @Nullable LimitStatus limit;
    private @Nullable String degraded;
    private long latencyNanos = 42_000;

    private Builder(RequestAttributes request) {
      this.request = request;
      String rid = request.requestId();
      this.decisionId = rid != null ? rid : "d-" + IDS.incrementAndGet();
    }

    public Builder decisionId(String decisionId) {
      this.decisionId = decisionId;
      return this;
    }

    public Builder time(Instant time) {
      this.time = time;
      return this;
    }

    public Builder policyVersion(String policyVersion) {
      this.policyVersion = policyVersion;
      return this;
    }

    public Builder country(@Nullable String country) {
      this.country = country;
      return this;
    }

    public Builder identity(@Nullable Identity identity) {
      this.identity = identity;
      return this;
    }

    public Builder segment(@Nullable String segment) {
      this.segment = segment;
      return this;
    }

    public Builder rule(@Nullable String rule) {
      this.rule = rule;
      return this;
    }

    public Builder limit(@Nullable LimitStatus limit) {
      this.limit = limit;
      return this;
    }

    public Builder degraded(@Nullable String degraded) {
      this.degraded = degraded;
      return this;
    }

    public Builder latencyNanos(long latencyNanos) {
      this.latencyNanos = latencyNanos;
      return this;
    }

    private DecisionContext context(@Nullable String dryRunRule) {
      String path =
          switch (PathNormalizer.normalize(request.path())) {
            case PathNormalizer.Normalized n -> n.path().value();
            case PathNormalizer.Malformed m -> "";
          };
      return new DecisionContext(
          decisionId,
          time,
          policyVersion,
          request.method(),
          request.host(),
          path,
          request.sourceIpText(),
          country,
          identity,
          segment,
          rule,
          limit,
          dryRunRule,
          degraded,
          latencyNanos);
    }

    public Decision.Allow allow() {
      return new Decision.Allow(context(null), allowPlan(), null);
    }

    /** An allow that a dry-run {@code waivedBy} (segment or rule) turned from a deny. */
    public Decision.Allow dryRunAllow(Reason wouldHaveBeen, String waivedBy) {
      return new Decision.Allow(context(waivedBy), allowPlan(), wouldHaveBeen);
    }

    public Decision.Deny deny(Reason reason, String detail) {
      return new Decision.Deny(
          context(null), Responses.deny(decisionId, reason, limit, null), reason, detail);
    }

    private io.portcullis.decision.ResponsePlan allowPlan() {
      return Responses.allow(
          decisionId,
          identity,
          segment == null ? "none" : segment,
          request.headers(),
          ResponseOptions.DEFAULT,
          Set.of("authorization", "x-api-key"),
          limit);
    }
  }
}
