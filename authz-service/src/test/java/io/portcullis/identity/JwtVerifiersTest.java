package io.portcullis.identity;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatIllegalArgumentException;

import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.net.URI;
import java.time.Duration;
import java.util.List;
import java.util.Set;
import org.jspecify.annotations.Nullable;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/** Compiling issuer configs; no network (key sources fetch lazily). */
class JwtVerifiersTest {
  private final JwtVerifiers registry = JwtVerifiers.create(new SimpleMeterRegistry());

  @AfterEach
  void close() {
    registry.close();
  }

  private static JwtIssuerConfig config(
      String issuer,
      @Nullable String jwks,
      List<String> audiences,
      Set<String> algs,
      Duration skew) {
    return new JwtIssuerConfig(
        "corp",
        URI.create(issuer),
        jwks == null ? null : URI.create(jwks),
        audiences,
        algs,
        skew,
        ClaimMapping.DEFAULT);
  }

  private static JwtIssuerConfig config(String issuer, Set<String> algs) {
    return config(issuer, null, List.of("api"), algs, Duration.ofSeconds(30));
  }

  @Test
  void forIssuers_asymmetricAlgorithmsOverHttps_compiles() {
    JwtVerifier v =
        registry.forIssuers(
            List.of(
                config("https://idp.example.com/realms/main", Set.of("RS256", "ES256", "EdDSA")),
                config("http://127.0.0.1:8080/issuer", Set.of("PS512")),
                config("http://localhost/issuer", Set.of("ES512"))));

    assertThat(v.toString()).isEqualTo("JwtVerifier[corp, corp, corp]");
    assertThat(v.verify("opaque")).isNull();
  }

  @Test
  void forIssuers_symmetricUnsecuredOrUnknownAlgorithm_isRefused() {
    for (String alg : List.of("HS256", "HS384", "HS512", "none", "ES256K", "RS1", "")) {
      assertThatIllegalArgumentException()
          .isThrownBy(
              () -> registry.forIssuers(List.of(config("https://idp.example.com", Set.of(alg)))));
    }
  }

  @Test
  void forIssuers_noAlgorithmsNoAudiencesOrNegativeSkew_isRefused() {
    assertThatIllegalArgumentException()
        .isThrownBy(() -> registry.forIssuers(List.of(config("https://idp.example.com", Set.of()))))
        .withMessageContaining("no algorithm");
    assertThatIllegalArgumentException()
        .isThrownBy(
            () ->
                registry.forIssuers(
                    List.of(
                        config(
                            "https://idp.example.com",
                            null,
                            List.of(),
                            Set.of("RS256"),
                            Duration.ZERO))))
        .withMessageContaining("audience");
    assertThatIllegalArgumentException()
        .isThrownBy(
            () ->
                registry.forIssuers(
                    List.of(
                        config(
                            "https://idp.example.com",
                            null,
                            List.of("api"),
                            Set.of("RS256"),
                            Duration.ofSeconds(-1)))))
        .withMessageContaining("skew");
  }

  @Test
  void forIssuers_plainHttpOffLoopback_isRefused() {
    assertThatIllegalArgumentException()
        .isThrownBy(
            () -> registry.forIssuers(List.of(config("http://idp.example.com", Set.of("RS256")))));
    assertThatIllegalArgumentException()
        .isThrownBy(
            () ->
                registry.forIssuers(
                    List.of(
                        config(
                            "https://idp.example.com",
                            "http://keys.example.com/jwks",
                            List.of("api"),
                            Set.of("RS256"),
                            Duration.ZERO))));
  }

  @Test
  void forIssuers_sameIssuerTwice_isRefused() {
    JwtIssuerConfig c = config("https://idp.example.com", Set.of("RS256"));

    assertThatIllegalArgumentException()
        .isThrownBy(() -> registry.forIssuers(List.of(c, c)))
        .withMessageContaining("twice");
  }

  @Test
  void builder_inconsistentKeyTimings_isRefused() {
    var meters = new SimpleMeterRegistry();
    assertThatIllegalArgumentException()
        .isThrownBy(
            () ->
                JwtVerifiers.builder(meters)
                    .jwksCacheTtl(Duration.ofSeconds(10))
                    .jwksMinRefreshInterval(Duration.ofSeconds(10))
                    .build());
    assertThatIllegalArgumentException()
        .isThrownBy(
            () ->
                JwtVerifiers.builder(meters)
                    .jwksCacheTtl(Duration.ofSeconds(30))
                    .jwksRefreshAhead(Duration.ofSeconds(25))
                    .jwksRefreshTimeout(Duration.ofSeconds(10))
                    .build());
  }

  @Test
  void allowedEndpoint_httpsOrLoopbackHttpOnly() {
    assertThat(JwksFetcher.allowedEndpoint(URI.create("https://idp.example.com/x"))).isTrue();
    assertThat(JwksFetcher.allowedEndpoint(URI.create("http://[::1]:8080/x"))).isTrue();
    assertThat(JwksFetcher.allowedEndpoint(URI.create("http://127.0.0.2/x"))).isTrue();
    assertThat(JwksFetcher.allowedEndpoint(URI.create("http://localhost.evil.com/x"))).isFalse();
    assertThat(JwksFetcher.allowedEndpoint(URI.create("http://10.0.0.1/x"))).isFalse();
    assertThat(JwksFetcher.allowedEndpoint(URI.create("https://u:p@idp.example.com/x"))).isFalse();
    assertThat(JwksFetcher.allowedEndpoint(URI.create("file:///etc/passwd"))).isFalse();
  }
}
