package io.portcullis.server.http;

import static org.assertj.core.api.Assertions.assertThat;

import io.portcullis.audit.AuditJson;
import io.portcullis.audit.AuditStore;
import io.portcullis.identity.Secret;
import io.portcullis.proto.v1.DecisionRecord;
import io.portcullis.store.Database;
import io.portcullis.store.StoreSettings;
import io.portcullis.testing.AdminRequests;
import io.portcullis.testing.AuditSamples;
import io.portcullis.testing.FakeClock;
import java.net.InetSocketAddress;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.Statement;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import tools.jackson.databind.JsonNode;
import tools.jackson.databind.json.JsonMapper;

/**
 * The audit admin routes over a real store, called directly and once over HTTP: {@link
 * AuditAdminRoutesTest} (SQLite) and {@link AuditAdminRoutesPostgresIT} (PostgreSQL).
 */
abstract class AuditAdminRoutesContract {
  private static final JsonMapper JSON = JsonMapper.builder().build();
  private static final Instant NOW = Instant.parse("2026-11-22T12:00:00Z");

  private final FakeClock clock = FakeClock.at(NOW);
  private Database db;
  private AuditStore store;
  private AuditAdminRoutes routes;

  /** The JDBC URL of an empty or emptied store for one test. */
  abstract String url() throws Exception;

  @BeforeEach
  void open() throws Exception {
    db = Database.open(StoreSettings.of(url()));
    try (Connection c = db.connection();
        Statement s = c.createStatement()) {
      s.executeUpdate("DELETE FROM audit_record");
      s.executeUpdate("DELETE FROM audit_chain");
    }
    store = AuditStore.of(db);
    routes = new AuditAdminRoutes(store, clock);
  }

  @AfterEach
  void close() {
    db.close();
  }

  private void storeDecisions() {
    AuditSamples.store(store, NOW);
  }

  private static List<DecisionRecord> lines(AdminResponse r) throws Exception {
    List<DecisionRecord> out = new ArrayList<>();
    for (String line : r.bodyText().split("\n")) {
      if (!line.isEmpty()) {
        out.add(AuditJson.parseLine(line));
      }
    }
    return out;
  }

  private static List<String> ids(AdminResponse r) throws Exception {
    return lines(r).stream().map(DecisionRecord::getDecisionId).toList();
  }

  private AdminResponse query(Map<String, String> params) throws Exception {
    return routes.query(AdminRequests.get("/admin/audit", params));
  }

  private static JsonNode json(AdminResponse r) {
    return JSON.readTree(r.bodyText());
  }

  // ---- GET /admin/audit -----------------------------------------------------------------------

  @Test
  void query_decisionAndReason_returnsMatchingRecordsNewestFirstAsJsonLines() throws Exception {
    storeDecisions();

    AdminResponse r = query(Map.of("since", "1h", "decision", "deny", "reason", "invalid_token"));

    assertThat(r.status()).isEqualTo(200);
    assertThat(r.contentType()).isEqualTo("application/x-ndjson");
    assertThat(ids(r)).containsExactly("bad-token-2", "bad-token-1", "bad-token-0");
    assertThat(lines(r)).allSatisfy(rec -> assertThat(rec.getStatus()).isEqualTo(401));
    assertThat(r.bodyText()).endsWith("\n").contains("\"decision_id\":\"bad-token-2\"");
    assertThat(r.headers()).doesNotContainKey("X-Next-Cursor");
  }

  @Test
  void query_recordWithALimit_carriesRemainingAlsoWhenNothingRemained() throws Exception {
    storeDecisions();

    AdminResponse limited = query(Map.of("segment", "partners"));
    AdminResponse unlimited = query(Map.of("reason", "invalid_token"));

    assertThat(ids(limited)).containsExactly("limited");
    assertThat(limited.bodyText()).contains("\"limit\":\"per-client\",\"remaining\":\"0\",");
    assertThat(ids(unlimited)).hasSize(4);
    assertThat(unlimited.bodyText()).doesNotContain("remaining");
  }

  @Test
  void query_limit_pagesWithXNextCursorUntilEveryRecordWasSeenOnce() throws Exception {
    storeDecisions();

    Set<String> seen = new LinkedHashSet<>();
    String cursor = "";
    int pages = 0;
    do {
      AdminResponse r = query(Map.of("limit", "5", "cursor", cursor));
      assertThat(r.status()).isEqualTo(200);
      seen.addAll(ids(r));
      pages++;
      cursor = r.headers().getOrDefault("X-Next-Cursor", "");
    } while (!cursor.isEmpty());

    assertThat(pages).isEqualTo(3);
    assertThat(seen).hasSize(12).startsWith("dry-1", "dry-0", "limited").endsWith("old-deny");
  }

  @Test
  void query_eachFilter_narrowsTheResult() throws Exception {
    storeDecisions();
    Map<Map<String, String>, List<String>> cases =
        Map.of(
            Map.of("segment", "partners"), List.of("limited"),
            Map.of("principal", "alice", "dry_run", "true"), List.of("dry-1", "dry-0"),
            Map.of("client", "acme", "decision", "deny"), List.of("limited"),
            Map.of("source_ip", "::ffff:10.0.0.2"), List.of("limited"),
            Map.of("path_prefix", "/v2"), List.of("limited"),
            Map.of("since", "2026-11-22T09:00:00Z", "until", "2026-11-22T10:30:00+01:00"),
                List.of("old-deny"),
            Map.of("since", "55m", "until", "45m", "segment", "public"),
                List.of("allow-4", "allow-3", "allow-2", "allow-1", "allow-0"));
    for (var c : cases.entrySet()) {
      assertThat(ids(query(c.getKey()))).as(c.getKey().toString()).isEqualTo(c.getValue());
    }
  }

  @Test
  void query_badParameter_is400ProblemNamingIt() throws Exception {
    Map<String, String> bad =
        Map.ofEntries(
            Map.entry("since", "yesterday"),
            Map.entry("until", "2026-13-01T00:00:00Z"),
            Map.entry("decision", "maybe"),
            Map.entry("reason", "no_such_reason"),
            Map.entry("source_ip", "10.0.0.300"),
            Map.entry("path_prefix", "v1/orders"),
            Map.entry("dry_run", "perhaps"),
            Map.entry("limit", "5000"),
            Map.entry("cursor", "not-a-cursor"),
            Map.entry("segmnet", "partners"));
    for (var e : bad.entrySet()) {
      AdminResponse r = query(Map.of(e.getKey(), e.getValue()));
      assertThat(r.status()).as(e.toString()).isEqualTo(400);
      assertThat(r.contentType()).isEqualTo(AdminResponse.PROBLEM_JSON);
      JsonNode p = json(r);
      assertThat(p.get("type").asString()).isEqualTo("urn:portcullis:error:invalid_parameter");
      assertThat(p.get("detail").asString()).as(e.toString()).startsWith(e.getKey() + ": ");
    }
    // Times the store cannot hold (or do arithmetic on) are refused, not a 500 from an overflow.
    List<Map.Entry<String, String>> outOfRange =
        List.of(
            Map.entry("since", "+300000-01-01T00:00:00Z"),
            Map.entry("until", "+300000-01-01T00:00:00Z"),
            Map.entry("since", "10000-01-01T00:00:00Z"),
            Map.entry("since", "1969-12-31T23:59:59Z"),
            Map.entry("since", "-300000-01-01T00:00:00Z"),
            Map.entry("since", "1000000000d"));
    for (var e : outOfRange) {
      for (AdminResponse r :
          List.of(
              query(Map.of(e.getKey(), e.getValue())),
              routes.summary(AdminRequests.get("/admin/audit/summary", Map.ofEntries(e))),
              routes.timeline(AdminRequests.get("/admin/audit/timeline", Map.ofEntries(e))))) {
        assertThat(r.status()).as(e.toString()).isEqualTo(400);
        assertThat(json(r).get("detail").asString()).as(e.toString()).startsWith(e.getKey() + ": ");
      }
    }
    assertThat(query(Map.of("since", "9999-12-31T23:59:59Z")).status()).isEqualTo(200);
    AdminResponse reversed = query(Map.of("since", "10m", "until", "1h"));
    assertThat(reversed.status()).isEqualTo(400);
    assertThat(json(reversed).get("detail").asString()).startsWith("until: ");
  }

  /** Overwrites the stored record of {@code decisionId} with bytes that do not parse. */
  private void damage(String decisionId) throws Exception {
    try (Connection c = db.connection();
        PreparedStatement ps =
            c.prepareStatement("UPDATE audit_record SET record = ? WHERE decision_id = ?")) {
      ps.setBytes(1, new byte[] {0x0a, 0x10}); // field 1 announces 16 bytes; none follow
      ps.setString(2, decisionId);
      assertThat(ps.executeUpdate()).isEqualTo(1);
    }
  }

  @Test
  void query_recordThatCannotBeRead_isAnUnreadableLineInItsPlace_andThePagesGoOn()
      throws Exception {
    storeDecisions();
    DecisionRecord limited = lines(query(Map.of("segment", "partners"))).get(0);
    Map<String, String> counts = Map.of("since", "4h", "group_by", "segment,decision,reason");
    String summary = routes.summary(AdminRequests.get("/admin/audit/summary", counts)).bodyText();
    String timeline =
        routes
            .timeline(AdminRequests.get("/admin/audit/timeline", Map.of("since", "4h")))
            .bodyText();
    damage("limited");
    String unreadable =
        "{\"decision_id\":\"limited\",\"time\":\"2026-11-22T11:40:00Z\",\"instance\":\"pc-1\","
            + "\"seq\":\""
            + limited.getSeq()
            + "\",\"prev_hash\":\""
            + limited.getPrevHash()
            + "\",\"hash\":\""
            + limited.getHash()
            + "\",\"unreadable\":true}";

    List<String> seen = new ArrayList<>();
    String cursor = "";
    int pages = 0;
    do {
      AdminResponse r = query(Map.of("limit", "5", "cursor", cursor));
      assertThat(r.status()).isEqualTo(200);
      seen.addAll(r.bodyText().lines().toList());
      pages++;
      cursor = r.headers().getOrDefault("X-Next-Cursor", "");
    } while (!cursor.isEmpty());

    assertThat(pages).isEqualTo(3);
    assertThat(seen).hasSize(AuditSamples.COUNT).doesNotHaveDuplicates();
    assertThat(seen.get(2)).isEqualTo(unreadable); // dry-1, dry-0, then limited
    assertThat(seen.subList(3, seen.size())).noneMatch(l -> l.contains("unreadable"));
    // Filters match the row's columns: it is found by them, and left out by others.
    for (Map<String, String> filter :
        List.of(
            Map.of("segment", "partners"),
            Map.of("principal", "alice", "decision", "deny"),
            Map.of("path_prefix", "/v2"))) {
      assertThat(query(filter).bodyText()).as(filter.toString()).isEqualTo(unreadable + "\n");
    }
    assertThat(query(Map.of("reason", "invalid_token")).bodyText()).doesNotContain("unreadable");
    // Summaries and the timeline count columns: unchanged.
    assertThat(routes.summary(AdminRequests.get("/admin/audit/summary", counts)).bodyText())
        .isEqualTo(summary);
    assertThat(
            routes
                .timeline(AdminRequests.get("/admin/audit/timeline", Map.of("since", "4h")))
                .bodyText())
        .isEqualTo(timeline);
  }

  // ---- GET /admin/audit/summary ---------------------------------------------------------------

  @Test
  void summary_groupsByDecisionAndReason_largestFirst() throws Exception {
    storeDecisions();

    AdminResponse r =
        routes.summary(
            AdminRequests.get(
                "/admin/audit/summary", Map.of("since", "1h", "group_by", "decision,reason")));

    assertThat(r.status()).isEqualTo(200);
    assertThat(r.bodyText())
        .isEqualTo(
            "{\"rows\":["
                + "{\"group\":{\"decision\":\"allow\",\"reason\":\"\"},\"count\":7},"
                + "{\"group\":{\"decision\":\"deny\",\"reason\":\"invalid_token\"},\"count\":3},"
                + "{\"group\":{\"decision\":\"deny\",\"reason\":\"rate_limited\"},\"count\":1}]}");
  }

  @Test
  void summary_dryRunReport_namesWhatWouldHaveBeenDeniedWhereAndWhy() throws Exception {
    storeDecisions();

    AdminResponse r =
        routes.summary(
            AdminRequests.get(
                "/admin/audit/summary",
                Map.of("dry_run", "true", "group_by", "dry_run_reason,segment,dry_run_rule")));

    assertThat(r.bodyText())
        .isEqualTo(
            "{\"rows\":[{\"group\":{\"dry_run_reason\":\"insufficient_permissions\","
                + "\"segment\":\"beta\",\"dry_run_rule\":\"beta\"},\"count\":2}]}");
  }

  @Test
  void summary_unknownDimensionOrCursor_is400() throws Exception {
    AdminResponse dim =
        routes.summary(AdminRequests.get("/admin/audit/summary", Map.of("group_by", "colour")));
    assertThat(dim.status()).isEqualTo(400);
    assertThat(json(dim).get("detail").asString()).contains("group_by 'colour'");
    AdminResponse cursor =
        routes.summary(AdminRequests.get("/admin/audit/summary", Map.of("cursor", "x")));
    assertThat(cursor.status()).isEqualTo(400);
    assertThat(json(cursor).get("detail").asString()).startsWith("cursor: unknown parameter");
  }

  // ---- GET /admin/audit/timeline --------------------------------------------------------------

  @Test
  void timeline_lastHourIn12Buckets_usesRoundAlignedWidthsAndCountsEachDecision() throws Exception {
    storeDecisions();

    AdminResponse r =
        routes.timeline(
            AdminRequests.get("/admin/audit/timeline", Map.of("since", "1h", "buckets", "12")));

    assertThat(r.status()).isEqualTo(200);
    JsonNode t = json(r);
    assertThat(t.get("width_seconds").asLong()).isEqualTo(600);
    assertThat(t.get("since").asString()).isEqualTo("2026-11-22T11:00:00Z");
    JsonNode b = t.get("buckets");
    assertThat(b.size()).isEqualTo(6);
    assertThat(b.get(0).get("start").asString()).isEqualTo("2026-11-22T11:00:00Z");
    // 11:10-11:20 holds allow-0..allow-4 (11:10..11:14)
    assertThat(b.get(1).get("allow").asLong()).isEqualTo(5);
    assertThat(b.get(3).get("deny").asLong()).isEqualTo(3); // 11:30-11:32
    assertThat(b.get(4).get("deny").asLong()).isEqualTo(1); // 11:40
    assertThat(b.get(5).get("allow").asLong()).isEqualTo(2); // 11:50-11:51, dry-run
    assertThat(b.get(5).get("dry_run").asLong()).isEqualTo(2);
    long allows = 0;
    long denies = 0;
    for (JsonNode bucket : b) {
      allows += bucket.get("allow").asLong();
      denies += bucket.get("deny").asLong();
    }
    assertThat(allows).isEqualTo(7);
    assertThat(denies).isEqualTo(4); // the deny three hours ago is outside
  }

  @Test
  void timeline_withoutRange_coversTheLast24HoursAndFiltersApply() throws Exception {
    storeDecisions();

    JsonNode t =
        json(
            routes.timeline(
                AdminRequests.get("/admin/audit/timeline", Map.of("decision", "deny"))));

    assertThat(t.get("until").asString()).isEqualTo("2026-11-22T12:00:00Z");
    assertThat(t.get("width_seconds").asLong()).isEqualTo(1800); // 24 h in at most 60 buckets
    long allows = 0;
    long denies = 0;
    for (JsonNode bucket : t.get("buckets")) {
      allows += bucket.get("allow").asLong();
      denies += bucket.get("deny").asLong();
    }
    assertThat(allows).isZero();
    assertThat(denies).isEqualTo(5);
  }

  @Test
  void timeline_bucketWidths_areRoundAndFitTheRequestedCount() {
    assertThat(AuditAdminRoutes.width(Duration.ofMinutes(1), 60)).isEqualTo(Duration.ofSeconds(5));
    assertThat(AuditAdminRoutes.width(Duration.ofHours(1), 60)).isEqualTo(Duration.ofMinutes(5));
    assertThat(AuditAdminRoutes.width(Duration.ofDays(7), 60)).isEqualTo(Duration.ofHours(3));
    assertThat(AuditAdminRoutes.width(Duration.ofDays(365), 60)).isEqualTo(Duration.ofDays(7));
    AdminResponse bad =
        routes.timeline(AdminRequests.get("/admin/audit/timeline", Map.of("buckets", "1")));
    assertThat(bad.status()).isEqualTo(400);
    assertThat(json(bad).get("detail").asString()).startsWith("buckets: ");
  }

  // ---- GET /admin/audit/verify ----------------------------------------------------------------

  @Test
  void verify_intactChain_isOk_andAnEditedRow_isReportedAsFirstBroken() throws Exception {
    storeDecisions();
    assertThat(routes.verify(AdminRequests.get("/admin/audit/verify")).bodyText())
        .isEqualTo("{\"ok\":true,\"checked\":12}");

    try (Connection c = db.connection();
        Statement s = c.createStatement()) {
      s.executeUpdate("UPDATE audit_record SET reason = '' WHERE decision_id = 'limited'");
    }

    JsonNode v = json(routes.verify(AdminRequests.get("/admin/audit/verify")));
    assertThat(v.get("ok").asBoolean()).isFalse();
    assertThat(v.get("first_broken").asString()).isEqualTo("limited");
    assertThat(v.get("detail").asString()).contains("column reason was altered");
  }

  // ---- failures and HTTP ----------------------------------------------------------------------

  @Test
  void storeUnavailable_is503OnEveryRoute() throws Exception {
    db.close();

    List<AdminResponse> rs =
        List.of(
            query(Map.of()),
            routes.summary(AdminRequests.get("/admin/audit/summary", Map.of())),
            routes.timeline(AdminRequests.get("/admin/audit/timeline", Map.of())),
            routes.verify(AdminRequests.get("/admin/audit/verify")));

    for (AdminResponse r : rs) {
      assertThat(r.status()).isEqualTo(503);
      assertThat(json(r).get("type").asString())
          .isEqualTo("urn:portcullis:error:store_unavailable");
    }
  }

  @Test
  void overHttp_needsTheToken_andSendsJsonLinesWithTheCursorHeader() throws Exception {
    storeDecisions();
    AdminHttpServer server =
        AdminHttpServer.builder(new InetSocketAddress("127.0.0.1", 0))
            .token(Secret.of("route-test-token"))
            .router(routes.register(new AdminRouter()))
            .build()
            .start();
    try {
      HttpClient http = HttpClient.newHttpClient();
      URI uri =
          URI.create(
              "http://127.0.0.1:" + server.port() + "/admin/audit?decision=deny&limit=2&since=1h");

      HttpResponse<String> anonymous =
          http.send(HttpRequest.newBuilder(uri).build(), HttpResponse.BodyHandlers.ofString());
      assertThat(anonymous.statusCode()).isEqualTo(401);

      HttpResponse<String> r =
          http.send(
              HttpRequest.newBuilder(uri)
                  .header("Authorization", "Bearer route-test-token")
                  .build(),
              HttpResponse.BodyHandlers.ofString());
      assertThat(r.statusCode()).isEqualTo(200);
      assertThat(r.headers().firstValue("content-type")).hasValue("application/x-ndjson");
      assertThat(r.body().lines()).hasSize(2);
      String next = r.headers().firstValue("x-next-cursor").orElseThrow();

      HttpResponse<String> page2 =
          http.send(
              HttpRequest.newBuilder(URI.create(uri + "&cursor=" + next))
                  .header("Authorization", "Bearer route-test-token")
                  .build(),
              HttpResponse.BodyHandlers.ofString());
      assertThat(page2.body().lines()).hasSize(2);
      assertThat(page2.headers().firstValue("x-next-cursor")).isEmpty();
      assertThat(page2.body()).contains("bad-token-0");
    } finally {
      server.close();
    }
  }
}
