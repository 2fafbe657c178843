package io.portcullis.service;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import com.google.rpc.Code;
import io.envoyproxy.envoy.service.auth.v3.AuthorizationGrpc;
import io.grpc.Grpc;
import io.grpc.InsecureChannelCredentials;
import io.grpc.ManagedChannel;
import io.grpc.health.v1.HealthCheckRequest;
import io.grpc.health.v1.HealthCheckResponse.ServingStatus;
import io.grpc.health.v1.HealthGrpc;
import io.portcullis.cli.PortcullisCommand;
import io.portcullis.testing.ChildJvm;
import io.portcullis.testing.EnvoyChecks;
import java.net.ConnectException;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code portcullis serve} in a child JVM, stopped with real signals: after SIGTERM it reports
 * draining (gRPC health NOT_SERVING for the server and for the services Envoy checks, {@code
 * /readyz} 503) while every listener keeps answering for {@code server.shutdown_delay}, so that
 * Envoy's health checks take it out of rotation before its ports close; a second signal ends the
 * wait.
 */
class ShutdownIT {
  private static final Duration START = Duration.ofSeconds(60);
  private static final Pattern READY =
      Pattern.compile("Portcullis ready: gRPC (\\d+), forward-auth (\\d+), admin (\\d+)");
  private static final HttpClient HTTP = HttpClient.newHttpClient();

  @TempDir Path dir;

  private record Ports(int grpc, int forwardAuth, int admin) {}

  @Test
  void sigterm_reportsDraining_whileEveryListenerKeepsDeciding_untilTheDelayEnds()
      throws Exception {
    Duration delay = Duration.ofSeconds(8);
    try (ChildJvm child = serve("8s")) {
      Ports ports = ready(child);
      ManagedChannel before = channel(ports.grpc());
      try {
        assertThat(health(before, "")).isEqualTo(ServingStatus.SERVING);

        long sigterm = System.nanoTime();
        child.terminate();
        await("health NOT_SERVING after SIGTERM")
            .atMost(Duration.ofSeconds(5))
            .ignoreExceptions()
            .until(() -> health(before, "") == ServingStatus.NOT_SERVING);

        // what a health checker sees: the server and each service Envoy may name
        for (String service :
            new String[] {
              "",
              "envoy.service.auth.v3.Authorization",
              "envoy.service.ratelimit.v3.RateLimitService"
            }) {
          assertThat(health(before, service))
              .as("health of '%s'", service)
              .isEqualTo(ServingStatus.NOT_SERVING);
        }
        HttpResponse<String> readyz = admin(ports.admin(), "/readyz");
        assertThat(readyz.statusCode()).isEqualTo(503);
        assertThat(readyz.body()).contains("\"draining\"");
        assertThat(admin(ports.admin(), "/healthz").statusCode()).isEqualTo(200);

        // and what traffic still sent here gets: decisions, on open and on new connections
        assertThat(check(before, "/v1/status")).isEqualTo(Code.OK_VALUE);
        assertThat(check(before, "/v1/admin")).isEqualTo(Code.PERMISSION_DENIED_VALUE);
        ManagedChannel fresh = channel(ports.grpc());
        try {
          assertThat(check(fresh, "/v1/status")).isEqualTo(Code.OK_VALUE);
        } finally {
          fresh.shutdownNow();
        }
        assertThat(forwardAuth(ports.forwardAuth(), "/v1/status")).isEqualTo(200);
        assertThat(forwardAuth(ports.forwardAuth(), "/v1/admin")).isEqualTo(403);
        assertThat(Duration.ofNanos(System.nanoTime() - sigterm))
            .as("the checks above ran within the delay")
            .isLessThan(delay);
        child.awaitLineContaining("draining: NOT_SERVING for 8s", START);

        child.awaitLineContaining("draining: gRPC and forward-auth stop accepting", START);
        assertThat(Duration.ofNanos(System.nanoTime() - sigterm))
            .as("the listeners stop accepting only once the delay is over")
            .isGreaterThanOrEqualTo(delay.minusMillis(500));
        assertThat(child.awaitExit(START)).isEqualTo(143); // 128 + SIGTERM
      } finally {
        before.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
      }
      for (int port : new int[] {ports.grpc(), ports.forwardAuth(), ports.admin()}) {
        assertThatThrownBy(
                () -> {
                  try (Socket s = new Socket()) {
                    s.connect(new InetSocketAddress("127.0.0.1", port));
                  }
                })
            .as("port %d after the exit", port)
            .isInstanceOf(ConnectException.class);
      }
    }
  }

  @Test
  void aSecondSigterm_endsTheDelay() throws Exception {
    try (ChildJvm child = serve("60s")) {
      Ports ports = ready(child);
      child.terminate();
      await("/readyz draining after SIGTERM")
          .atMost(Duration.ofSeconds(5))
          .ignoreExceptions()
          .until(() -> admin(ports.admin(), "/readyz").body().contains("\"draining\""));
      child.awaitLineContaining("draining: NOT_SERVING for 60s", START);

      child.terminate();
      assertThat(child.awaitExit(Duration.ofSeconds(30)))
          .as("stopped long before the 60 s delay ends")
          .isEqualTo(143);
      child.awaitLineContaining("draining: wait ended after", START);
      child.awaitLineContaining("Portcullis stopped", START);
    }
  }

  /** Ctrl-C at a terminal: nothing health-checks a developer's instance, so no delay. */
  @Test
  void sigint_stopsWithoutTheDelay() throws Exception {
    try (ChildJvm child = serve("60s")) {
      ready(child);

      child.interrupt();

      assertThat(child.awaitExit(Duration.ofSeconds(30)))
          .as("stopped long before the 60 s delay ends")
          .isEqualTo(130); // 128 + SIGINT
      child.awaitLineContaining("SIGINT received: stopping without the shutdown delay", START);
      child.awaitLineContaining("Portcullis stopped", START);
    }
  }

  /** {@code portcullis serve} with every port 0 and this {@code server.shutdown_delay}. */
  private ChildJvm serve(String shutdownDelay) throws Exception {
    Path policy =
        Files.writeString(
            dir.resolve("policy.yaml"),
            """
            version: 1
            segments:
              - name: public
                rules: [{ name: status, methods: [GET], paths: ["/v1/status"] }]
            """);
    Path config =
        Files.writeString(
            dir.resolve("portcullis.yaml"),
            """
            data_dir: %s
            server:
              shutdown_delay: %s
              grpc: { address: "127.0.0.1:0", drain_grace: 2s }
              http: { address: "127.0.0.1:0" }
              admin: { address: "127.0.0.1:0" }
            policy: { file: %s }
            store: { url: "jdbc:sqlite:%s" }
            """
                .formatted(
                    dir.resolve("data"), shutdownDelay, policy, dir.resolve("portcullis.db")));
    return ChildJvm.start(
        PortcullisCommand.class, dir.resolve("serve.log"), "serve", "--config", config.toString());
  }

  private static Ports ready(ChildJvm child) throws InterruptedException {
    Matcher m = READY.matcher(child.awaitLineContaining("Portcullis ready:", START));
    assertThat(m.find()).isTrue();
    return new Ports(
        Integer.parseInt(m.group(1)), Integer.parseInt(m.group(2)), Integer.parseInt(m.group(3)));
  }

  private static ManagedChannel channel(int port) {
    return Grpc.newChannelBuilderForAddress("127.0.0.1", port, InsecureChannelCredentials.create())
        .build();
  }

  private static ServingStatus health(ManagedChannel channel, String service) {
    return HealthGrpc.newBlockingStub(channel)
        .withDeadlineAfter(5, TimeUnit.SECONDS)
        .check(HealthCheckRequest.newBuilder().setService(service).build())
        .getStatus();
  }

  /** The gRPC status code of the decision on {@code GET path}. */
  private static int check(ManagedChannel channel, String path) {
    return AuthorizationGrpc.newBlockingStub(channel)
        .withDeadlineAfter(5, TimeUnit.SECONDS)
        .check(EnvoyChecks.get(path).build())
        .getStatus()
        .getCode();
  }

  private static HttpResponse<String> admin(int port, String path) throws Exception {
    return HTTP.send(
        HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + path))
            .timeout(Duration.ofSeconds(5))
            .build(),
        HttpResponse.BodyHandlers.ofString());
  }

  private static int forwardAuth(int port, String path) throws Exception {
    return HTTP.send(
            HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + "/check"))
                .header("X-Forwarded-Method", "GET")
                .header("X-Forwarded-Uri", path)
                .timeout(Duration.ofSeconds(5))
                .build(),
            HttpResponse.BodyHandlers.discarding())
        .statusCode();
  }
}
