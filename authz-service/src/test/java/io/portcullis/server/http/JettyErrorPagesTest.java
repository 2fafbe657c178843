package io.portcullis.server.http;

import static org.assertj.core.api.Assertions.assertThat;

import io.portcullis.decision.Decision;
import io.portcullis.decision.DecisionPipeline;
import io.portcullis.net.CidrSet;
import io.portcullis.testing.RawHttp;
import io.portcullis.testing.SamplePolicy;
import java.net.InetSocketAddress;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * What Jetty refuses before our handlers run is answered with a fixed problem+json body on both
 * listeners, never Jetty's HTML page that quoted the request URI with its query string.
 */
class JettyErrorPagesTest {
  static final String TARGET = "/check/v1/status?access_token=SECRET123";

  final List<Decision> audited = new ArrayList<>();
  ForwardAuthServer forwardAuth;
  AdminHttpServer admin;

  @BeforeEach
  void start() throws Exception {
    DecisionPipeline pipeline =
        DecisionPipeline.builder().policy(() -> SamplePolicy.POLICY).audit(audited::add).build();
    forwardAuth =
        ForwardAuthServer.builder(new InetSocketAddress("127.0.0.1", 0), pipeline)
            .trustedProxies(CidrSet.parse(List.of("127.0.0.1/32")))
            .build()
            .start();
    admin = AdminHttpServer.builder(new InetSocketAddress("127.0.0.1", 0)).build().start();
  }

  @AfterEach
  void stop() throws Exception {
    forwardAuth.close();
    admin.close();
  }

  static String controlCharacterInHeader() {
    return "GET " + TARGET + " HTTP/1.1\r\nHost: a\r\nX-Bad: a\u0001b\r\n\r\n";
  }

  static String oversizedHeader() {
    return "GET " + TARGET + " HTTP/1.1\r\nHost: a\r\nCookie: " + "c".repeat(400_000) + "\r\n\r\n";
  }

  static String contentLengthAndTransferEncoding() {
    return "POST "
        + TARGET
        + " HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n"
        + "0\r\n\r\n";
  }

  static void assertFixedProblem(RawHttp.Reply r, int status) {
    assertThat(r.status()).isEqualTo(status);
    assertThat(r.header("content-type")).startsWith("application/problem+json");
    assertThat(r.body())
        .startsWith("{\"type\":\"urn:portcullis:error:unreadable_request\"")
        .contains("\"status\":" + status)
        .doesNotContain("SECRET123")
        .doesNotContain("access_token")
        .doesNotContain("<");
    assertThat(r.head()).doesNotContain("SECRET123");
  }

  @Test
  void forwardAuth_controlCharacterInHeader_is400ProblemWithoutTheUri() throws Exception {
    assertFixedProblem(RawHttp.exchange(forwardAuth.port(), controlCharacterInHeader()), 400);
    assertThat(audited).isEmpty();
  }

  @Test
  void forwardAuth_oversizedHeader_is431ProblemWithoutTheUri() throws Exception {
    assertFixedProblem(RawHttp.exchange(forwardAuth.port(), oversizedHeader()), 431);
  }

  @Test
  void forwardAuth_contentLengthAndTransferEncoding_is400ProblemWithoutTheUri() throws Exception {
    assertFixedProblem(
        RawHttp.exchange(forwardAuth.port(), contentLengthAndTransferEncoding()), 400);
  }

  @Test
  void admin_controlCharacterInHeader_is400ProblemWithoutTheUri() throws Exception {
    assertFixedProblem(RawHttp.exchange(admin.port(), controlCharacterInHeader()), 400);
  }

  @Test
  void admin_oversizedHeader_is431ProblemWithoutTheUri() throws Exception {
    assertFixedProblem(RawHttp.exchange(admin.port(), oversizedHeader()), 431);
  }

  @Test
  void admin_contentLengthAndTransferEncoding_is400ProblemWithoutTheUri() throws Exception {
    assertFixedProblem(RawHttp.exchange(admin.port(), contentLengthAndTransferEncoding()), 400);
  }
}
