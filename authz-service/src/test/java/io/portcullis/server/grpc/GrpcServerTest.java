package io.portcullis.server.grpc;

import static io.portcullis.testing.TestPolicies.allow;
import static io.portcullis.testing.TestPolicies.segment;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.google.rpc.Code;
import io.envoyproxy.envoy.service.auth.v3.AuthorizationGrpc;
import io.envoyproxy.envoy.service.auth.v3.CheckResponse;
import io.grpc.Grpc;
import io.grpc.InsecureChannelCredentials;
import io.grpc.ManagedChannel;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.TlsChannelCredentials;
import io.grpc.health.v1.HealthCheckRequest;
import io.grpc.health.v1.HealthCheckResponse.ServingStatus;
import io.grpc.health.v1.HealthGrpc;
import io.grpc.reflection.v1.ServerReflectionGrpc;
import io.grpc.reflection.v1.ServerReflectionRequest;
import io.grpc.reflection.v1.ServerReflectionResponse;
import io.grpc.stub.StreamObserver;
import io.portcullis.config.ReloadResult;
import io.portcullis.decision.DecisionPipeline;
import io.portcullis.identity.CredentialChain;
import io.portcullis.identity.CredentialType;
import io.portcullis.identity.Identity;
import io.portcullis.identity.Verification;
import io.portcullis.policy.Policy;
import io.portcullis.testing.EnvoyChecks;
import io.portcullis.testing.FakeClock;
import io.portcullis.testing.LogCapture;
import io.portcullis.testing.TestCertificates;
import io.portcullis.testing.TestPolicies;
import java.net.InetSocketAddress;
import java.nio.file.Path;
import java.time.Duration;
import java.time.InstantSource;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.bouncycastle.asn1.x509.GeneralName;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class GrpcServerTest {
  @TempDir Path tmp;

  final CountDownLatch slowEntered = new CountDownLatch(1);
  final CountDownLatch releaseSlow = new CountDownLatch(1);
  final List<AutoCloseable> cleanup = new ArrayList<>();

  final Policy policy =
      TestPolicies.policy(
          CredentialChain.builder()
              .bearer(
                  token -> {
                    slowEntered.countDown();
                    try {
                      releaseSlow.await(10, TimeUnit.SECONDS);
                    } catch (InterruptedException e) {
                      Thread.currentThread().interrupt();
                    }
                    return Verification.verified(
                        Identity.builder(CredentialType.JWT, "slow").build());
                  })
              .build(),
          segment("all").rule(allow("all", "/**")).build());

  GrpcServer start(GrpcServer.Tls tls) throws Exception {
    return start(tls, 10_000);
  }

  GrpcServer start(GrpcServer.Tls tls, int maxInFlight) throws Exception {
    return start(tls, maxInFlight, b -> {});
  }

  GrpcServer start(
      GrpcServer.Tls tls, int maxInFlight, java.util.function.Consumer<GrpcServer.Builder> more)
      throws Exception {
    DecisionPipeline pipeline = DecisionPipeline.builder().policy(() -> policy).build();
    GrpcServer.Builder b =
        GrpcServer.builder(new InetSocketAddress("127.0.0.1", 0))
            .service(new EnvoyAuthorizationService(pipeline, InstantSource.system()))
            .tls(tls)
            .drainGrace(Duration.ofSeconds(5))
            .maxInFlight(maxInFlight);
    more.accept(b);
    GrpcServer server = b.build().start();
    cleanup.add(server);
    return server;
  }

  ManagedChannel plaintext(GrpcServer server) {
    ManagedChannel ch =
        Grpc.newChannelBuilderForAddress(
                "127.0.0.1", server.port(), InsecureChannelCredentials.create())
            .build();
    cleanup.add(ch::shutdownNow);
    return ch;
  }

  @AfterEach
  void close() throws Exception {
    releaseSlow.countDown();
    for (AutoCloseable c : cleanup.reversed()) {
      c.close();
    }
  }

  @Test
  void health_isNotServingUntilPolicyLoaded_thenServing_thenNotServingOnDrain() throws Exception {
    GrpcServer server = start(null);
    HealthGrpc.HealthBlockingStub health = HealthGrpc.newBlockingStub(plaintext(server));
    HealthCheckRequest authz =
        HealthCheckRequest.newBuilder().setService("envoy.service.auth.v3.Authorization").build();
    assertThat(health.check(authz).getStatus()).isEqualTo(ServingStatus.NOT_SERVING);
    server.markServing();
    assertThat(health.check(authz).getStatus()).isEqualTo(ServingStatus.SERVING);
    assertThat(health.check(HealthCheckRequest.getDefaultInstance()).getStatus())
        .isEqualTo(ServingStatus.SERVING);
  }

  @Test
  void reflection_listsTheAuthorizationService() throws Exception {
    GrpcServer server = start(null);
    ServerReflectionResponse answer =
        askOnce(
            ServerReflectionGrpc.newStub(plaintext(server))::serverReflectionInfo,
            ServerReflectionRequest.newBuilder().setListServices("").build());
    assertThat(answer.getListServicesResponse().getServiceList())
        .extracting(s -> s.getName())
        .contains("envoy.service.auth.v3.Authorization", "grpc.health.v1.Health");
  }

  /**
   * grpcurl before 1.8.8, Postman, older evans and BloomRPC speak only v1alpha reflection: with v1
   * alone they got UNIMPLEMENTED and could neither list nor call anything.
   */
  @Test
  void reflectionV1Alpha_listsTheServices_andDescribesCheck() throws Exception {
    GrpcServer server = start(null);
    ManagedChannel channel = plaintext(server);

    io.grpc.reflection.v1alpha.ServerReflectionResponse list =
        askOnce(
            io.grpc.reflection.v1alpha.ServerReflectionGrpc.newStub(channel)::serverReflectionInfo,
            io.grpc.reflection.v1alpha.ServerReflectionRequest.newBuilder()
                .setListServices("")
                .build());
    io.grpc.reflection.v1alpha.ServerReflectionResponse file =
        askOnce(
            io.grpc.reflection.v1alpha.ServerReflectionGrpc.newStub(channel)::serverReflectionInfo,
            io.grpc.reflection.v1alpha.ServerReflectionRequest.newBuilder()
                .setFileContainingSymbol("envoy.service.auth.v3.Authorization")
                .build());

    assertThat(list.getListServicesResponse().getServiceList())
        .extracting(s -> s.getName())
        .contains(
            "envoy.service.auth.v3.Authorization",
            "grpc.health.v1.Health",
            "grpc.reflection.v1.ServerReflection",
            "grpc.reflection.v1alpha.ServerReflection");
    assertThat(file.getFileDescriptorResponse().getFileDescriptorProtoList())
        .as("the descriptor a tool needs to call Check")
        .anySatisfy(
            bytes ->
                assertThat(
                        com.google.protobuf.DescriptorProtos.FileDescriptorProto.parseFrom(bytes)
                            .getServiceList())
                    .extracting(s -> s.getName())
                    .contains("Authorization"));
  }

  /** Sends one request on a bidirectional stream, closes it, and returns the first answer. */
  private static <Q, A> A askOnce(
      java.util.function.Function<StreamObserver<A>, StreamObserver<Q>> call, Q request)
      throws Exception {
    CompletableFuture<A> answer = new CompletableFuture<>();
    StreamObserver<Q> requests =
        call.apply(
            new StreamObserver<>() {
              @Override
              public void onNext(A r) {
                answer.complete(r);
              }

              @Override
              public void onError(Throwable t) {
                answer.completeExceptionally(t);
              }

              @Override
              public void onCompleted() {}
            });
    requests.onNext(request);
    requests.onCompleted();
    return answer.get(5, TimeUnit.SECONDS);
  }

  @Test
  void check_bodyAndHeaderThatAreNotUtf8_areDecidedOverTheListener() throws Exception {
    GrpcServer server = start(null);
    byte[] binary = {(byte) 0x89, 'P', 'N', 'G', (byte) 0xFF, 0};

    CheckResponse r =
        EnvoyChecks.send(
            plaintext(server),
            EnvoyChecks.request("POST", "/upload")
                .headerBytes("x-note", new byte[] {'c', 'a', 'f', (byte) 0xE9})
                .unpackedBody(binary)
                .build());

    assertThat(r.getStatus().getCode()).isEqualTo(Code.OK_VALUE);
  }

  @Test
  void check_largerThanMaxInboundMessageBytes_isStillRefusedBeforeParsing() throws Exception {
    GrpcServer server = start(null, 10_000, b -> b.maxInboundMessageBytes(1024));
    byte[] binary = new byte[2048];
    binary[0] = (byte) 0xFF;

    assertThatThrownBy(
            () ->
                EnvoyChecks.send(
                    plaintext(server),
                    EnvoyChecks.request("POST", "/upload").unpackedBody(binary).build()))
        .isInstanceOfSatisfying(
            StatusRuntimeException.class,
            e -> assertThat(e.getStatus().getCode()).isEqualTo(Status.Code.RESOURCE_EXHAUSTED));
  }

  @Test
  void shutdown_drainsInFlightCalls_andRefusesNewOnes() throws Exception {
    GrpcServer server = start(null);
    server.markServing();
    ManagedChannel ch = plaintext(server);
    AuthorizationGrpc.AuthorizationFutureStub stub = AuthorizationGrpc.newFutureStub(ch);
    var inFlight = stub.check(EnvoyChecks.get("/x").header("authorization", "Bearer slow").build());
    assertThat(slowEntered.await(5, TimeUnit.SECONDS)).isTrue();

    CompletableFuture<Void> closing = CompletableFuture.runAsync(server::close);
    HealthGrpc.HealthBlockingStub health = HealthGrpc.newBlockingStub(ch);
    org.awaitility.Awaitility.await()
        .atMost(Duration.ofSeconds(5))
        .until(
            () -> {
              try {
                return health.check(HealthCheckRequest.getDefaultInstance()).getStatus()
                    != ServingStatus.SERVING;
              } catch (StatusRuntimeException e) {
                return true;
              }
            });
    assertThatThrownBy(
            () ->
                AuthorizationGrpc.newBlockingStub(ch)
                    .withDeadlineAfter(2, TimeUnit.SECONDS)
                    .check(EnvoyChecks.get("/x").build()))
        .isInstanceOfSatisfying(
            StatusRuntimeException.class,
            e -> assertThat(e.getStatus().getCode()).isEqualTo(Status.Code.UNAVAILABLE));

    releaseSlow.countDown();
    CheckResponse r = inFlight.get(5, TimeUnit.SECONDS);
    assertThat(r.getStatus().getCode()).isEqualTo(Code.OK_VALUE);
    closing.get(5, TimeUnit.SECONDS);
  }

  @Test
  void callsBeyondTheInFlightBound_areRefusedAtOnce_andCountedUntilTheRunningOnesFinish()
      throws Exception {
    GrpcServer server = start(null, 1);
    ManagedChannel ch = plaintext(server);
    var inFlight =
        AuthorizationGrpc.newFutureStub(ch)
            .check(EnvoyChecks.get("/x").header("authorization", "Bearer slow").build());
    assertThat(slowEntered.await(5, TimeUnit.SECONDS)).isTrue();
    assertThatThrownBy(
            () ->
                AuthorizationGrpc.newBlockingStub(ch)
                    .withDeadlineAfter(2, TimeUnit.SECONDS)
                    .check(EnvoyChecks.get("/x").build()))
        .isInstanceOfSatisfying(
            StatusRuntimeException.class,
            e -> assertThat(e.getStatus().getCode()).isEqualTo(Status.Code.RESOURCE_EXHAUSTED));
    assertThat(server.rejectedCalls()).isEqualTo(1);
    assertThat(server.rejectedCalls("in_flight")).isEqualTo(1);
    releaseSlow.countDown();
    assertThat(inFlight.get(5, TimeUnit.SECONDS).getStatus().getCode()).isEqualTo(Code.OK_VALUE);
    org.awaitility.Awaitility.await()
        .atMost(Duration.ofSeconds(5))
        .untilAsserted(
            () ->
                assertThat(
                        AuthorizationGrpc.newBlockingStub(ch)
                            .check(EnvoyChecks.get("/y").build())
                            .getStatus()
                            .getCode())
                    .isEqualTo(Code.OK_VALUE));
  }

  /**
   * The admission clock advances {@code step} nanoseconds at every reading: one reading when the
   * call's headers arrive, one when a thread starts it, so each call "waits" exactly one step.
   */
  final java.util.concurrent.atomic.AtomicLong step = new java.util.concurrent.atomic.AtomicLong();

  final java.util.concurrent.atomic.AtomicLong clock = new java.util.concurrent.atomic.AtomicLong();

  GrpcServer startWithSteppingClock(Duration maxQueueTime) throws Exception {
    return start(
        null,
        10_000,
        b -> b.maxQueueTime(maxQueueTime).nanoTime(() -> clock.addAndGet(step.get())));
  }

  static int checkCode(ManagedChannel ch) {
    return AuthorizationGrpc.newBlockingStub(ch)
        .check(EnvoyChecks.get("/x").build())
        .getStatus()
        .getCode();
  }

  @Test
  void callsThatWaitedLongerThanMaxQueueTime_areRefusedBeforeAnyDecisionWork() throws Exception {
    GrpcServer server = startWithSteppingClock(Duration.ofMillis(200));
    server.markServing();
    ManagedChannel ch = plaintext(server);
    step.set(Duration.ofMillis(1).toNanos());
    assertThat(checkCode(ch)).isEqualTo(Code.OK_VALUE);

    step.set(Duration.ofMillis(300).toNanos());
    assertThatThrownBy(
            () ->
                AuthorizationGrpc.newBlockingStub(ch)
                    .check(EnvoyChecks.get("/x").header("authorization", "Bearer slow").build()))
        .isInstanceOfSatisfying(
            StatusRuntimeException.class,
            e -> {
              assertThat(e.getStatus().getCode()).isEqualTo(Status.Code.RESOURCE_EXHAUSTED);
              assertThat(e.getStatus().getDescription()).contains("waited 300 ms");
            });
    assertThat(slowEntered.getCount()).as("the credential was never looked at").isEqualTo(1);
    assertThat(server.rejectedCalls("queue_time")).isEqualTo(1);
    assertThat(server.rejectedCalls("in_flight")).isZero();

    step.set(Duration.ofMillis(1).toNanos());
    assertThat(checkCode(ch)).isEqualTo(Code.OK_VALUE);
  }

  @Test
  void aCallWithADeadline_isGovernedByItsDeadline_notByMaxQueueTime() throws Exception {
    GrpcServer server = startWithSteppingClock(Duration.ofMillis(200));
    step.set(Duration.ofMillis(300).toNanos());

    CheckResponse r =
        AuthorizationGrpc.newBlockingStub(plaintext(server))
            .withDeadlineAfter(30, TimeUnit.SECONDS)
            .check(EnvoyChecks.get("/x").build());

    assertThat(r.getStatus().getCode()).isEqualTo(Code.OK_VALUE);
    assertThat(server.rejectedCalls()).isZero();
  }

  @Test
  void maxQueueTimeZero_neverRefusesForWaiting() throws Exception {
    GrpcServer server = startWithSteppingClock(Duration.ZERO);
    step.set(Duration.ofSeconds(30).toNanos());

    CheckResponse r =
        AuthorizationGrpc.newBlockingStub(plaintext(server)).check(EnvoyChecks.get("/x").build());

    assertThat(r.getStatus().getCode()).isEqualTo(Code.OK_VALUE);
    assertThat(server.rejectedCalls()).isZero();
  }

  @Test
  void tls_clientTrustingTheCa_isServed() throws Exception {
    TestCertificates certs =
        TestCertificates.create(tmp, "spiffe://prod.example.com/ns/a/sa/envoy");
    GrpcServer server = start(new GrpcServer.Tls(certs.serverCert(), certs.serverKey(), null));
    ManagedChannel ch =
        Grpc.newChannelBuilderForAddress(
                "localhost",
                server.port(),
                TlsChannelCredentials.newBuilder().trustManager(certs.caCert().toFile()).build())
            .build();
    cleanup.add(ch::shutdownNow);
    CheckResponse r = AuthorizationGrpc.newBlockingStub(ch).check(EnvoyChecks.get("/x").build());
    assertThat(r.getStatus().getCode()).isEqualTo(Code.OK_VALUE);
    assertThatThrownBy(
            () ->
                AuthorizationGrpc.newBlockingStub(plaintext(server))
                    .withDeadlineAfter(2, TimeUnit.SECONDS)
                    .check(EnvoyChecks.get("/x").build()))
        .isInstanceOf(StatusRuntimeException.class);
  }

  @Test
  void mtls_requiresAClientCertificateFromTheTrustedCa() throws Exception {
    TestCertificates certs =
        TestCertificates.create(tmp, "spiffe://prod.example.com/ns/a/sa/envoy");
    GrpcServer server =
        start(new GrpcServer.Tls(certs.serverCert(), certs.serverKey(), certs.caCert()));

    ManagedChannel withCert = tlsChannel(server, certs, certs.clientCert(), certs.clientKey());
    assertThat(
            AuthorizationGrpc.newBlockingStub(withCert)
                .check(EnvoyChecks.get("/x").build())
                .getStatus()
                .getCode())
        .isEqualTo(Code.OK_VALUE);

    ManagedChannel noCert = tlsChannel(server, certs, null, null);
    assertThatThrownBy(
            () ->
                AuthorizationGrpc.newBlockingStub(noCert)
                    .withDeadlineAfter(3, TimeUnit.SECONDS)
                    .check(EnvoyChecks.get("/x").build()))
        .isInstanceOf(StatusRuntimeException.class);

    ManagedChannel stranger = tlsChannel(server, certs, certs.strangerCert(), certs.strangerKey());
    assertThatThrownBy(
            () ->
                AuthorizationGrpc.newBlockingStub(stranger)
                    .withDeadlineAfter(3, TimeUnit.SECONDS)
                    .check(EnvoyChecks.get("/x").build()))
        .isInstanceOf(StatusRuntimeException.class);
  }

  @Test
  void tls_withPkcs1RsaAndSec1EcKeys_asCertManagerWritesThem_servesHandshakes() throws Exception {
    TestCertificates certs = TestCertificates.create(tmp, ENVOY);
    TestCertificates.Issued rsa =
        certs.issue(
            "rsa",
            "RSA",
            java.time.Instant.now().minus(Duration.ofHours(1)),
            java.time.Instant.now().plus(Duration.ofDays(1)),
            new GeneralName(GeneralName.dNSName, "localhost"));
    Path pkcs1 = TestCertificates.traditional(rsa.key(), tmp.resolve("rsa-pkcs1.key"));
    GrpcServer rsaServer = start(new GrpcServer.Tls(rsa.cert(), pkcs1, null));
    assertThat(
            AuthorizationGrpc.newBlockingStub(tlsChannel(rsaServer, certs, null, null))
                .check(EnvoyChecks.get("/x").build())
                .getStatus()
                .getCode())
        .isEqualTo(Code.OK_VALUE);

    // mTLS with a SEC1 server key
    Path sec1 = TestCertificates.traditional(certs.serverKey(), tmp.resolve("server-sec1.key"));
    GrpcServer ecServer = start(new GrpcServer.Tls(certs.serverCert(), sec1, certs.caCert()));
    assertThat(
            AuthorizationGrpc.newBlockingStub(
                    tlsChannel(ecServer, certs, certs.clientCert(), certs.clientKey()))
                .check(EnvoyChecks.get("/x").build())
                .getStatus()
                .getCode())
        .isEqualTo(Code.OK_VALUE);
  }

  @Test
  void tlsMaterialThatCannotServe_stopsTheBuild_namingTheFiles() throws Exception {
    TestCertificates certs = TestCertificates.create(tmp, "spiffe://test/envoy");
    assertThatThrownBy(
            () -> start(new GrpcServer.Tls(certs.serverCert(), certs.clientKey(), certs.caCert())))
        .isInstanceOf(TlsMaterial.InvalidException.class)
        .hasMessageContaining(certs.clientKey() + ": the private key does not belong to")
        .hasMessageContaining(certs.serverCert().toString());
  }

  @Test
  void certificateNotAfter_isTheServerCertificates() throws Exception {
    TestCertificates certs = TestCertificates.create(tmp, "spiffe://test/envoy");
    GrpcServer server = start(new GrpcServer.Tls(certs.serverCert(), certs.serverKey(), null));
    assertThat(server.certificateNotAfter())
        .isEqualTo(
            TlsMaterial.read(
                    new GrpcServer.Tls(certs.serverCert(), certs.serverKey(), null),
                    java.time.Instant.now())
                .leaf()
                .getNotAfter()
                .toInstant());
    assertThat(start(null).certificateNotAfter()).isNull();
  }

  static final String ENVOY = "spiffe://prod.example.com/ns/edge/sa/envoy";

  static GeneralName uri(String uri) {
    return new GeneralName(GeneralName.uniformResourceIdentifier, uri);
  }

  static Status.Code code(ManagedChannel ch) {
    try {
      AuthorizationGrpc.newBlockingStub(ch)
          .withDeadlineAfter(5, TimeUnit.SECONDS)
          .check(EnvoyChecks.get("/x").header("authorization", "Bearer slow").build());
      return Status.Code.OK;
    } catch (StatusRuntimeException e) {
      return e.getStatus().getCode();
    }
  }

  @Test
  void allowedClientIds_admitOnlyThoseIds_otherCertificatesOfTheCaAreRefusedBeforeAnyWork()
      throws Exception {
    releaseSlow.countDown(); // the slow credential answers at once; slowEntered tells it was asked
    TestCertificates certs = TestCertificates.create(tmp, ENVOY);
    GrpcServer server =
        start(
            new GrpcServer.Tls(
                certs.serverCert(), certs.serverKey(), certs.caCert(), List.of(ENVOY)));
    server.markServing();
    TestCertificates.Issued billing =
        certs.issue("billing", uri("spiffe://prod.example.com/ns/default/sa/billing"));
    ManagedChannel workload = tlsChannel(server, certs, billing.cert(), billing.key());

    assertThatThrownBy(
            () ->
                AuthorizationGrpc.newBlockingStub(workload)
                    .withDeadlineAfter(5, TimeUnit.SECONDS)
                    .check(EnvoyChecks.get("/x").header("authorization", "Bearer slow").build()))
        .isInstanceOfSatisfying(
            StatusRuntimeException.class,
            e -> {
              assertThat(e.getStatus().getCode()).isEqualTo(Status.Code.PERMISSION_DENIED);
              assertThat(e.getStatus().getDescription()).contains("allowed_client_ids");
            });
    assertThat(slowEntered.getCount()).as("the request was never looked at").isEqualTo(1);
    assertThatThrownBy(
            () ->
                HealthGrpc.newBlockingStub(workload).check(HealthCheckRequest.getDefaultInstance()))
        .as("every service on the listener, health included")
        .isInstanceOf(StatusRuntimeException.class);
    assertThat(server.refusedClients()).isEqualTo(2);

    ManagedChannel envoy = tlsChannel(server, certs, certs.clientCert(), certs.clientKey());
    assertThat(code(envoy)).isEqualTo(Status.Code.OK);
    assertThat(server.refusedClients()).isEqualTo(2);
  }

  @Test
  void allowedClientIds_trailingSlashStar_admitsTheUrisBelowIt_andDnsNamesMatchIgnoringCase()
      throws Exception {
    releaseSlow.countDown();
    TestCertificates certs = TestCertificates.create(tmp, ENVOY);
    GrpcServer server =
        start(
            new GrpcServer.Tls(
                certs.serverCert(),
                certs.serverKey(),
                certs.caCert(),
                List.of("spiffe://prod.example.com/ns/edge/*", "Envoy.Internal")));
    java.util.Map<String, Status.Code> expected = new java.util.LinkedHashMap<>();
    expected.put(ENVOY, Status.Code.OK);
    expected.put("spiffe://prod.example.com/ns/edge", Status.Code.PERMISSION_DENIED);
    expected.put("spiffe://prod.example.com/ns/edge/", Status.Code.PERMISSION_DENIED);
    expected.put("spiffe://prod.example.com/ns/edgeX/sa/envoy", Status.Code.PERMISSION_DENIED);
    expected.put(
        "spiffe://prod.example.com/ns/edge/../default/sa/billing", Status.Code.PERMISSION_DENIED);
    expected.put("spiffe://prod.example.com/ns/edge//sa/x", Status.Code.PERMISSION_DENIED);
    expected.put("spiffe://prod.example.com/ns/default/sa/billing", Status.Code.PERMISSION_DENIED);
    int i = 0;
    for (var e : expected.entrySet()) {
      TestCertificates.Issued c = certs.issue("c" + i++, uri(e.getKey()));
      assertThat(code(tlsChannel(server, certs, c.cert(), c.key())))
          .as(e.getKey())
          .isEqualTo(e.getValue());
    }
    TestCertificates.Issued dns =
        certs.issue("dns", new GeneralName(GeneralName.dNSName, "envoy.internal"));
    assertThat(code(tlsChannel(server, certs, dns.cert(), dns.key()))).isEqualTo(Status.Code.OK);
    TestCertificates.Issued noSan = certs.issue("nosan");
    assertThat(code(tlsChannel(server, certs, noSan.cert(), noSan.key())))
        .isEqualTo(Status.Code.PERMISSION_DENIED);
  }

  @Test
  void aRefusedClient_isLoggedOnceAMinute() throws Exception {
    TestCertificates certs = TestCertificates.create(tmp, ENVOY);
    FakeClock clock = FakeClock.atWallClock(); // the certificates are valid around now
    GrpcServer server =
        start(
            new GrpcServer.Tls(
                certs.serverCert(), certs.serverKey(), certs.caCert(), List.of("spiffe://other")),
            10_000,
            b -> b.clock(clock));
    ManagedChannel envoy = tlsChannel(server, certs, certs.clientCert(), certs.clientKey());
    try (LogCapture logs = LogCapture.of(ClientIdInterceptor.class)) {
      code(envoy);
      clock.advance(Duration.ofSeconds(59));
      code(envoy);
      assertThat(logs.warnings()).singleElement().asString().contains(ENVOY);
      clock.advance(Duration.ofSeconds(1));
      code(envoy);
      assertThat(logs.warnings()).hasSize(2);
    }
    assertThat(server.refusedClients()).isEqualTo(3);
  }

  @Test
  void allowedClientIds_withoutAClientCa_orWithAStarInside_areRefused() {
    assertThatThrownBy(
            () -> new GrpcServer.Tls(tmp.resolve("c"), tmp.resolve("k"), null, List.of(ENVOY)))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("need a client CA");
    assertThatThrownBy(
            () ->
                new GrpcServer.Tls(
                    tmp.resolve("c"),
                    tmp.resolve("k"),
                    tmp.resolve("ca"),
                    List.of("spiffe://x/*/sa")))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("trailing '/*'");
  }

  /** The notAfter of the certificate the server presents to a new connection. */
  static java.time.Instant presentedNotAfter(GrpcServer server) throws Exception {
    javax.net.ssl.SSLContext tls = javax.net.ssl.SSLContext.getInstance("TLS");
    tls.init(
        null,
        new javax.net.ssl.TrustManager[] {
          new javax.net.ssl.X509TrustManager() { // only looks at the certificate
            @Override
            public void checkClientTrusted(java.security.cert.X509Certificate[] c, String a) {}

            @Override
            public void checkServerTrusted(java.security.cert.X509Certificate[] c, String a) {}

            @Override
            public java.security.cert.X509Certificate[] getAcceptedIssuers() {
              return new java.security.cert.X509Certificate[0];
            }
          }
        },
        null);
    try (javax.net.ssl.SSLSocket socket =
        (javax.net.ssl.SSLSocket) tls.getSocketFactory().createSocket("127.0.0.1", server.port())) {
      javax.net.ssl.SSLParameters params = socket.getSSLParameters();
      params.setApplicationProtocols(new String[] {"h2"});
      socket.setSSLParameters(params);
      socket.startHandshake();
      return ((java.security.cert.X509Certificate) socket.getSession().getPeerCertificates()[0])
          .getNotAfter()
          .toInstant();
    }
  }

  @Test
  void reloadTls_servesRenewedFilesToNewConnections_andKeepsTheRunningOnesWhenTheyCannotServe()
      throws Exception {
    java.time.Instant now =
        java.time.Instant.now().truncatedTo(java.time.temporal.ChronoUnit.SECONDS);
    Renewal r = renewal(now);
    TestCertificates.Issued renewed = r.renewed();
    Path cert = java.nio.file.Files.copy(r.first().cert(), tmp.resolve("live.pem"));
    Path key = java.nio.file.Files.copy(r.first().key(), tmp.resolve("live.key"));
    GrpcServer server = start(new GrpcServer.Tls(cert, key, null));
    assertThat(presentedNotAfter(server)).isEqualTo(now.plus(Duration.ofDays(1)));

    java.nio.file.Files.copy(
        renewed.cert(), cert, java.nio.file.StandardCopyOption.REPLACE_EXISTING);
    try (LogCapture logs = LogCapture.of(GrpcServer.class)) {
      ReloadResult refused = server.reloadTls();
      assertThat(refused.ok()).as("the certificate alone: not the key's").isFalse();
      assertThat(refused.name()).isEqualTo("grpc_tls");
      assertThat(refused.detail())
          .as("the answer an admin reload reports")
          .contains(key + ": the private key does not belong to")
          .endsWith(
              "; the running certificate (valid until " + now.plus(Duration.ofDays(1)) + ") stays");
      assertThat(logs.errors())
          .singleElement()
          .asString()
          .contains("the running certificate (valid until " + now.plus(Duration.ofDays(1)))
          .contains(key + ": the private key does not belong to");
    }
    assertThat(presentedNotAfter(server)).isEqualTo(now.plus(Duration.ofDays(1)));

    java.nio.file.Files.copy(renewed.key(), key, java.nio.file.StandardCopyOption.REPLACE_EXISTING);
    ReloadResult served = server.reloadTls();
    assertThat(served.ok()).isTrue();
    assertThat(served.detail())
        .startsWith(cert + ": certificate ")
        .endsWith(" valid until " + now.plus(Duration.ofDays(30)));
    assertThat(presentedNotAfter(server)).isEqualTo(now.plus(Duration.ofDays(30)));
    assertThat(server.certificateNotAfter()).isEqualTo(now.plus(Duration.ofDays(30)));
    assertThat(start(null).reloadTls()).as("nothing to reload without TLS").isNull();
  }

  @Test
  void reloadTlsIfChanged_readsEachNewStateOfTheFilesOnce_untilTheyCanServe() throws Exception {
    java.time.Instant now =
        java.time.Instant.now().truncatedTo(java.time.temporal.ChronoUnit.SECONDS);
    Renewal r = renewal(now);
    TestCertificates.Issued renewed = r.renewed();
    Path cert = java.nio.file.Files.copy(r.first().cert(), tmp.resolve("live.pem"));
    Path key = java.nio.file.Files.copy(r.first().key(), tmp.resolve("live.key"));
    GrpcServer server = start(new GrpcServer.Tls(cert, key, null));
    assertThat(server.reloadTlsIfChanged()).as("nothing changed since start").isFalse();
    assertThat(server.tlsReloads() + server.failedTlsReloads()).isZero();

    // a renewal written file by file: the certificate first (renamed over, a new inode)
    replace(cert, renewed.cert());
    try (LogCapture logs = LogCapture.of(GrpcServer.class)) {
      assertThat(server.reloadTlsIfChanged()).isFalse();
      assertThat(server.reloadTlsIfChanged()).as("the same state is not read again").isFalse();
      assertThat(logs.errors())
          .singleElement()
          .asString()
          .contains(key + ": the private key does not belong to");
    }
    assertThat(server.failedTlsReloads()).isEqualTo(1);
    assertThat(presentedNotAfter(server)).isEqualTo(now.plus(Duration.ofDays(1)));

    replace(key, renewed.key());
    assertThat(server.reloadTlsIfChanged()).isTrue();
    assertThat(presentedNotAfter(server)).isEqualTo(now.plus(Duration.ofDays(30)));
    assertThat(server.reloadTlsIfChanged()).as("served: nothing new").isFalse();
    assertThat(server.tlsReloads()).isEqualTo(1);
    assertThat(server.failedTlsReloads()).isEqualTo(1);
  }

  @Test
  void checkTlsFilesEvery_servesRenewedFiles_withoutBeingAsked() throws Exception {
    TestCertificates certs = TestCertificates.create(tmp, ENVOY);
    java.time.Instant now =
        java.time.Instant.now().truncatedTo(java.time.temporal.ChronoUnit.SECONDS);
    TestCertificates.Issued renewed =
        certs.issue(
            "renewed",
            "EC",
            now.minus(Duration.ofHours(1)),
            now.plus(Duration.ofDays(30)),
            new GeneralName(GeneralName.dNSName, "localhost"));
    Path cert = java.nio.file.Files.copy(certs.serverCert(), tmp.resolve("live.pem"));
    Path key = java.nio.file.Files.copy(certs.serverKey(), tmp.resolve("live.key"));
    GrpcServer server =
        start(
            new GrpcServer.Tls(cert, key, null),
            10_000,
            b -> b.checkTlsFilesEvery(Duration.ofMillis(50)));

    // rewritten in place this time (same inode): a new size or modification time is a change too
    Object inode = java.nio.file.Files.readAttributes(key, "unix:ino").get("ino");
    java.nio.file.Files.write(key, java.nio.file.Files.readAllBytes(renewed.key()));
    java.nio.file.Files.write(cert, java.nio.file.Files.readAllBytes(renewed.cert()));
    assertThat(java.nio.file.Files.readAttributes(key, "unix:ino").get("ino")).isEqualTo(inode);

    org.awaitility.Awaitility.await()
        .atMost(Duration.ofSeconds(10))
        .untilAsserted(
            () -> assertThat(presentedNotAfter(server)).isEqualTo(now.plus(Duration.ofDays(30))));
    assertThat(server.certificateNotAfter()).isEqualTo(now.plus(Duration.ofDays(30)));
  }

  @Test
  void checkTlsFilesEvery_servesARenewalWithPkcs1Keys() throws Exception {
    // cert-manager's default: an RSA key written as PKCS#1, renewed by a secret volume update
    java.time.Instant now =
        java.time.Instant.now().truncatedTo(java.time.temporal.ChronoUnit.SECONDS);
    Renewal r = renewal(now, "RSA");
    Path cert = java.nio.file.Files.copy(r.first().cert(), tmp.resolve("live.pem"));
    Path key = TestCertificates.traditional(r.first().key(), tmp.resolve("live.key"));
    Path renewedKey = TestCertificates.traditional(r.renewed().key(), tmp.resolve("renewed.pk1"));
    assertThat(java.nio.file.Files.readString(renewedKey))
        .startsWith("-----BEGIN RSA PRIVATE KEY-----");
    GrpcServer server =
        start(
            new GrpcServer.Tls(cert, key, null),
            10_000,
            b -> b.checkTlsFilesEvery(Duration.ofMillis(50)));
    assertThat(presentedNotAfter(server)).isEqualTo(now.plus(Duration.ofDays(1)));

    replace(key, renewedKey);
    replace(cert, r.renewed().cert());

    org.awaitility.Awaitility.await()
        .atMost(Duration.ofSeconds(10))
        .untilAsserted(
            () -> assertThat(presentedNotAfter(server)).isEqualTo(now.plus(Duration.ofDays(30))));
    assertThat(server.certificateNotAfter()).isEqualTo(now.plus(Duration.ofDays(30)));
    assertThat(server.tlsReloads()).isOne();
  }

  @Test
  void filesThatCouldNotServe_areReadAgainAMinuteLater_thoughTheyDidNotChange() throws Exception {
    // A renewal whose notBefore is the issuer's "now", on a host whose clock is 30 s behind: it
    // cannot serve yet, and nothing will change the files again before the old one expires.
    java.time.Instant now =
        java.time.Instant.now().truncatedTo(java.time.temporal.ChronoUnit.SECONDS);
    TestCertificates certs = TestCertificates.create(tmp, ENVOY);
    GeneralName localhost = new GeneralName(GeneralName.dNSName, "localhost");
    TestCertificates.Issued early =
        certs.issue(
            "early",
            "EC",
            now.plus(Duration.ofSeconds(30)),
            now.plus(Duration.ofDays(30)),
            localhost);
    FakeClock clock = FakeClock.at(now);
    Path cert = java.nio.file.Files.copy(certs.serverCert(), tmp.resolve("live.pem"));
    Path key = java.nio.file.Files.copy(certs.serverKey(), tmp.resolve("live.key"));
    GrpcServer server = start(new GrpcServer.Tls(cert, key, null), 10_000, b -> b.clock(clock));
    replace(key, early.key());
    replace(cert, early.cert());

    try (LogCapture logs = LogCapture.of(GrpcServer.class)) {
      assertThat(server.reloadTlsIfChanged()).isFalse();
      clock.advance(Duration.ofSeconds(59));
      assertThat(server.reloadTlsIfChanged()).as("not again within the minute").isFalse();
      assertThat(logs.errors()).singleElement().asString().contains("not valid until");
    }
    clock.advance(Duration.ofSeconds(1));
    assertThat(server.reloadTlsIfChanged()).as("read again: valid by now").isTrue();
    assertThat(server.certificateNotAfter()).isEqualTo(now.plus(Duration.ofDays(30)));
    assertThat(server.failedTlsReloads()).isEqualTo(1);
  }

  @Test
  void theFileCheckRunsOnlyWhileTheServerIsListening() throws Exception {
    TestCertificates certs = TestCertificates.create(tmp, ENVOY);
    GrpcServer.Tls tls = new GrpcServer.Tls(certs.serverCert(), certs.serverKey(), null);
    org.awaitility.Awaitility.await() // earlier tests' servers are closed, their checks ending
        .atMost(Duration.ofSeconds(5))
        .untilAsserted(() -> assertThat(tlsWatchers()).isZero());
    GrpcServer server = start(tls, 10_000, b -> b.checkTlsFilesEvery(Duration.ofMillis(50)));
    assertThat(tlsWatchers()).isOne();

    // the same port again: start() fails, and leaves no check running behind it
    GrpcServer.Builder clash =
        GrpcServer.builder(new InetSocketAddress("127.0.0.1", server.port()))
            .tls(tls)
            .checkTlsFilesEvery(Duration.ofMillis(50));
    GrpcServer unstarted = clash.build();
    assertThatThrownBy(unstarted::start).isInstanceOf(java.io.IOException.class);
    assertThat(tlsWatchers()).isOne();

    server.close();
    org.awaitility.Awaitility.await()
        .atMost(Duration.ofSeconds(5))
        .untilAsserted(() -> assertThat(tlsWatchers()).isZero());
  }

  private static long tlsWatchers() {
    return Thread.getAllStackTraces().keySet().stream()
        .filter(t -> t.isAlive() && t.getName().equals("portcullis-tls-watcher"))
        .count();
  }

  /** A server certificate valid for a day, and its renewal valid for 30, for localhost. */
  record Renewal(TestCertificates.Issued first, TestCertificates.Issued renewed) {}

  private Renewal renewal(java.time.Instant now) throws Exception {
    return renewal(now, "EC");
  }

  private Renewal renewal(java.time.Instant now, String keyAlgorithm) throws Exception {
    TestCertificates certs = TestCertificates.create(tmp, ENVOY);
    GeneralName localhost = new GeneralName(GeneralName.dNSName, "localhost");
    return new Renewal(
        certs.issue(
            "first",
            keyAlgorithm,
            now.minus(Duration.ofHours(1)),
            now.plus(Duration.ofDays(1)),
            localhost),
        certs.issue(
            "renewed",
            keyAlgorithm,
            now.minus(Duration.ofHours(1)),
            now.plus(Duration.ofDays(30)),
            localhost));
  }

  /** Replaces {@code target} by a copy of {@code source} the way renewals should: by a rename. */
  private void replace(Path target, Path source) throws java.io.IOException {
    Path next =
        java.nio.file.Files.copy(source, target.resolveSibling(target.getFileName() + ".new"));
    java.nio.file.Files.move(
        next,
        target,
        java.nio.file.StandardCopyOption.REPLACE_EXISTING,
        java.nio.file.StandardCopyOption.ATOMIC_MOVE);
  }

  @Test
  void reloadTls_swapsTheClientCa() throws Exception {
    releaseSlow.countDown();
    TestCertificates certs = TestCertificates.create(tmp.resolve("one"), ENVOY);
    TestCertificates other = TestCertificates.create(tmp.resolve("two"), ENVOY);
    Path ca = java.nio.file.Files.copy(certs.caCert(), tmp.resolve("client-ca.pem"));
    GrpcServer server = start(new GrpcServer.Tls(certs.serverCert(), certs.serverKey(), ca));
    // the client always trusts the server's CA; its own certificate comes from one CA or the other
    ManagedChannel fromOne = tlsChannel(server, certs, certs.clientCert(), certs.clientKey());
    assertThat(code(fromOne)).isEqualTo(Status.Code.OK);
    assertThat(code(tlsChannel(server, certs, other.clientCert(), other.clientKey())))
        .isEqualTo(Status.Code.UNAVAILABLE);

    java.nio.file.Files.copy(other.caCert(), ca, java.nio.file.StandardCopyOption.REPLACE_EXISTING);
    assertThat(server.reloadTls().ok()).isTrue();

    assertThat(code(tlsChannel(server, certs, other.clientCert(), other.clientKey())))
        .isEqualTo(Status.Code.OK);
    assertThat(code(tlsChannel(server, certs, certs.clientCert(), certs.clientKey())))
        .as("a new connection with a certificate of the CA no longer trusted")
        .isEqualTo(Status.Code.UNAVAILABLE);
  }

  private ManagedChannel tlsChannel(GrpcServer server, TestCertificates certs, Path cert, Path key)
      throws Exception {
    TlsChannelCredentials.Builder creds =
        TlsChannelCredentials.newBuilder().trustManager(certs.caCert().toFile());
    if (cert != null) {
      creds.keyManager(cert.toFile(), key.toFile());
    }
    ManagedChannel ch =
        Grpc.newChannelBuilderForAddress("localhost", server.port(), creds.build()).build();
    cleanup.add(ch::shutdownNow);
    return ch;
  }
}
