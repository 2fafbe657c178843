package io.portcullis.service;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.envoyproxy.envoy.extensions.common.ratelimit.v3.RateLimitDescriptor;
import io.envoyproxy.envoy.service.ratelimit.v3.RateLimitRequest;
import io.envoyproxy.envoy.service.ratelimit.v3.RateLimitResponse;
import io.envoyproxy.envoy.service.ratelimit.v3.RateLimitResponse.Code;
import io.envoyproxy.envoy.service.ratelimit.v3.RateLimitServiceGrpc;
import io.grpc.Grpc;
import io.grpc.InsecureChannelCredentials;
import io.grpc.ManagedChannel;
import io.portcullis.Portcullis;
import io.portcullis.config.RuntimeConfig;
import io.portcullis.testing.TestRuntimeConfigs;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import sun.misc.Signal;

/**
 * The whole service serves Envoy's rate limit service on its gRPC port, as interfaces.md lists it:
 * on the embedded defaults (whose {@code ratelimit/} directory may be absent) as well as with a
 * configured directory, which must then exist.
 */
class RateLimitServiceIT {
  @TempDir Path dir;

  static final String POLICY =
      """
      version: 1
      segments:
        - name: public
          rules: [{ name: status, methods: [GET], paths: ["/v1/status"] }]
      """;

  static final String EDGE =
      """
      domain: edge
      descriptors:
        - key: remote_address
          rate_limit: { unit: minute, requests_per_unit: 1 }
      """;

  private RuntimeConfig config(RuntimeConfig.Rls rls) throws Exception {
    Path policy = Files.writeString(dir.resolve("policy.yaml"), POLICY);
    RuntimeConfig c = TestRuntimeConfigs.loopback(dir, policy);
    return new RuntimeConfig(
        c.instance(),
        c.grpc(),
        c.http(),
        c.admin(),
        c.policy(),
        c.storeUrl(),
        c.ratelimit(),
        rls,
        c.audit(),
        c.geoip(),
        c.requestLimits(),
        c.dataDir(),
        c.shutdownDelay());
  }

  private static RateLimitResponse ask(Portcullis service) {
    ManagedChannel channel =
        Grpc.newChannelBuilderForAddress(
                "127.0.0.1", service.grpcPort(), InsecureChannelCredentials.create())
            .build();
    try {
      return RateLimitServiceGrpc.newBlockingStub(channel)
          .shouldRateLimit(
              RateLimitRequest.newBuilder()
                  .setDomain("edge")
                  .addDescriptors(
                      RateLimitDescriptor.newBuilder()
                          .addEntries(
                              RateLimitDescriptor.Entry.newBuilder()
                                  .setKey("remote_address")
                                  .setValue("203.0.113.7")))
                  .build());
    } finally {
      channel.shutdownNow();
    }
  }

  @Test
  void defaultDirectoryAbsent_servesTheApi_andAnswersEveryDescriptorOk() throws Exception {
    RuntimeConfig config = config(new RuntimeConfig.Rls(dir.resolve("ratelimit"), false));
    try (Portcullis service = Portcullis.start(config, name -> null)) {
      RateLimitResponse first = ask(service);
      RateLimitResponse second = ask(service);

      assertThat(first.getOverallCode()).isEqualTo(Code.OK);
      assertThat(second.getOverallCode()).isEqualTo(Code.OK);
      assertThat(second.getStatuses(0).hasCurrentLimit()).isFalse(); // no limit: not counted
    }
  }

  @Test
  void configuredDirectory_limitsByItsFiles() throws Exception {
    Path rls = Files.createDirectories(dir.resolve("rls"));
    Files.writeString(rls.resolve("edge.yaml"), EDGE);
    RuntimeConfig config = config(new RuntimeConfig.Rls(rls, true));
    try (Portcullis service = Portcullis.start(config, name -> null)) {
      RateLimitResponse first = ask(service);

      assertThat(first.getOverallCode()).isEqualTo(Code.OK);
      assertThat(first.getStatuses(0).getCurrentLimit().getRequestsPerUnit()).isEqualTo(1);
      assertThat(first.getStatuses(0).getLimitRemaining()).isZero();
    }
  }

  @Test
  void sighup_reloadsTheDirectory_andABadFileKeepsTheRunningConfiguration() throws Exception {
    Path rls = Files.createDirectories(dir.resolve("rls"));
    Path edge = Files.writeString(rls.resolve("edge.yaml"), EDGE);
    RuntimeConfig config = config(new RuntimeConfig.Rls(rls, true));
    try (Portcullis service = Portcullis.start(config, name -> null)) {
      assertThat(ask(service).getStatuses(0).getCurrentLimit().getRequestsPerUnit()).isEqualTo(1);

      Files.writeString(edge, EDGE.replace("requests_per_unit: 1", "requests_per_unit: 7"));
      Signal.raise(new Signal("HUP"));
      org.awaitility.Awaitility.await()
          .atMost(java.time.Duration.ofSeconds(10))
          .until(() -> ask(service).getStatuses(0).getCurrentLimit().getRequestsPerUnit() == 7);

      Files.writeString(edge, "domain: edge\ndescriptors: 7\n");
      Signal.raise(new Signal("HUP"));
      // the bad file is refused: the limit stays 7 throughout, not only at one instant
      org.awaitility.Awaitility.await()
          .during(java.time.Duration.ofMillis(500))
          .atMost(java.time.Duration.ofSeconds(2))
          .until(() -> ask(service).getStatuses(0).getCurrentLimit().getRequestsPerUnit() == 7);
    }
  }

  @Test
  void configuredDirectoryMissing_isAStartupErrorNamingIt() throws Exception {
    RuntimeConfig config = config(new RuntimeConfig.Rls(dir.resolve("no-such-dir"), true));

    assertThatThrownBy(() -> Portcullis.start(config, name -> null).close())
        .isInstanceOf(Portcullis.StartupException.class)
        .hasMessageContaining("rls.config_dir")
        .hasMessageContaining("no-such-dir");
  }
}
