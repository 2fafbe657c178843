package io.portcullis.server.grpc;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.catchThrowableOfType;

import com.google.protobuf.Timestamp;
import io.grpc.ManagedChannel;
import io.grpc.Metadata;
import io.grpc.Server;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.inprocess.InProcessChannelBuilder;
import io.grpc.inprocess.InProcessServerBuilder;
import io.grpc.stub.MetadataUtils;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import io.portcullis.audit.AuditStore;
import io.portcullis.audit.ChainHead;
import io.portcullis.audit.DecisionRecords;
import io.portcullis.audit.RecordChain;
import io.portcullis.decision.DecisionPipeline;
import io.portcullis.geo.MaxMindCountryResolver;
import io.portcullis.identity.IdentityServices;
import io.portcullis.identity.Secret;
import io.portcullis.keys.KeyFormat;
import io.portcullis.keys.KeyLifecycle;
import io.portcullis.keys.KeyStore;
import io.portcullis.limit.FailedAuthRule;
import io.portcullis.limit.LimitBackends;
import io.portcullis.limit.RateLimitSettings;
import io.portcullis.policy.LivePolicy;
import io.portcullis.policy.LoadResult;
import io.portcullis.policy.PolicyLoader;
import io.portcullis.proto.v1.AdminServiceGrpc;
import io.portcullis.proto.v1.ApiKey;
import io.portcullis.proto.v1.AuditPage;
import io.portcullis.proto.v1.AuditQuery;
import io.portcullis.proto.v1.AuditSummaryRequest;
import io.portcullis.proto.v1.DecisionRecord;
import io.portcullis.proto.v1.GetPolicyRequest;
import io.portcullis.proto.v1.IssueKeyRequest;
import io.portcullis.proto.v1.IssuedKey;
import io.portcullis.proto.v1.ListBlocksRequest;
import io.portcullis.proto.v1.ListKeysRequest;
import io.portcullis.proto.v1.PolicyStatus;
import io.portcullis.proto.v1.ReloadPolicyRequest;
import io.portcullis.proto.v1.RevokeKeyRequest;
import io.portcullis.proto.v1.RotateKeyRequest;
import io.portcullis.proto.v1.UnblockRequest;
import io.portcullis.proto.v1.Usage;
import io.portcullis.proto.v1.UsageRequest;
import io.portcullis.proto.v1.VerifyAuditRequest;
import io.portcullis.request.RequestAttributes;
import io.portcullis.server.http.AdminResponse;
import io.portcullis.server.http.AdminRouter;
import io.portcullis.server.http.AuditAdminRoutes;
import io.portcullis.store.Database;
import io.portcullis.store.StoreSettings;
import io.portcullis.testing.AdminRequests;
import io.portcullis.testing.AuditSamples;
import io.portcullis.testing.DecisionFixtures;
import io.portcullis.testing.FakeClock;
import io.portcullis.testing.MmdbFiles;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Consumer;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import tools.jackson.databind.JsonNode;
import tools.jackson.databind.json.JsonMapper;

/**
 * The admin gRPC service in-process (direct executor) behind its token interceptor, over real
 * components: a SQLite store for keys and audit, a live policy from a file, in-memory limits.
 */
class GrpcAdminServiceTest {
  static final String TOKEN = "grpc-admin-token-0123456789";
  static final JsonMapper JSON = JsonMapper.builder().build();
  static final String POLICY =
      """
      version: 1
      identity:
        api_keys: {}
      segments:
        - name: public
          rules:
            - { name: status, paths: ["/v1/status"] }
          limits:
            - { name: per-ip, key: [ip], rate: 5/s }
            - { name: per-client, key: [client], rate: 5/s }
      """;

  @TempDir Path dir;
  FakeClock clock = FakeClock.at("2026-11-22T10:00:00Z");
  Database db;
  LimitBackends limits;
  LivePolicy live;
  Path policyFile;
  Server server;
  ManagedChannel channel;
  AuditStore audit;
  MaxMindCountryResolver geo;
  Path geoFile;

  @BeforeEach
  void start() throws Exception {
    db = Database.open(StoreSettings.of("jdbc:sqlite:" + dir.resolve("portcullis.db")));
    audit = AuditStore.of(db);
    SimpleMeterRegistry meters = new SimpleMeterRegistry();
    limits = LimitBackends.inMemory(RateLimitSettings.defaults(), clock, meters);
    policyFile = Files.writeString(dir.resolve("policy.yaml"), POLICY);
    PolicyLoader loader = PolicyLoader.create(IdentityServices.offline(), clock, n -> null);
    live = LivePolicy.start(loader, policyFile, (LoadResult.Loaded) loader.load(policyFile));
    geoFile =
        MmdbFiles.write(
            dir.resolve("GeoLite2-Country.mmdb"),
            "GeoLite2-Country",
            Map.of("country", Map.of("iso_code", "NO")));
    geo = MaxMindCountryResolver.builder(geoFile).open();
    GrpcAdminService service =
        GrpcAdminService.builder()
            .keys(new KeyLifecycle(KeyStore.of(db), clock))
            .audit(audit)
            .policy(live)
            .limiter(limits.limiter())
            .protection(limits.protection())
            .reloadFiles(() -> List.of(geo.reload()))
            .build();
    String name = InProcessServerBuilder.generateName();
    server =
        InProcessServerBuilder.forName(name)
            .directExecutor()
            .addService(service.withToken(Secret.of(TOKEN)))
            .build()
            .start();
    channel = InProcessChannelBuilder.forName(name).directExecutor().build();
  }

  @AfterEach
  void stop() throws Exception {
    channel.shutdownNow();
    server.shutdownNow();
    limits.close();
    db.close();
    geo.close();
  }

  AdminServiceGrpc.AdminServiceBlockingStub admin(String authorization) {
    Metadata m = new Metadata();
    m.put(AdminTokenInterceptor.AUTHORIZATION, authorization);
    return AdminServiceGrpc.newBlockingStub(channel)
        .withInterceptors(MetadataUtils.newAttachHeadersInterceptor(m));
  }

  AdminServiceGrpc.AdminServiceBlockingStub admin() {
    return admin("Bearer " + TOKEN);
  }

  static Status.Code codeOf(Runnable call) {
    try {
      call.run();
    } catch (StatusRuntimeException e) {
      return e.getStatus().getCode();
    }
    return Status.Code.OK;
  }

  @Test
  void everyCall_withoutOrWithAWrongToken_isUnauthenticated() {
    AdminServiceGrpc.AdminServiceBlockingStub none = AdminServiceGrpc.newBlockingStub(channel);
    List<AdminServiceGrpc.AdminServiceBlockingStub> stubs =
        List.of(
            none,
            admin("Bearer wrong-token"),
            admin("Bearer " + TOKEN + "x"),
            admin(TOKEN),
            admin("Basic " + TOKEN));
    List<Consumer<AdminServiceGrpc.AdminServiceBlockingStub>> calls =
        List.of(
            s -> s.issueKey(IssueKeyRequest.newBuilder().setClient("acme").build()),
            s -> s.rotateKey(RotateKeyRequest.newBuilder().setId("AAAAAAAAAAAA").build()),
            s -> s.revokeKey(RevokeKeyRequest.newBuilder().setId("AAAAAAAAAAAA").build()),
            s -> s.listKeys(ListKeysRequest.getDefaultInstance()),
            s -> s.queryAudit(AuditQuery.getDefaultInstance()),
            s -> s.summarizeAudit(AuditSummaryRequest.getDefaultInstance()),
            s -> s.verifyAudit(VerifyAuditRequest.getDefaultInstance()),
            s -> s.getPolicy(GetPolicyRequest.getDefaultInstance()),
            s -> s.reloadPolicy(ReloadPolicyRequest.getDefaultInstance()),
            s -> s.getUsage(UsageRequest.getDefaultInstance()),
            s -> s.listBlocks(ListBlocksRequest.getDefaultInstance()),
            s -> s.unblock(UnblockRequest.getDefaultInstance()));
    for (AdminServiceGrpc.AdminServiceBlockingStub stub : stubs) {
      for (Consumer<AdminServiceGrpc.AdminServiceBlockingStub> call : calls) {
        assertThat(codeOf(() -> call.accept(stub))).isEqualTo(Status.Code.UNAUTHENTICATED);
      }
    }
    assertThat(admin().listKeys(ListKeysRequest.getDefaultInstance()).getKeysList())
        .as("nothing was issued without the token")
        .isEmpty();
  }

  @Test
  void keyLifecycle_issueRotateListRevoke() {
    IssuedKey issued =
        admin()
            .issueKey(
                IssueKeyRequest.newBuilder()
                    .setClient("acme")
                    .setClientType("partner")
                    .addRoles("orders.read")
                    .setSegmentHint("partners")
                    .setExpiresIn("90d")
                    .build());
    assertThat(KeyFormat.idOf(issued.getSecret())).isEqualTo(issued.getId());
    ApiKey key = issued.getKey();
    assertThat(key.getClient()).isEqualTo("acme");
    assertThat(key.getRolesList()).containsExactly("orders.read");
    assertThat(key.getSegmentHint()).isEqualTo("partners");
    assertThat(key.getExpiresAt().getSeconds() - key.getCreatedAt().getSeconds())
        .isEqualTo(Duration.ofDays(90).toSeconds());
    assertThat(issued.hasPreviousValidUntil()).isFalse();

    IssuedKey rotated =
        admin()
            .rotateKey(RotateKeyRequest.newBuilder().setId(issued.getId()).setGrace("24h").build());
    assertThat(rotated.getId()).isEqualTo(issued.getId());
    assertThat(rotated.getSecret()).isNotEqualTo(issued.getSecret());
    assertThat(rotated.getPreviousValidUntil().getSeconds())
        .isEqualTo(clock.instant().plus(Duration.ofHours(24)).getEpochSecond());
    assertThat(rotated.getKey().getRotatedFrom()).isEqualTo("v1");

    List<ApiKey> listed =
        admin().listKeys(ListKeysRequest.newBuilder().setClient("acme").build()).getKeysList();
    assertThat(listed).extracting(ApiKey::getId).containsExactly(issued.getId());
    assertThat(listed.toString())
        .doesNotContain(issued.getSecret().substring(17))
        .doesNotContain(rotated.getSecret().substring(17));

    admin().revokeKey(RevokeKeyRequest.newBuilder().setId(issued.getId()).build());
    assertThat(admin().listKeys(ListKeysRequest.getDefaultInstance()).getKeys(0).hasRevokedAt())
        .isTrue();
    assertThat(
            codeOf(
                () ->
                    admin().rotateKey(RotateKeyRequest.newBuilder().setId(issued.getId()).build())))
        .isEqualTo(Status.Code.FAILED_PRECONDITION);
  }

  @Test
  void keyRefusals_haveTheirCodes() {
    assertThat(codeOf(() -> admin().issueKey(IssueKeyRequest.getDefaultInstance())))
        .isEqualTo(Status.Code.INVALID_ARGUMENT);
    assertThat(
            codeOf(
                () ->
                    admin()
                        .issueKey(
                            IssueKeyRequest.newBuilder()
                                .setClient("acme")
                                .setExpiresIn("forever")
                                .build())))
        .isEqualTo(Status.Code.INVALID_ARGUMENT);
    assertThat(
            codeOf(
                () ->
                    admin().revokeKey(RevokeKeyRequest.newBuilder().setId("AAAAAAAAAAAA").build())))
        .isEqualTo(Status.Code.NOT_FOUND);
  }

  @Test
  void audit_queryVerifyAndSummarize_delegateToTheStore() {
    audit.append(
        List.of(
            RecordChain.link(
                DecisionRecords.of(
                    DecisionFixtures.from(RequestAttributes.builder().path("/v1/status").build())
                        .decisionId("grpc-1")
                        .time(clock.instant())
                        .segment("public")
                        .allow(),
                    "it-1"),
                ChainHead.GENESIS)));

    assertThat(admin().queryAudit(AuditQuery.getDefaultInstance()).getRecordsList())
        .extracting(r -> r.getDecisionId())
        .containsExactly("grpc-1");
    assertThat(admin().verifyAudit(VerifyAuditRequest.getDefaultInstance()).getOk()).isTrue();
    assertThat(
            admin()
                .summarizeAudit(AuditSummaryRequest.newBuilder().addGroupBy("segment").build())
                .getRows(0)
                .getGroupMap())
        .containsEntry("segment", "public");
    assertThat(
            codeOf(
                () ->
                    admin().queryAudit(AuditQuery.newBuilder().setCursor("not-a-cursor").build())))
        .isEqualTo(Status.Code.INVALID_ARGUMENT);
    assertThat(
            codeOf(
                () ->
                    admin()
                        .summarizeAudit(
                            AuditSummaryRequest.newBuilder().addGroupBy("colour").build())))
        .isEqualTo(Status.Code.INVALID_ARGUMENT);
  }

  @Test
  void audit_query_parsesItsFiltersAsGetAdminAuditDoes() {
    audit.append(
        List.of(
            RecordChain.link(
                DecisionRecords.of(
                    DecisionFixtures.from(
                            RequestAttributes.builder()
                                .path("/v1/status")
                                .sourceIp("10.0.0.1")
                                .build())
                        .decisionId("mapped")
                        .time(clock.instant())
                        .segment("public")
                        .allow(),
                    "it-1"),
                ChainHead.GENESIS)));

    assertThat(
            admin()
                .queryAudit(AuditQuery.newBuilder().setSourceIp("::ffff:10.0.0.1").build())
                .getRecordsList())
        .as("an IPv4-mapped address finds the IPv4 records, as over HTTP")
        .extracting(r -> r.getDecisionId())
        .containsExactly("mapped");
    for (AuditQuery bad :
        List.of(
            AuditQuery.newBuilder().setReason("no_such_reason").build(),
            AuditQuery.newBuilder().setPathPrefix("v1").build(),
            AuditQuery.newBuilder().setSourceIp("not-an-ip").build())) {
      assertThat(codeOf(() -> admin().queryAudit(bad)))
          .as(bad.toString())
          .isEqualTo(Status.Code.INVALID_ARGUMENT);
    }
  }

  @Test
  void audit_query_recordThatCannotBeRead_isAnEntryMarkedUnreadable_andThePagesGoOn()
      throws Exception {
    AuditSamples.store(audit, clock.instant());
    DecisionRecord limited =
        admin().queryAudit(AuditQuery.newBuilder().setSegment("partners").build()).getRecords(0);
    try (Connection c = db.connection();
        PreparedStatement ps =
            c.prepareStatement(
                "UPDATE audit_record SET record = ? WHERE decision_id = 'limited'")) {
      ps.setBytes(1, new byte[] {0x0a, 0x10}); // field 1 announces 16 bytes; none follow
      assertThat(ps.executeUpdate()).isEqualTo(1);
    }

    AuditPage first = admin().queryAudit(AuditQuery.newBuilder().setLimit(3).build());
    AuditPage second =
        admin()
            .queryAudit(
                AuditQuery.newBuilder().setLimit(20).setCursor(first.getNextCursor()).build());

    assertThat(first.getRecordsList())
        .extracting(DecisionRecord::getDecisionId)
        .containsExactly("dry-1", "dry-0", "limited");
    assertThat(first.getRecords(2))
        .isEqualTo(
            DecisionRecord.newBuilder()
                .setDecisionId("limited")
                .setTime(limited.getTime())
                .setInstance("pc-1")
                .setSeq(limited.getSeq())
                .setPrevHash(limited.getPrevHash())
                .setHash(limited.getHash())
                .setUnreadable(true)
                .build());
    assertThat(second.getRecordsList()).hasSize(AuditSamples.COUNT - 3);
    assertThat(second.getRecordsList()).noneMatch(DecisionRecord::getUnreadable);
  }

  /** A summary's groups and counts, as either API answers them. */
  record Group(Map<String, String> group, long count) {}

  List<Group> summarizeOverHttp(Map<String, String> params) {
    AdminResponse r =
        new AuditAdminRoutes(audit, clock)
            .register(new AdminRouter())
            .dispatch(AdminRequests.get("/admin/audit/summary", params));
    assertThat(r.status()).as("%s: %s", params, r.bodyText()).isEqualTo(200);
    List<Group> out = new ArrayList<>();
    for (JsonNode row : JSON.readTree(r.bodyText()).get("rows")) {
      Map<String, String> group = new HashMap<>();
      row.get("group").properties().forEach(e -> group.put(e.getKey(), e.getValue().asString()));
      out.add(new Group(group, row.get("count").asLong()));
    }
    return out;
  }

  List<Group> summarizeOverGrpc(AuditSummaryRequest request) {
    return admin().summarizeAudit(request).getRowsList().stream()
        .map(row -> new Group(row.getGroupMap(), row.getCount()))
        .toList();
  }

  static Timestamp timestamp(Instant t) {
    return Timestamp.newBuilder().setSeconds(t.getEpochSecond()).setNanos(t.getNano()).build();
  }

  @Test
  void audit_summarize_takesTheFiltersAndLimitOfGetAdminAuditSummary_andCountsAlike() {
    AuditSamples.store(audit, clock.instant());
    Instant hourAgo = clock.instant().minus(Duration.ofHours(1));
    Map<Map<String, String>, AuditSummaryRequest> cases = new LinkedHashMap<>();
    cases.put(
        Map.of("since", hourAgo.toString(), "group_by", "decision,reason"),
        AuditSummaryRequest.newBuilder()
            .setSince(timestamp(hourAgo))
            .addGroupBy("decision")
            .addGroupBy("reason")
            .build());
    cases.put(
        Map.of("until", hourAgo.toString(), "group_by", "reason"),
        AuditSummaryRequest.newBuilder().setUntil(timestamp(hourAgo)).addGroupBy("reason").build());
    cases.put(
        Map.of("decision", "deny", "group_by", "reason"),
        AuditSummaryRequest.newBuilder().setDecision("deny").addGroupBy("reason").build());
    cases.put(
        Map.of("reason", "invalid_token", "group_by", "source_ip"),
        AuditSummaryRequest.newBuilder()
            .setReason("invalid_token")
            .addGroupBy("source_ip")
            .build());
    cases.put(
        Map.of("segment", "partners", "principal", "alice", "client", "acme", "group_by", "rule"),
        AuditSummaryRequest.newBuilder()
            .setSegment("partners")
            .setPrincipal("alice")
            .setClient("acme")
            .addGroupBy("rule")
            .build());
    cases.put(
        Map.of("source_ip", "::ffff:10.0.0.2", "group_by", "principal"),
        AuditSummaryRequest.newBuilder()
            .setSourceIp("::ffff:10.0.0.2")
            .addGroupBy("principal")
            .build());
    cases.put(
        Map.of("path_prefix", "/v1", "group_by", "decision"),
        AuditSummaryRequest.newBuilder().setPathPrefix("/v1").addGroupBy("decision").build());
    cases.put(
        Map.of("dry_run", "true", "group_by", "dry_run_reason,segment,dry_run_rule"),
        AuditSummaryRequest.newBuilder()
            .setDryRun(true)
            .addGroupBy("dry_run_reason")
            .addGroupBy("segment")
            .addGroupBy("dry_run_rule")
            .build());
    cases.put(
        Map.of("limit", "2", "group_by", "segment"),
        AuditSummaryRequest.newBuilder().setLimit(2).addGroupBy("segment").build());

    for (var c : cases.entrySet()) {
      List<Group> http = summarizeOverHttp(c.getKey());
      Map<String, String> unfiltered = Map.of("group_by", c.getKey().get("group_by"));
      assertThat(http).as("%s narrows the summary", c.getKey()).isNotEmpty();
      assertThat(http)
          .as("%s narrows the summary", c.getKey())
          .isNotEqualTo(summarizeOverHttp(unfiltered));
      assertThat(summarizeOverGrpc(c.getValue())).as(c.getKey().toString()).isEqualTo(http);
    }
    assertThat(summarizeOverGrpc(AuditSummaryRequest.getDefaultInstance()))
        .containsExactly(new Group(Map.of(), AuditSamples.COUNT))
        .isEqualTo(summarizeOverHttp(Map.of()));
  }

  @Test
  void audit_summarize_refusesWhatGetAdminAuditSummaryRefuses_withItsMessage() {
    Instant now = clock.instant();
    Map<Map<String, String>, AuditSummaryRequest> bad = new LinkedHashMap<>();
    bad.put(
        Map.of("decision", "maybe"), AuditSummaryRequest.newBuilder().setDecision("maybe").build());
    bad.put(
        Map.of("reason", "no_such_reason"),
        AuditSummaryRequest.newBuilder().setReason("no_such_reason").build());
    bad.put(
        Map.of("source_ip", "10.0.0.300"),
        AuditSummaryRequest.newBuilder().setSourceIp("10.0.0.300").build());
    bad.put(
        Map.of("path_prefix", "v1/orders"),
        AuditSummaryRequest.newBuilder().setPathPrefix("v1/orders").build());
    bad.put(Map.of("limit", "1001"), AuditSummaryRequest.newBuilder().setLimit(1001).build());
    bad.put(
        Map.of("limit", "4294967295"),
        AuditSummaryRequest.newBuilder().setLimit(-1).build()); // uint32 4294967295
    bad.put(
        Map.of("since", now.toString(), "until", now.minusSeconds(60).toString()),
        AuditSummaryRequest.newBuilder()
            .setSince(timestamp(now))
            .setUntil(timestamp(now.minusSeconds(60)))
            .build());
    bad.put(
        Map.of("group_by", "colour"),
        AuditSummaryRequest.newBuilder().addGroupBy("colour").build());

    AdminRouter router = new AuditAdminRoutes(audit, clock).register(new AdminRouter());
    for (var c : bad.entrySet()) {
      AdminResponse http = router.dispatch(AdminRequests.get("/admin/audit/summary", c.getKey()));
      assertThat(http.status()).as(c.getKey().toString()).isEqualTo(400);
      StatusRuntimeException grpc =
          catchThrowableOfType(
              StatusRuntimeException.class, () -> admin().summarizeAudit(c.getValue()));
      assertThat(grpc.getStatus().getCode())
          .as(c.getKey().toString())
          .isEqualTo(Status.Code.INVALID_ARGUMENT);
      assertThat(grpc.getStatus().getDescription())
          .as(c.getKey().toString())
          .isEqualTo(JSON.readTree(http.bodyText()).get("detail").asString());
    }
  }

  @Test
  void audit_timesOutsideTheYears1970To9999_areInvalidArgumentNamingTheField() {
    // Seconds beyond what an Instant holds, beyond what epoch microseconds hold, before 1970.
    for (long seconds : new long[] {Long.MAX_VALUE, 9_000_000_000_000L, 253_402_300_800L, -1}) {
      Timestamp t = Timestamp.newBuilder().setSeconds(seconds).build();
      StatusRuntimeException query =
          catchThrowableOfType(
              StatusRuntimeException.class,
              () -> admin().queryAudit(AuditQuery.newBuilder().setSince(t).build()));
      assertThat(query.getStatus().getCode())
          .as("%d", seconds)
          .isEqualTo(Status.Code.INVALID_ARGUMENT);
      assertThat(query.getStatus().getDescription()).startsWith("since: ");
      StatusRuntimeException summary =
          catchThrowableOfType(
              StatusRuntimeException.class,
              () -> admin().summarizeAudit(AuditSummaryRequest.newBuilder().setUntil(t).build()));
      assertThat(summary.getStatus().getCode())
          .as("%d", seconds)
          .isEqualTo(Status.Code.INVALID_ARGUMENT);
      assertThat(summary.getStatus().getDescription()).startsWith("until: ");
    }
  }

  @Test
  void policy_statusAndReload_reportAFailedReloadAsAState() throws Exception {
    PolicyStatus s = admin().getPolicy(GetPolicyRequest.getDefaultInstance());
    assertThat(s.getVersion()).isEqualTo(live.get().version());
    assertThat(s.getLastReloadOk()).isTrue();

    Files.writeString(policyFile, "version: 1\nsegments: 7\n");
    PolicyStatus failed = admin().reloadPolicy(ReloadPolicyRequest.getDefaultInstance());

    assertThat(failed.getLastReloadOk()).isFalse();
    assertThat(failed.getVersion()).as("the old policy keeps running").isEqualTo(s.getVersion());
    assertThat(failed.getErrorsList()).anySatisfy(e -> assertThat(e).contains("segments"));
  }

  /** ReloadPolicy re-reads the other files as SIGHUP does, and says how each went. */
  @Test
  void reloadPolicy_alsoReloadsTheOtherFiles_andReportsEach_getPolicyDoesNot() throws Exception {
    assertThat(admin().getPolicy(GetPolicyRequest.getDefaultInstance()).getReloadedList())
        .as("GetPolicy re-reads nothing")
        .isEmpty();
    Path next =
        MmdbFiles.write(
            dir.resolve("next.mmdb"), "GeoLite2-City", Map.of("country", Map.of("iso_code", "SE")));
    Files.move(next, geoFile, java.nio.file.StandardCopyOption.ATOMIC_MOVE);

    PolicyStatus s = admin().reloadPolicy(ReloadPolicyRequest.getDefaultInstance());

    assertThat(s.getLastReloadOk()).isTrue();
    assertThat(s.getReloadedList())
        .singleElement()
        .satisfies(
            r -> {
              assertThat(r.getName()).isEqualTo("geoip_database");
              assertThat(r.getOk()).isTrue();
              assertThat(r.getDetail()).startsWith(geoFile + ": GeoLite2-City, built ");
            });
    assertThat(geo.lookup(java.net.InetAddress.getByName("89.160.20.112"))).isEqualTo("SE");
  }

  @Test
  void usageAndBlocks_comeFromTheLimitBackends() {
    Usage u =
        admin()
            .getUsage(
                UsageRequest.newBuilder().setLimit("public/per-ip").setKey("192.0.2.1").build());
    assertThat(u.getLimit()).isEqualTo("public/per-ip");
    assertThat(u.getMax()).isEqualTo(5);
    assertThat(u.getRemaining()).isEqualTo(5);
    // The key is escaped as the decision pipeline escapes bucket values (LimitKey.bucket).
    assertThat(
            admin()
                .getUsage(
                    UsageRequest.newBuilder()
                        .setLimit("public/per-client")
                        .setKey("50%off")
                        .build())
                .getKey())
        .endsWith("50%25off");
    assertThat(
            codeOf(
                () ->
                    admin()
                        .getUsage(UsageRequest.newBuilder().setLimit("nope").setKey("x").build())))
        .isEqualTo(Status.Code.NOT_FOUND);

    limits
        .protection()
        .recordFailure("ip:192.0.2.9", 1, Duration.ofMinutes(1), Duration.ofHours(1));
    assertThat(admin().listBlocks(ListBlocksRequest.getDefaultInstance()).getBlocksList())
        .extracting(b -> b.getKey())
        .containsExactly("ip:192.0.2.9");
    assertThat(
            admin()
                .unblock(UnblockRequest.newBuilder().setKey("ip:192.0.2.9").build())
                .getRemoved())
        .isTrue();
    assertThat(admin().listBlocks(ListBlocksRequest.getDefaultInstance()).getBlocksList())
        .isEmpty();
  }

  @Test
  void usageAndUnblock_ofAnIpv6Address_readTheSlash64ThePipelineCountsAndBlocks() {
    DecisionPipeline pipeline =
        DecisionPipeline.builder()
            .policy(live)
            .limiter(limits.limiter())
            .clock(clock)
            .nanoTime(clock::nanoTime)
            .build();
    RequestAttributes request =
        RequestAttributes.builder().path("/v1/status").sourceIp("2001:db8:1:2::7").build();
    pipeline.decide(request);
    pipeline.decide(request);

    Usage u =
        admin()
            .getUsage(
                UsageRequest.newBuilder()
                    .setLimit("public/per-ip")
                    .setKey("2001:db8:1:2::1")
                    .build());
    assertThat(u.getKey()).isEqualTo("2001:db8:1:2::/64");
    assertThat(u.getRemaining()).isEqualTo(3);

    FailedAuthRule rule = new FailedAuthRule("ip", 1, Duration.ofMinutes(1), Duration.ofHours(1));
    String blocked = rule.keyOf(request);
    limits.protection().recordFailure(blocked, 1, rule.window(), rule.blockFor());
    assertThat(
            admin()
                .unblock(UnblockRequest.newBuilder().setKey("ip:2001:db8:1:2::1").build())
                .getRemoved())
        .isTrue();
    assertThat(limits.protection().blockedUntil(blocked)).isNull();
  }

  /** A value that is no address used to read an empty bucket and "not blocked". */
  @Test
  void usageAndUnblock_ofAnIpKeyThatNamesNoSource_areInvalidArgumentNamingIt() {
    StatusRuntimeException usage =
        catchThrowableOfType(
            StatusRuntimeException.class,
            () ->
                admin()
                    .getUsage(
                        UsageRequest.newBuilder()
                            .setLimit("public/per-ip")
                            .setKey("acme")
                            .build()));
    StatusRuntimeException unblock =
        catchThrowableOfType(
            StatusRuntimeException.class,
            () -> admin().unblock(UnblockRequest.newBuilder().setKey("ip:acme").build()));

    assertThat(usage.getStatus().getCode()).isEqualTo(Status.Code.INVALID_ARGUMENT);
    assertThat(usage.getStatus().getDescription())
        .startsWith("key 'acme' is not a source")
        .contains("IPv4 or IPv6 address");
    assertThat(unblock.getStatus().getCode()).isEqualTo(Status.Code.INVALID_ARGUMENT);
    assertThat(unblock.getStatus().getDescription()).startsWith("key 'ip:acme' is not a block key");
  }

  @Test
  void anEmptyToken_isRefusedAtConstruction() {
    assertThatThrownBy(() -> new AdminTokenInterceptor(Secret.of("")))
        .isInstanceOf(IllegalArgumentException.class);
  }

  @Test
  void usageOfAnUnknownLimit_isNotFound_namingThePolicysLimits() {
    StatusRuntimeException e =
        catchThrowableOfType(
            StatusRuntimeException.class,
            () -> admin().getUsage(UsageRequest.newBuilder().setLimit("nope").setKey("x").build()));

    assertThat(e.getStatus().getCode()).isEqualTo(Status.Code.NOT_FOUND);
    assertThat(e.getStatus().getDescription())
        .isEqualTo("no limit of that name; the policy's limits: public/per-ip, public/per-client");
  }
}
