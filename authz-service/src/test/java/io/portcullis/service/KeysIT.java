package io.portcullis.service;

import static org.assertj.core.api.Assertions.assertThat;

import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.read.ListAppender;
import com.google.rpc.Code;
import io.envoyproxy.envoy.service.auth.v3.AuthorizationGrpc;
import io.envoyproxy.envoy.service.auth.v3.CheckResponse;
import io.grpc.Grpc;
import io.grpc.InsecureChannelCredentials;
import io.grpc.ManagedChannel;
import io.grpc.Metadata;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.stub.MetadataUtils;
import io.portcullis.Portcullis;
import io.portcullis.audit.AuditQuery;
import io.portcullis.identity.Secret;
import io.portcullis.keys.KeyFormat;
import io.portcullis.proto.v1.AdminServiceGrpc;
import io.portcullis.proto.v1.DecisionRecord;
import io.portcullis.proto.v1.ListKeysRequest;
import io.portcullis.testing.EnvoyChecks;
import io.portcullis.testing.FreshPostgresDatabase;
import io.portcullis.testing.TestIssuer;
import io.portcullis.testing.TestRuntimeConfigs;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.time.Instant;
import java.time.InstantSource;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;
import org.awaitility.Awaitility;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestMethodOrder;
import org.junit.jupiter.api.io.TempDir;
import org.slf4j.LoggerFactory;
import tools.jackson.databind.JsonNode;
import tools.jackson.databind.json.JsonMapper;

/**
 * API keys and introspected tokens end to end: two service instances ({@code Portcullis.start})
 * sharing one fresh PostgreSQL database, keys issued, rotated and revoked through instance A's
 * admin API and used through both instances' Envoy ext_authz gRPC Check API; the admin gRPC service
 * on the gRPC listener; an opaque token introspected at mock-oauth2-server. Every log event of the
 * run is captured and checked for secrets at the end.
 */
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class KeysIT {
  static final String ADMIN_TOKEN = "keys-it-admin-token-0123456789";
  static final String INTRO_SECRET = "keys-it-introspection-secret-77";
  static final JsonMapper JSON = JsonMapper.builder().build();
  static final HttpClient HTTP = HttpClient.newHttpClient();

  @TempDir static Path dir;
  static FreshPostgresDatabase pg;
  static TestIssuer issuer;
  static Portcullis a;
  static Portcullis b;
  static ManagedChannel channelA;
  static ManagedChannel channelB;
  static ListAppender<ILoggingEvent> logs;
  static final Set<String> secretsSeen = ConcurrentHashMap.newKeySet();

  @BeforeAll
  static void start() throws Exception {
    logs = new ListAppender<>();
    logs.start();
    ((Logger) LoggerFactory.getLogger(org.slf4j.Logger.ROOT_LOGGER_NAME)).addAppender(logs);
    secretsSeen.add(ADMIN_TOKEN);
    secretsSeen.add(INTRO_SECRET);

    pg = FreshPostgresDatabase.create();
    issuer = TestIssuer.start(InstantSource.system());
    Path policy = dir.resolve("policy.yaml");
    Files.writeString(
        policy,
        """
        version: 1
        identity:
          api_keys: { headers: [x-api-key] }
          introspection:
            - name: legacy
              endpoint: %s/introspect
              client_id: portcullis
              client_secret: ${INTRO_SECRET}
              cache_ttl: 30s
              claims: { subject: sub, client: client_id, roles: username, scopes: scope }
        segments:
          - name: partners
            match: { credential: [api_key], client_type: [partner] }
            rules:
              - name: read-orders
                methods: [GET]
                paths: ["/v1/orders", "/v1/orders/*"]
                roles_any: [orders.read]
          - name: batch
            match: { credential: [introspection] }
            rules:
              - { name: batch, methods: [GET], paths: ["/v1/batch"], roles_any: [orders.admin] }
          - name: public
            match: { credential: [anonymous] }
            rules:
              - { name: status, methods: [GET], paths: ["/v1/status"] }
        """
            .formatted(issuer.issuer("intro")));
    a = instance("keys-a", policy);
    b = instance("keys-b", policy);
    channelA = channel(a);
    channelB = channel(b);
  }

  static Portcullis instance(String name, Path policy) throws Exception {
    Path home = Files.createDirectories(dir.resolve(name));
    return Portcullis.start(
        TestRuntimeConfigs.sharedStore(
            TestRuntimeConfigs.loopback(home, policy, Secret.of(ADMIN_TOKEN)), name, pg.url()),
        env -> env.equals("INTRO_SECRET") ? INTRO_SECRET : null);
  }

  static ManagedChannel channel(Portcullis p) {
    return Grpc.newChannelBuilderForAddress(
            "127.0.0.1", p.grpcPort(), InsecureChannelCredentials.create())
        .build();
  }

  @AfterAll
  static void stop() throws Exception {
    for (ManagedChannel c : new ManagedChannel[] {channelA, channelB}) {
      if (c != null) {
        c.shutdownNow();
      }
    }
    for (Portcullis p : new Portcullis[] {a, b}) {
      if (p != null) {
        p.close();
      }
    }
    if (issuer != null) {
      issuer.close();
    }
    if (pg != null) {
      pg.close();
    }
    ((Logger) LoggerFactory.getLogger(org.slf4j.Logger.ROOT_LOGGER_NAME)).detachAppender(logs);
  }

  // ---- helpers --------------------------------------------------------------------------------

  static HttpResponse<String> admin(
      Portcullis p, String method, String path, String body, String token) throws Exception {
    HttpRequest.Builder r =
        HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + p.adminPort() + path))
            .header("content-type", "application/json")
            .method(
                method,
                body.isEmpty()
                    ? HttpRequest.BodyPublishers.noBody()
                    : HttpRequest.BodyPublishers.ofString(body));
    if (token != null) {
      r.header("authorization", "Bearer " + token);
    }
    HttpResponse<String> response = HTTP.send(r.build(), HttpResponse.BodyHandlers.ofString());
    return response;
  }

  static HttpResponse<String> admin(Portcullis p, String method, String path, String body)
      throws Exception {
    return admin(p, method, path, body, ADMIN_TOKEN);
  }

  /** Issues a partner key through instance A's admin API; returns {@code [id, secret]}. */
  static String[] issue() throws Exception {
    HttpResponse<String> r =
        admin(
            a,
            "POST",
            "/admin/keys",
            "{\"client\":\"acme\",\"client_type\":\"partner\",\"roles\":[\"orders.read\"],"
                + "\"expires_in\":\"90d\"}");
    assertThat(r.statusCode()).as(r.body()).isEqualTo(201);
    JsonNode k = JSON.readTree(r.body());
    String secret = k.get("secret").asString();
    secretsSeen.add(secret);
    return new String[] {k.get("id").asString(), secret};
  }

  static String rotate(String id, String grace) throws Exception {
    HttpResponse<String> r =
        admin(a, "POST", "/admin/keys/" + id + "/rotate", "{\"grace\":\"" + grace + "\"}");
    assertThat(r.statusCode()).as(r.body()).isEqualTo(200);
    String secret = JSON.readTree(r.body()).get("secret").asString();
    secretsSeen.add(secret);
    return secret;
  }

  static CheckResponse check(ManagedChannel channel, EnvoyChecks request) {
    return AuthorizationGrpc.newBlockingStub(channel).check(request.build());
  }

  static CheckResponse withKey(ManagedChannel channel, String key) {
    return check(channel, EnvoyChecks.get("/v1/orders/42").header("x-api-key", key));
  }

  static String reasonOf(CheckResponse r) {
    return r.getDynamicMetadata()
        .getFieldsOrDefault("reason", com.google.protobuf.Value.getDefaultInstance())
        .getStringValue(); // empty for an allow
  }

  static boolean allowed(CheckResponse r) {
    return r.getStatus().getCode() == Code.OK_VALUE;
  }

  static Map<String, String> upstream(CheckResponse r) {
    return r.getOkResponse().getHeadersList().stream()
        .collect(Collectors.toMap(h -> h.getHeader().getKey(), h -> h.getHeader().getValue()));
  }

  // ---- keys through the Check API -------------------------------------------------------------

  @Test
  void issuedKey_isAllowedThroughCheck_inXApiKeyOrAuthorizationApiKey_onBothInstances() {
    String[] key = issueUnchecked();

    for (ManagedChannel channel : List.of(channelA, channelB)) {
      CheckResponse viaHeader = withKey(channel, key[1]);
      assertThat(allowed(viaHeader)).as(viaHeader.toString()).isTrue();
      assertThat(upstream(viaHeader))
          .containsEntry("x-portcullis-principal", key[0])
          .containsEntry("x-portcullis-client", "acme")
          .containsEntry("x-portcullis-credential", "api_key")
          .containsEntry("x-portcullis-segment", "partners");
      assertThat(viaHeader.getOkResponse().getHeadersToRemoveList()).contains("x-api-key");

      CheckResponse viaAuthorization =
          check(channel, EnvoyChecks.get("/v1/orders").header("authorization", "ApiKey " + key[1]));
      assertThat(allowed(viaAuthorization)).isTrue();
      assertThat(upstream(viaAuthorization)).containsEntry("x-portcullis-principal", key[0]);
    }
  }

  @Test
  void unknownMalformedAndOneCharacterOffKeys_are401UnknownKey() {
    String[] key = issueUnchecked();
    String body = key[1].substring(0, 40) + (key[1].charAt(40) == 'a' ? 'b' : 'a');
    for (String presented :
        List.of(
            KeyFormat.generate(new java.security.SecureRandom()),
            "not-a-key",
            key[1].substring(0, 40) + (key[1].charAt(40) == 'a' ? 'b' : 'a') + key[1].substring(41),
            body + key[1].substring(41, 60) + checksumOf(body + key[1].substring(41, 60)))) {
      CheckResponse r = withKey(channelB, presented);
      assertThat(r.getDeniedResponse().getStatus().getCodeValue()).isEqualTo(401);
      assertThat(reasonOf(r)).isEqualTo("unknown_key");
      assertThat(r.getDeniedResponse().getHeadersList())
          .extracting(h -> h.getHeader().getKey())
          .contains("www-authenticate");
      assertThat(r.getDeniedResponse().getBody()).doesNotContain(presented);
    }
  }

  /** A valid checksum for a key body ({@code pck_<id>_<secret>}), as a forger would compute it. */
  static String checksumOf(String body) {
    java.util.zip.CRC32 crc = new java.util.zip.CRC32();
    crc.update(body.getBytes(java.nio.charset.StandardCharsets.US_ASCII));
    long v = crc.getValue();
    String alphabet = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
    char[] out = new char[6];
    for (int i = 5; i >= 0; i--) {
      out[i] = alphabet.charAt((int) (v % 62));
      v /= 62;
    }
    return new String(out);
  }

  @Test
  void revokedThroughInstanceA_isRejectedByInstanceB_withinOneSecond() throws Exception {
    String[] key = issue();
    assertThat(allowed(withKey(channelB, key[1]))).as("cached on B").isTrue();

    assertThat(admin(a, "DELETE", "/admin/keys/" + key[0], "").statusCode()).isEqualTo(204);
    Instant revoked = Instant.now();

    assertThat(reasonOf(withKey(channelA, key[1])))
        .as("A applies its own change at once")
        .isEqualTo("revoked_key");
    Awaitility.await()
        .atMost(Duration.ofSeconds(1))
        .pollInterval(Duration.ofMillis(20))
        .until(() -> !allowed(withKey(channelB, key[1])));
    assertThat(reasonOf(withKey(channelB, key[1]))).isEqualTo("revoked_key");
    assertThat(Duration.between(revoked, Instant.now())).isLessThan(Duration.ofSeconds(1));
  }

  @Test
  void rotatedThroughInstanceA_newSecretWorksOnBAtOnce_oldOneUntilTheGraceEnds() throws Exception {
    String[] key = issue();
    assertThat(allowed(withKey(channelB, key[1]))).isTrue();

    String second = rotate(key[0], "24h");

    assertThat(allowed(withKey(channelB, second))).as("new secret, first use on B").isTrue();
    assertThat(allowed(withKey(channelB, key[1]))).as("old secret in its grace").isTrue();
    assertThat(upstream(withKey(channelB, second))).containsEntry("x-portcullis-principal", key[0]);

    String third = rotate(key[0], "0s");
    assertThat(allowed(withKey(channelA, third))).isTrue();
    Awaitility.await()
        .atMost(Duration.ofSeconds(1))
        .pollInterval(Duration.ofMillis(20))
        .until(() -> "revoked_key".equals(reasonOf(withKey(channelB, second))));
    assertThat(reasonOf(withKey(channelB, key[1])))
        .as("two rotations ago: forgotten")
        .isEqualTo("unknown_key");
  }

  @Test
  void auditRecords_carryTheKeyId_neverTheSecret() throws Exception {
    String[] key = issue();
    check(
        channelB,
        EnvoyChecks.get("/v1/orders/7").requestId("keys-it-audit-1").header("x-api-key", key[1]));

    Awaitility.await()
        .atMost(Duration.ofSeconds(10))
        .until(
            () ->
                b
                    .auditStore()
                    .query(AuditQuery.builder().principal(key[0]).build())
                    .records()
                    .stream()
                    .anyMatch(r -> r.getDecisionId().equals("keys-it-audit-1")));
    DecisionRecord record =
        b.auditStore().query(AuditQuery.builder().principal(key[0]).build()).records().stream()
            .filter(r -> r.getDecisionId().equals("keys-it-audit-1"))
            .findFirst()
            .orElseThrow();
    assertThat(record.getApiKeyId()).isEqualTo(key[0]);
    assertThat(record.getCredential()).isEqualTo("api_key");
    assertThat(record.getClient()).isEqualTo("acme");
    assertThat(record.getInstance()).isEqualTo("keys-b");
    assertThat(record.toString()).doesNotContain(key[1]).doesNotContain(key[1].substring(17, 60));
  }

  @Test
  void lastUse_isRecordedBehindTheHotPath() throws Exception {
    String[] key = issue();
    assertThat(allowed(withKey(channelB, key[1]))).isTrue();

    Awaitility.await()
        .atMost(Duration.ofSeconds(10))
        .pollInterval(Duration.ofMillis(200))
        .until(
            () -> {
              JsonNode keys = JSON.readTree(admin(a, "GET", "/admin/keys?client=acme", "").body());
              for (JsonNode k : keys.get("keys")) {
                if (k.get("id").asString().equals(key[0])) {
                  return !k.get("last_used_at").isNull();
                }
              }
              return false;
            });
  }

  /**
   * A key instance B has not cached, presented through forward-auth while another connection holds
   * an {@code ACCESS EXCLUSIVE} lock on {@code api_key} (a migration, {@code VACUUM FULL}): 503
   * {@code identity_unavailable} after about a second, not an answer once the lock is gone (which
   * took as long as the lock, up to the driver's 120 s socket timeout).
   */
  @Test
  void uncachedKey_whileTheKeyTableIsLocked_is503IdentityUnavailableWithinAboutASecond()
      throws Exception {
    String[] key = issue(); // through A: B has never looked it up
    Duration lockHeld = Duration.ofSeconds(10);
    try (Connection lock = DriverManager.getConnection(pg.url())) {
      lock.setAutoCommit(false);
      try (Statement st = lock.createStatement()) {
        st.execute("LOCK TABLE api_key IN ACCESS EXCLUSIVE MODE");
      }
      // released from another thread, so that a request waiting for the lock ends too
      CompletableFuture<Void> released =
          CompletableFuture.runAsync(
              () -> {
                try {
                  lock.rollback();
                } catch (SQLException e) {
                  throw new IllegalStateException(e);
                }
              },
              CompletableFuture.delayedExecutor(lockHeld.toMillis(), TimeUnit.MILLISECONDS));
      long start = System.nanoTime();
      HttpResponse<String> r = forwardAuth(b, "/v1/orders/42", key[1]);
      Duration took = Duration.ofNanos(System.nanoTime() - start);
      released.get(30, TimeUnit.SECONDS);

      assertThat(r.statusCode()).as(r.body()).isEqualTo(503);
      assertThat(r.body()).contains("identity_unavailable").doesNotContain(key[1]);
      assertThat(took).as("answered while the lock was held").isLessThan(Duration.ofSeconds(5));
    }
    assertThat(forwardAuth(b, "/v1/orders/42", key[1]).statusCode())
        .as("once the lock is gone; the failure was not cached")
        .isEqualTo(200);
  }

  static HttpResponse<String> forwardAuth(Portcullis p, String path, String apiKey)
      throws Exception {
    return HTTP.send(
        HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + p.forwardAuthPort() + "/check"))
            .header("X-Forwarded-Method", "GET")
            .header("X-Forwarded-Uri", path)
            .header("x-api-key", apiKey)
            .build(),
        HttpResponse.BodyHandlers.ofString());
  }

  // ---- admin APIs -----------------------------------------------------------------------------

  @Test
  void adminHttpApi_requiresTheBearerToken() throws Exception {
    for (String token : new String[] {null, "wrong-token", ADMIN_TOKEN + "x"}) {
      HttpResponse<String> list = admin(a, "GET", "/admin/keys", "", token);
      assertThat(list.statusCode()).isEqualTo(401);
      assertThat(list.headers().firstValue("www-authenticate"))
          .hasValueSatisfying(v -> assertThat(v).startsWith("Bearer"));
      assertThat(admin(a, "POST", "/admin/keys", "{\"client\":\"intruder\"}", token).statusCode())
          .isEqualTo(401);
      assertThat(admin(a, "DELETE", "/admin/keys/AAAAAAAAAAAA", "", token).statusCode())
          .isEqualTo(401);
    }
    HttpResponse<String> ok = admin(a, "GET", "/admin/keys?client=intruder", "");
    assertThat(ok.statusCode()).isEqualTo(200);
    assertThat(JSON.readTree(ok.body()).get("keys").size()).as("nothing issued").isZero();
  }

  @Test
  void adminGrpcService_onTheGrpcListener_requiresTheToken() throws Exception {
    String[] key = issue();
    AdminServiceGrpc.AdminServiceBlockingStub anonymous =
        AdminServiceGrpc.newBlockingStub(channelB);
    Status.Code code;
    try {
      anonymous.listKeys(ListKeysRequest.getDefaultInstance());
      code = Status.Code.OK;
    } catch (StatusRuntimeException e) {
      code = e.getStatus().getCode();
    }
    assertThat(code).isEqualTo(Status.Code.UNAUTHENTICATED);

    Metadata m = new Metadata();
    m.put(
        Metadata.Key.of("authorization", Metadata.ASCII_STRING_MARSHALLER),
        "Bearer " + ADMIN_TOKEN);
    AdminServiceGrpc.AdminServiceBlockingStub admin =
        AdminServiceGrpc.newBlockingStub(channelB)
            .withInterceptors(MetadataUtils.newAttachHeadersInterceptor(m));
    assertThat(admin.listKeys(ListKeysRequest.newBuilder().setClient("acme").build()).getKeysList())
        .anySatisfy(k -> assertThat(k.getId()).isEqualTo(key[0]));
  }

  // ---- introspection --------------------------------------------------------------------------

  @Test
  void opaqueToken_isVerifiedByIntrospection_endToEnd() {
    String token =
        issuer
            .token("intro")
            .claim("client_id", "batch-runner")
            .claim("username", "orders.admin")
            .sign();
    secretsSeen.add(token);
    CheckResponse ok =
        check(channelA, EnvoyChecks.get("/v1/batch").header("authorization", "Bearer " + token));
    assertThat(allowed(ok)).as(ok.toString()).isTrue();
    assertThat(upstream(ok))
        .containsEntry("x-portcullis-credential", "introspection")
        .containsEntry("x-portcullis-principal", "alice")
        .containsEntry("x-portcullis-client", "batch-runner")
        .containsEntry("x-portcullis-segment", "batch");

    String expired =
        issuer.token("intro").expiresAt(Instant.now().minus(Duration.ofMinutes(5))).sign();
    secretsSeen.add(expired);
    CheckResponse inactive =
        check(channelA, EnvoyChecks.get("/v1/batch").header("authorization", "Bearer " + expired));
    assertThat(inactive.getDeniedResponse().getStatus().getCodeValue()).isEqualTo(401);
    assertThat(reasonOf(inactive)).isEqualTo("inactive_token");
  }

  // ---- secrets --------------------------------------------------------------------------------

  /** Runs last: no log event of the whole run (both instances) contains a secret. */
  @Test
  @Order(Integer.MAX_VALUE)
  void noSecretEverAppearsInTheLogs() {
    assertThat(secretsSeen).hasSizeGreaterThan(4);
    assertThat(logs.list).isNotEmpty();
    for (ILoggingEvent e : List.copyOf(logs.list)) {
      String text =
          e.getFormattedMessage()
              + (e.getThrowableProxy() == null ? "" : e.getThrowableProxy().getMessage());
      for (String secret : secretsSeen) {
        assertThat(text).doesNotContain(secret);
      }
    }
  }

  private static String[] issueUnchecked() {
    try {
      return issue();
    } catch (Exception e) {
      throw new IllegalStateException(e);
    }
  }
}
