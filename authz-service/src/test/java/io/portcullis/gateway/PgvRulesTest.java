package io.portcullis.gateway;

import static org.assertj.core.api.Assertions.assertThat;

import com.google.protobuf.Any;
import com.google.protobuf.Duration;
import com.google.protobuf.TypeRegistry;
import io.envoyproxy.envoy.config.cluster.v3.Cluster;
import io.envoyproxy.envoy.config.core.v3.HeaderValue;
import io.envoyproxy.envoy.config.listener.v3.Filter;
import io.envoyproxy.envoy.config.listener.v3.FilterChain;
import io.envoyproxy.envoy.config.listener.v3.Listener;
import io.envoyproxy.envoy.config.route.v3.RateLimit;
import io.envoyproxy.envoy.extensions.filters.http.ext_authz.v3.ExtAuthzPerRoute;
import io.envoyproxy.envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager;
import io.portcullis.gateway.PgvRules.Violation;
import io.portcullis.testing.RepoRoot;
import java.nio.file.Files;
import org.junit.jupiter.api.Test;

/** The validation-rule checker the Envoy configuration tests rely on finds what Envoy would. */
class PgvRulesTest {
  private static final TypeRegistry REGISTRY = EnvoyBootstrapLoader.REGISTRY;

  @Test
  void check_zeroMaxRequestBytesInsideAnAnyParsedFromYaml_reportsGreaterThanZero()
      throws Exception {
    String yaml = Files.readString(RepoRoot.resolve("envoy/envoy-dev.yaml"));
    // The first one is the create-order route's (the filter's own comes later in the file).
    String broken = yaml.replaceFirst("max_request_bytes: 65536", "max_request_bytes: 0");
    assertThat(broken).isNotEqualTo(yaml);

    var violations = PgvRules.check(EnvoyBootstrapLoader.parse(broken, "broken.yaml"), REGISTRY);

    assertThat(violations)
        .singleElement()
        .satisfies(
            v -> {
              assertThat(v.path())
                  .contains("<HttpConnectionManager>")
                  .contains("<ExtAuthzPerRoute>")
                  .endsWith("with_request_body.max_request_bytes");
              assertThat(v.problem()).contains("> 0");
            });
  }

  @Test
  void check_unsetRequiredOneof_reportsIt() {
    var violations = PgvRules.check(ExtAuthzPerRoute.getDefaultInstance(), REGISTRY);

    assertThat(violations)
        .extracting(Violation::toString)
        .containsExactly("ExtAuthzPerRoute.override: one of disabled, check_settings is required");
  }

  @Test
  void check_emptyStringWithMinLength_reportsIt() {
    var rateLimit =
        io.envoyproxy.envoy.extensions.filters.http.ratelimit.v3.RateLimit.newBuilder()
            .setFailureModeDeny(true)
            .build();

    assertThat(PgvRules.check(rateLimit, REGISTRY))
        .extracting(Violation::path)
        .contains("RateLimit.domain", "RateLimit.rate_limit_service");
  }

  @Test
  void check_missingRequiredMessage_reportsIt() {
    var action = RateLimit.Action.MetaData.newBuilder().setDescriptorKey("segment").build();

    assertThat(PgvRules.check(action, REGISTRY))
        .extracting(Violation::toString)
        .containsExactly("MetaData.metadata_key: is required");
  }

  @Test
  void check_zeroDurationWhereGreaterThanZeroIsRequired_reportsIt() {
    var cluster =
        Cluster.newBuilder().setName("c").setConnectTimeout(Duration.getDefaultInstance()).build();

    assertThat(PgvRules.check(cluster, REGISTRY))
        .extracting(Violation::path)
        .containsExactly("Cluster.connect_timeout");
  }

  @Test
  void check_headerNameWithNewline_reportsWellKnownRegex() {
    var header = HeaderValue.newBuilder().setKey("x-a\nb").setValue("v").build();

    assertThat(PgvRules.check(header, REGISTRY))
        .extracting(Violation::path)
        .containsExactly("HeaderValue.key");
  }

  @Test
  void check_deprecatedFieldSet_reportsIt() {
    var hcm =
        HttpConnectionManager.newBuilder()
            .setStatPrefix("x")
            .setAccessLogFlushInterval(Duration.newBuilder().setSeconds(1))
            .build();

    assertThat(PgvRules.check(hcm, REGISTRY))
        .extracting(Violation::toString)
        .contains("HttpConnectionManager.access_log_flush_interval: deprecated field is set");
  }

  @Test
  void check_anyOfUnregisteredType_reportsIt() {
    var listener =
        Listener.newBuilder()
            .setName("l")
            .addFilterChains(
                FilterChain.newBuilder()
                    .addFilters(
                        Filter.newBuilder()
                            .setName("f")
                            .setTypedConfig(Any.pack(Listener.getDefaultInstance()))))
            .build();

    assertThat(PgvRules.check(listener, REGISTRY))
        .extracting(Violation::problem)
        .anyMatch(p -> p.contains("envoy.config.listener.v3.Listener is not in the type registry"));
  }

  @Test
  void check_validPerRouteConfig_reportsNothing() {
    var perRoute = ExtAuthzPerRoute.newBuilder().setDisabled(true).build();

    assertThat(PgvRules.check(perRoute, REGISTRY)).isEmpty();
  }
}
