package io.portcullis.server.http;

import static org.assertj.core.api.Assertions.assertThat;

import io.portcullis.identity.Secret;
import io.portcullis.testing.RawHttp;
import java.net.InetSocketAddress;
import java.util.concurrent.atomic.AtomicBoolean;
import org.jspecify.annotations.Nullable;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

class AdminHttpServerTest {
  AdminHttpServer server;

  AdminHttpServer start(String host, @Nullable Secret token) throws Exception {
    server =
        AdminHttpServer.builder(new InetSocketAddress(host, 0))
            .token(token)
            .metrics(() -> "portcullis_decisions_total 42\n")
            .ready(() -> true)
            .pages(
                new AdminHttpServer.StaticPages() {
                  @Override
                  public boolean serves(String path) {
                    return path.equals("/audit/");
                  }

                  @Override
                  public AdminResponse get(String path) {
                    return AdminResponse.text(200, "text/html", "<html>audit</html>");
                  }
                })
            .build()
            .start();
    return server;
  }

  @AfterEach
  void stop() throws Exception {
    if (server != null) {
      server.close();
    }
  }

  RawHttp.Reply get(String path, String host) throws Exception {
    return RawHttp.exchange(
        server.port(),
        "GET " + path + " HTTP/1.1\r\nHost: " + host + "\r\nConnection: close\r\n\r\n");
  }

  @ParameterizedTest
  @ValueSource(
      strings = {"localhost", "localhost:9193", "LOCALHOST:1", "127.0.0.1", "127.0.0.1:9193"})
  void loopbackBound_loopbackHost_isAnswered(String host) throws Exception {
    start("127.0.0.1", null);
    RawHttp.Reply r = get("/metrics", host);
    assertThat(r.status()).isEqualTo(200);
    assertThat(r.body()).contains("portcullis_decisions_total");
  }

  @Test
  void readyz_is503NotReadyWhileStarting_200WhenReady_and503DrainingOnceShutdownBegins()
      throws Exception {
    AtomicBoolean ready = new AtomicBoolean();
    AtomicBoolean draining = new AtomicBoolean();
    server =
        AdminHttpServer.builder(new InetSocketAddress("127.0.0.1", 0))
            .ready(ready::get)
            .draining(draining::get)
            .build()
            .start();
    assertThat(get("/readyz", "localhost").status()).isEqualTo(503);
    assertThat(get("/readyz", "localhost").body()).isEqualTo("{\"status\":\"not ready\"}");
    ready.set(true);
    assertThat(get("/readyz", "localhost").status()).isEqualTo(200);
    draining.set(true);
    RawHttp.Reply r = get("/readyz", "localhost");
    assertThat(r.status()).isEqualTo(503);
    assertThat(r.body()).isEqualTo("{\"status\":\"draining\"}");
    assertThat(get("/healthz", "localhost").status()).as("the process is up").isEqualTo(200);
  }

  @Test
  void loopbackBound_ipv6LoopbackHost_isAnswered() throws Exception {
    start("127.0.0.1", null);
    assertThat(get("/healthz", "[::1]:9193").status()).isEqualTo(200);
    assertThat(get("/healthz", "[::1]").status()).isEqualTo(200);
    assertThat(get("/healthz", "127.0.0.2").status()).isEqualTo(200);
  }

  @ParameterizedTest
  @ValueSource(
      strings = {
        "rebind.attacker.example",
        "rebind.attacker.example:9193",
        "localhost.attacker.example",
        "127.0.0.1.nip.io",
        "10.0.0.1",
        "[2001:db8::1]:9193",
        "::1"
      })
  void loopbackBound_otherHost_is421_forEveryPath(String host) throws Exception {
    start("127.0.0.1", null);
    for (String path : new String[] {"/metrics", "/healthz", "/readyz", "/audit/", "/admin/keys"}) {
      RawHttp.Reply r = get(path, host);
      assertThat(r.status()).as(path).isEqualTo(421);
      assertThat(r.header("content-type")).isEqualTo("application/problem+json");
      assertThat(r.body())
          .contains("urn:portcullis:error:misdirected_request")
          .doesNotContain("portcullis_decisions_total")
          .doesNotContain("audit</html>");
    }
  }

  @Test
  void wildcardBound_anyHostIsAnswered_theTokenGuardsTheApi() throws Exception {
    // Off loopback the port is reachable from the network, under names only the operator knows.
    start("0.0.0.0", Secret.of("admin-token"));
    assertThat(get("/healthz", "portcullis-admin.internal:9193").status()).isEqualTo(200);
    assertThat(get("/admin/keys", "portcullis-admin.internal").status()).isEqualTo(401);
  }
}
