package io.portcullis.server.grpc;

import com.google.protobuf.Timestamp;
import io.grpc.ServerInterceptors;
import io.grpc.ServerServiceDefinition;
import io.grpc.Status;
import io.grpc.StatusException;
import io.grpc.stub.StreamObserver;
import io.portcullis.audit.AuditQuery;
import io.portcullis.audit.AuditStore;
import io.portcullis.audit.SummaryDimension;
import io.portcullis.audit.SummaryRow;
import io.portcullis.config.ReloadResult;
import io.portcullis.identity.Secret;
import io.portcullis.keys.IssuedKey;
import io.portcullis.keys.KeyLifecycle;
import io.portcullis.keys.KeyMetadata;
import io.portcullis.keys.KeyRequest;
import io.portcullis.keys.KeyResult;
import io.portcullis.limit.LimitBackendException;
import io.portcullis.limit.LimitDefinition;
import io.portcullis.limit.LimitUsage;
import io.portcullis.limit.RateLimiter;
import io.portcullis.limit.SourceProtection;
import io.portcullis.policy.LivePolicy;
import io.portcullis.policy.PolicyError;
import io.portcullis.proto.v1.AdminServiceGrpc;
import io.portcullis.proto.v1.AuditPage;
import io.portcullis.proto.v1.AuditSummary;
import io.portcullis.proto.v1.AuditSummaryRequest;
import io.portcullis.proto.v1.Block;
import io.portcullis.proto.v1.GetPolicyRequest;
import io.portcullis.proto.v1.IssueKeyRequest;
import io.portcullis.proto.v1.ListBlocksRequest;
import io.portcullis.proto.v1.ListBlocksResponse;
import io.portcullis.proto.v1.ListKeysRequest;
import io.portcullis.proto.v1.ListKeysResponse;
import io.portcullis.proto.v1.PolicyStatus;
import io.portcullis.proto.v1.ReloadPolicyRequest;
import io.portcullis.proto.v1.ReloadedFiles;
import io.portcullis.proto.v1.RevokeKeyRequest;
import io.portcullis.proto.v1.RevokeKeyResponse;
import io.portcullis.proto.v1.RotateKeyRequest;
import io.portcullis.proto.v1.UnblockRequest;
import io.portcullis.proto.v1.UnblockResponse;
import io.portcullis.proto.v1.Usage;
import io.portcullis.proto.v1.UsageRequest;
import io.portcullis.proto.v1.VerifyAuditRequest;
import io.portcullis.proto.v1.VerifyAuditResponse;
import io.portcullis.server.http.LimitAdminRoutes;
import io.portcullis.store.StoreException;
import java.time.Instant;
import java.util.List;
import java.util.Objects;
import java.util.function.Supplier;
import org.jspecify.annotations.Nullable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * {@code portcullis.v1.AdminService} (admin.proto): the admin HTTP API's operations over gRPC, on
 * the same objects — {@link KeyLifecycle} for keys, {@link AuditStore} with its {@code toProto}
 * helpers for the audit trail, {@link LivePolicy} for the policy, the {@link RateLimiter} and
 * {@link SourceProtection} for usage and blocks.
 *
 * <p>Every call needs the admin token: the service is only ever served through {@link #withToken},
 * which puts an {@link AdminTokenInterceptor} in front of it; the service wiring registers it on
 * the gRPC listener only when an admin token exists.
 *
 * <p>Status codes: {@code INVALID_ARGUMENT} for bad requests, {@code NOT_FOUND} for unknown keys
 * and limits, {@code FAILED_PRECONDITION} for rotating a revoked or expired key or naming an
 * ambiguous limit, {@code UNAVAILABLE} when the store or the limit backend is down. Details never
 * contain a secret. Thread-safe.
 */
public final class GrpcAdminService extends AdminServiceGrpc.AdminServiceImplBase {
  private static final Logger log = LoggerFactory.getLogger(GrpcAdminService.class);

  private final KeyLifecycle keys;
  private final AuditStore audit;
  private final LivePolicy policy;
  private final RateLimiter limiter;
  private final SourceProtection protection;
  private final Supplier<List<ReloadResult>> reloadFiles;

  private GrpcAdminService(Builder b) {
    this.keys = Objects.requireNonNull(b.keys, "keys");
    this.audit = Objects.requireNonNull(b.audit, "audit");
    this.policy = Objects.requireNonNull(b.policy, "policy");
    this.limiter = Objects.requireNonNull(b.limiter, "limiter");
    this.protection = Objects.requireNonNull(b.protection, "protection");
    this.reloadFiles = Objects.requireNonNull(b.reloadFiles, "reloadFiles");
  }

  public static Builder builder() {
    return new Builder();
  }

  /** This service behind the admin token check: the only form in which it is served. */
  public ServerServiceDefinition withToken(Secret token) {
    return ServerInterceptors.intercept(this, new AdminTokenInterceptor(token));
  }

  // ---- keys -----------------------------------------------------------------------------------

  @Override
  public void issueKey(
      IssueKeyRequest request, StreamObserver<io.portcullis.proto.v1.IssuedKey> response) {
    answer(
        response,
        () -> {
          KeyRequest r =
              KeyRequest.builder(request.getClient())
                  .clientType(request.getClientType())
                  .roles(request.getRolesList())
                  .scopes(request.getScopesList())
                  .segmentHint(request.getSegmentHint())
                  .expiresIn(request.getExpiresIn())
                  .build();
          return issued(orFail(keys.issue(r)));
        });
  }

  @Override
  public void rotateKey(
      RotateKeyRequest request, StreamObserver<io.portcullis.proto.v1.IssuedKey> response) {
    answer(response, () -> issued(orFail(keys.rotate(request.getId(), request.getGrace()))));
  }

  @Override
  public void revokeKey(RevokeKeyRequest request, StreamObserver<RevokeKeyResponse> response) {
    answer(
        response,
        () -> {
          orFail(keys.revoke(request.getId()));
          return RevokeKeyResponse.getDefaultInstance();
        });
  }

  @Override
  public void listKeys(ListKeysRequest request, StreamObserver<ListKeysResponse> response) {
    answer(
        response,
        () -> {
          ListKeysResponse.Builder b = ListKeysResponse.newBuilder();
          for (KeyMetadata k : keys.list(request.getClient())) {
            b.addKeys(k.toProto());
          }
          return b.build();
        });
  }

  private static io.portcullis.proto.v1.IssuedKey issued(IssuedKey k) {
    io.portcullis.proto.v1.IssuedKey.Builder b =
        io.portcullis.proto.v1.IssuedKey.newBuilder()
            .setId(k.id())
            .setSecret(k.key().reveal())
            .setKey(k.metadata().toProto());
    if (k.previousValidUntil() != null) {
      b.setPreviousValidUntil(timestamp(k.previousValidUntil()));
    }
    return b.build();
  }

  private static <T> T orFail(KeyResult<T> result) throws StatusException {
    return switch (result) {
      case KeyResult.Ok<T> ok -> ok.value();
      case KeyResult.Refused<T> no -> throw refusal(no);
    };
  }

  private static StatusException refusal(KeyResult.Refused<?> no) {
    Status status =
        switch (no.refusal()) {
          case INVALID_REQUEST -> Status.INVALID_ARGUMENT;
          case NOT_FOUND -> Status.NOT_FOUND;
          case REVOKED, EXPIRED -> Status.FAILED_PRECONDITION;
        };
    return status.withDescription(no.detail()).asException();
  }

  // ---- audit ----------------------------------------------------------------------------------

  @Override
  public void queryAudit(io.portcullis.proto.v1.AuditQuery request, StreamObserver<AuditPage> r) {
    answer(r, () -> audit.query(AuditQuery.fromProto(request)).toProto());
  }

  /** As {@code GET /admin/audit/summary}: the same filters, limit and checks. */
  @Override
  public void summarizeAudit(AuditSummaryRequest request, StreamObserver<AuditSummary> response) {
    answer(
        response,
        () -> {
          AuditQuery filter = AuditQuery.fromProto(request);
          List<SummaryDimension> groupBy =
              SummaryDimension.parseList(String.join(",", request.getGroupByList()));
          return SummaryRow.toProto(audit.summary(filter, groupBy));
        });
  }

  @Override
  public void verifyAudit(VerifyAuditRequest request, StreamObserver<VerifyAuditResponse> r) {
    answer(r, () -> audit.verify().toProto());
  }

  // ---- policy ---------------------------------------------------------------------------------

  @Override
  public void getPolicy(GetPolicyRequest request, StreamObserver<PolicyStatus> response) {
    answer(response, this::policyStatus);
  }

  /**
   * Reloads the policy now, then the other files SIGHUP re-reads; a failed reload is a state
   * ({@code last_reload_ok: false}, {@code reloaded[].ok: false}), not an error.
   */
  @Override
  public void reloadPolicy(ReloadPolicyRequest request, StreamObserver<PolicyStatus> response) {
    answer(
        response,
        () -> {
          policy.reload();
          List<ReloadResult> files = reloadFiles.get();
          PolicyStatus.Builder b = policyStatus().toBuilder();
          for (ReloadResult r : files) {
            b.addReloaded(
                ReloadedFiles.newBuilder().setName(r.name()).setOk(r.ok()).setDetail(r.detail()));
          }
          return b.build();
        });
  }

  private PolicyStatus policyStatus() {
    LivePolicy.Status s = policy.status();
    PolicyStatus.Builder b =
        PolicyStatus.newBuilder()
            .setVersion(s.version())
            .setFile(s.file())
            .setLoadedAt(timestamp(s.loadedAt()))
            .setLastReloadOk(s.lastReloadOk());
    for (PolicyError e : s.lastErrors()) {
      b.addErrors(e.format());
    }
    return b.build();
  }

  // ---- limits and protection ------------------------------------------------------------------

  @Override
  public void getUsage(UsageRequest request, StreamObserver<Usage> response) {
    answer(
        response,
        () -> {
          if (request.getLimit().isBlank()) {
            throw new IllegalArgumentException("limit and key are required");
          }
          List<LimitDefinition> found = LimitAdminRoutes.find(policy.get(), request.getLimit());
          if (found.isEmpty()) {
            throw Status.NOT_FOUND
                .withDescription(LimitAdminRoutes.unknownLimit(policy.get()))
                .asException();
          }
          if (found.size() > 1) {
            throw Status.FAILED_PRECONDITION
                .withDescription(
                    "several limits have this name: qualify it as <segment>/<limit> or"
                        + " <segment>/<rule>/<limit>")
                .asException();
          }
          String bucket =
              switch (LimitAdminRoutes.bucketOf(found.getFirst(), List.of(request.getKey()))) {
                case LimitAdminRoutes.Bucket.Named named -> named.bucket();
                case LimitAdminRoutes.Bucket.WrongCount wrong ->
                    throw Status.INVALID_ARGUMENT
                        .withDescription(
                            "the limit has a several-part key: give its values joined with ','")
                        .asException();
                case LimitAdminRoutes.Bucket.NotASource bad ->
                    throw Status.INVALID_ARGUMENT.withDescription(bad.detail()).asException();
              };
          LimitUsage u = limiter.usage(found.getFirst(), bucket);
          if (u == null) {
            throw Status.NOT_FOUND
                .withDescription("this service keeps no limit state")
                .asException();
          }
          return Usage.newBuilder()
              .setLimit(LimitAdminRoutes.qualifiedName(u.limit()))
              .setKey(u.bucket())
              .setUsed(u.used())
              .setMax(u.max())
              .setRemaining(u.remaining())
              .setResetsAt(timestamp(u.resetsAt()))
              .build();
        });
  }

  @Override
  public void listBlocks(ListBlocksRequest request, StreamObserver<ListBlocksResponse> response) {
    answer(
        response,
        () -> {
          ListBlocksResponse.Builder b = ListBlocksResponse.newBuilder();
          for (SourceProtection.BlockedSource s : protection.blocked()) {
            b.addBlocks(
                Block.newBuilder()
                    .setKey(s.key())
                    .setBlockedAt(timestamp(s.blockedAt()))
                    .setBlockedUntil(timestamp(s.blockedUntil()))
                    .setFailures(s.failures()));
          }
          return b.build();
        });
  }

  @Override
  public void unblock(UnblockRequest request, StreamObserver<UnblockResponse> response) {
    answer(
        response,
        () -> {
          String key = LimitAdminRoutes.blockKeyOf(request.getKey());
          if (key == null) {
            throw Status.INVALID_ARGUMENT
                .withDescription(LimitAdminRoutes.notABlockKey(request.getKey()))
                .asException();
          }
          return UnblockResponse.newBuilder().setRemoved(protection.unblock(key)).build();
        });
  }

  // ---- plumbing -------------------------------------------------------------------------------

  /** One admin operation; may refuse with a status. */
  @FunctionalInterface
  private interface Operation<T> {
    T run() throws StatusException;
  }

  /** Runs {@code op} and answers with its result or the status its failure maps to. */
  private static <T> void answer(StreamObserver<T> response, Operation<T> op) {
    T result;
    try {
      result = op.run();
    } catch (StatusException e) {
      response.onError(e);
      return;
    } catch (IllegalArgumentException e) {
      response.onError(Status.INVALID_ARGUMENT.withDescription(e.getMessage()).asException());
      return;
    } catch (StoreException e) {
      log.warn("admin gRPC call failed: {}", e.getMessage());
      response.onError(
          Status.UNAVAILABLE.withDescription("the store cannot be reached").asException());
      return;
    } catch (LimitBackendException e) {
      response.onError(
          Status.UNAVAILABLE.withDescription("the limit backend cannot be reached").asException());
      return;
    } catch (RuntimeException e) {
      log.error("admin gRPC call failed", e);
      response.onError(Status.INTERNAL.withDescription("internal error").asException());
      return;
    }
    response.onNext(result);
    response.onCompleted();
  }

  private static Timestamp timestamp(Instant t) {
    return Timestamp.newBuilder().setSeconds(t.getEpochSecond()).setNanos(t.getNano()).build();
  }

  /** Builds a {@link GrpcAdminService}; not thread-safe. Every part is required. */
  public static final class Builder {
    private @Nullable KeyLifecycle keys;
    private @Nullable AuditStore audit;
    private @Nullable LivePolicy policy;
    private @Nullable RateLimiter limiter;
    private @Nullable SourceProtection protection;
    private @Nullable Supplier<List<ReloadResult>> reloadFiles;

    private Builder() {}

    public Builder keys(KeyLifecycle keys) {
      this.keys = keys;
      return this;
    }

    public Builder audit(AuditStore audit) {
      this.audit = audit;
      return this;
    }

    public Builder policy(LivePolicy policy) {
      this.policy = policy;
      return this;
    }

    public Builder limiter(RateLimiter limiter) {
      this.limiter = limiter;
      return this;
    }

    public Builder protection(SourceProtection protection) {
      this.protection = protection;
      return this;
    }

    /**
     * What {@code ReloadPolicy} re-reads after the policy: the other files SIGHUP re-reads, each
     * with how it went.
     */
    public Builder reloadFiles(Supplier<List<ReloadResult>> reloadFiles) {
      this.reloadFiles = reloadFiles;
      return this;
    }

    public GrpcAdminService build() {
      return new GrpcAdminService(this);
    }
  }
}
