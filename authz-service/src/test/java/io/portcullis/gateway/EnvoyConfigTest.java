package io.portcullis.gateway;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.google.protobuf.Any;
import com.google.protobuf.InvalidProtocolBufferException;
import com.google.protobuf.util.Durations;
import io.envoyproxy.envoy.config.cluster.v3.Cluster;
import io.envoyproxy.envoy.config.cluster.v3.OutlierDetection;
import io.envoyproxy.envoy.config.core.v3.ApiVersion;
import io.envoyproxy.envoy.config.core.v3.GrpcService;
import io.envoyproxy.envoy.config.core.v3.HeaderValueOption;
import io.envoyproxy.envoy.config.core.v3.HttpProtocolOptions.HeadersWithUnderscoresAction;
import io.envoyproxy.envoy.config.core.v3.RetryPolicy;
import io.envoyproxy.envoy.config.core.v3.SocketAddress;
import io.envoyproxy.envoy.config.route.v3.HeaderMatcher;
import io.envoyproxy.envoy.config.route.v3.RateLimit;
import io.envoyproxy.envoy.config.route.v3.Route;
import io.envoyproxy.envoy.config.route.v3.VirtualHost;
import io.envoyproxy.envoy.extensions.access_loggers.file.v3.FileAccessLog;
import io.envoyproxy.envoy.extensions.filters.http.ext_authz.v3.BufferSettings;
import io.envoyproxy.envoy.extensions.filters.http.ext_authz.v3.CheckSettings;
import io.envoyproxy.envoy.extensions.filters.http.ext_authz.v3.ExtAuthz;
import io.envoyproxy.envoy.extensions.filters.http.ext_authz.v3.ExtAuthzPerRoute;
import io.envoyproxy.envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager;
import io.envoyproxy.envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager.PathWithEscapedSlashesAction;
import io.envoyproxy.envoy.extensions.filters.network.http_connection_manager.v3.HttpFilter;
import io.envoyproxy.envoy.extensions.http.early_header_mutation.header_mutation.v3.HeaderMutation;
import io.envoyproxy.envoy.extensions.transport_sockets.tls.v3.CertificateValidationContext;
import io.envoyproxy.envoy.extensions.transport_sockets.tls.v3.DownstreamTlsContext;
import io.envoyproxy.envoy.extensions.transport_sockets.tls.v3.SubjectAltNameMatcher;
import io.envoyproxy.envoy.extensions.transport_sockets.tls.v3.TlsParameters;
import io.envoyproxy.envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext;
import io.envoyproxy.envoy.extensions.upstreams.http.v3.HttpProtocolOptions;
import io.envoyproxy.envoy.type.v3.StatusCode;
import io.portcullis.decision.HeaderNames;
import io.portcullis.gateway.EnvoyConfig.Hcm;
import io.portcullis.gateway.EnvoyConfig.Named;
import io.portcullis.testing.RepoRoot;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.jspecify.annotations.Nullable;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Every {@code envoy/*.yaml} parsed into Envoy's own {@code Bootstrap} proto (unknown fields and
 * unregistered {@code @type}s fail), checked against Envoy's protoc-gen-validate constraints, and
 * then held to the security properties envoy/README.md promises, read from the parsed messages.
 */
class EnvoyConfigTest {
  /** The trusted geo header (spec: {@code geoip.header}'s default); clients must not set it. */
  private static final String GEO_HEADER = "x-geo-country";

  private static final Set<String> PORTCULLIS_UPSTREAM_HEADERS =
      Set.of(
          HeaderNames.PRINCIPAL,
          HeaderNames.SEGMENT,
          HeaderNames.CLIENT,
          HeaderNames.CREDENTIAL,
          HeaderNames.DECISION_ID);

  /** Logging the path with its query string would log API keys and tokens sent there. */
  private static final Pattern PATH_WITH_QUERY =
      Pattern.compile(
          "%REQ\\(\\s*(:PATH|X-ENVOY-ORIGINAL-PATH)[^)]*\\)%|%PATH(\\((?!NQ)[^)]*\\))?%",
          Pattern.CASE_INSENSITIVE);

  private static final Pattern SECRET_HEADER_IN_LOG =
      Pattern.compile("%REQ\\(\\s*(AUTHORIZATION|X-API-KEY|COOKIE)", Pattern.CASE_INSENSITIVE);

  private static final Pattern MODERN_TLS12_CIPHER =
      Pattern.compile("ECDHE-(ECDSA|RSA)-(AES128-GCM-SHA256|AES256-GCM-SHA384|CHACHA20-POLY1305)");

  static List<Path> files() throws IOException {
    List<Path> files;
    try (Stream<Path> s = Files.list(RepoRoot.resolve("envoy"))) {
      files = s.filter(p -> p.getFileName().toString().endsWith(".yaml")).sorted().toList();
    }
    assertThat(files).extracting(p -> p.getFileName().toString()).contains("envoy.yaml");
    return files;
  }

  static Stream<EnvoyConfig> configs() throws IOException {
    return files().stream().map(EnvoyConfig::load);
  }

  private static EnvoyConfig production() {
    return EnvoyConfig.load(RepoRoot.resolve("envoy/envoy.yaml"));
  }

  // ---------------------------------------------------------------- the protos accept the files

  @ParameterizedTest(name = "{0}")
  @MethodSource("files")
  void everyFile_parsesIntoEnvoysBootstrapProto(Path file) throws IOException {
    var bootstrap = EnvoyBootstrapLoader.load(file);

    assertThat(bootstrap.getStaticResources().getListenersList()).isNotEmpty();
    assertThat(bootstrap.getStaticResources().getClustersList()).isNotEmpty();
  }

  @Test
  void parser_rejectsAFieldEnvoyDoesNotKnow() throws IOException {
    String yaml = Files.readString(RepoRoot.resolve("envoy/envoy-dev.yaml"));
    String typo = yaml.replace("failure_mode_allow: false", "failure_mode_alow: false");
    assertThat(typo).isNotEqualTo(yaml);

    assertThatThrownBy(() -> EnvoyBootstrapLoader.parse(typo, "typo.yaml"))
        .isInstanceOf(InvalidProtocolBufferException.class)
        .hasMessageContaining("failure_mode_alow");
  }

  @Test
  void parser_rejectsATypedConfigTypeOutsideTheRegistry() throws IOException {
    String yaml = Files.readString(RepoRoot.resolve("envoy/envoy-dev.yaml"));
    String unknown =
        yaml.replace(
            "envoy.extensions.filters.http.router.v3.Router",
            "envoy.extensions.filters.http.lua.v3.Lua");

    assertThatThrownBy(() -> EnvoyBootstrapLoader.parse(unknown, "lua.yaml"))
        .isInstanceOf(InvalidProtocolBufferException.class)
        .hasMessageContaining("envoy.extensions.filters.http.lua.v3.Lua");
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("configs")
  void everyFile_satisfiesEnvoysValidationRulesAndSetsNoDeprecatedField(EnvoyConfig config) {
    assertThat(PgvRules.check(config.bootstrap(), EnvoyBootstrapLoader.REGISTRY)).isEmpty();
  }

  // ---------------------------------------------------------------- authorization

  @ParameterizedTest(name = "{0}")
  @MethodSource("configs")
  void extAuthz_isFirstFailsClosedWithinBudgetOnV3(EnvoyConfig config) {
    assertThat(config.authorizing()).isNotEmpty();
    for (Hcm hcm : config.authorizing()) {
      Named<ExtAuthz> authz = hcm.httpFilter(ExtAuthz.class).orElseThrow();
      ExtAuthz c = authz.config();

      assertThat(authz.position()).as("%s: ext_authz runs first", hcm.name()).isZero();
      assertThat(authz.name())
          .as("%s: the dynamic metadata namespace is the filter name", hcm.name())
          .isEqualTo(EnvoyConfig.EXT_AUTHZ_FILTER);
      assertThat(c.getFailureModeAllow()).as("%s: fail closed", hcm.name()).isFalse();
      assertThat(c.getStatusOnError().getCode()).isEqualTo(StatusCode.ServiceUnavailable);
      assertThat(c.getTransportApiVersion()).isEqualTo(ApiVersion.V3);
      assertThat(c.hasGrpcService()).isTrue();
      assertThat(c.getGrpcService().hasTimeout()).as("%s: explicit timeout", hcm.name()).isTrue();
      assertThat(Durations.toMillis(c.getGrpcService().getTimeout())).isBetween(50L, 1000L);
      assertThat(c.getIncludePeerCertificate()).isTrue();
      assertThat(c.getIncludeTlsSession()).as("%s include_tls_session", hcm.name()).isTrue();
      assertThat(c.hasChargeClusterResponseStats() && !c.getChargeClusterResponseStats().getValue())
          .as("%s: a deny is not counted as the upstream cluster's response", hcm.name())
          .isTrue();
      assertThat(c.getEmitFilterStateStats())
          .as("%s: the Check latency for the access log", hcm.name())
          .isTrue();
      assertThat(c.getEncodeRawHeaders())
          .as("%s: header values as bytes, not with non-UTF-8 bytes replaced by '!'", hcm.name())
          .isTrue();
      assertThat(c.getClearRouteCache()).isTrue();
      assertThat(c.getValidateMutations()).isTrue();
      assertThat(config.cluster(c.getGrpcService().getEnvoyGrpc().getClusterName())).isPresent();
    }
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("configs")
  void rateLimit_followsExtAuthz_failsClosed_descriptorsFromExtAuthzMetadata(EnvoyConfig config) {
    for (Hcm hcm : config.authorizing()) {
      Named<ExtAuthz> authz = hcm.httpFilter(ExtAuthz.class).orElseThrow();
      var rl =
          hcm.httpFilter(io.envoyproxy.envoy.extensions.filters.http.ratelimit.v3.RateLimit.class)
              .orElseThrow(() -> new AssertionError(hcm.name() + ": no rate limit filter"));

      assertThat(rl.position()).isGreaterThan(authz.position());
      assertThat(rl.config().getFailureModeDeny()).as("%s: RLS fails closed", hcm.name()).isTrue();
      assertThat(rl.config().getRateLimitedAsResourceExhausted())
          .as(
              "%s: a descriptor 429 is RESOURCE_EXHAUSTED for gRPC clients, not UNAVAILABLE",
              hcm.name())
          .isTrue();
      assertThat(rl.config().getDomain()).isEqualTo("portcullis");
      assertThat(rl.config().hasTimeout()).isTrue();
      assertThat(rl.config().getRateLimitService().getTransportApiVersion())
          .isEqualTo(ApiVersion.V3);
      assertThat(rl.config().getRateLimitService().getGrpcService().getEnvoyGrpc().getClusterName())
          .as("the rate limit service is the same Portcullis")
          .isEqualTo(authz.config().getGrpcService().getEnvoyGrpc().getClusterName());

      for (VirtualHost vhost : upstreamVirtualHosts(hcm)) {
        List<String> descriptorKeys = new ArrayList<>();
        for (RateLimit limit : vhost.getRateLimitsList()) {
          for (RateLimit.Action action : limit.getActionsList()) {
            assertThat(action.hasMetadata())
                .as("%s: metadata actions only", vhost.getName())
                .isTrue();
            RateLimit.Action.MetaData md = action.getMetadata();
            assertThat(md.getSource()).isEqualTo(RateLimit.Action.MetaData.Source.DYNAMIC);
            assertThat(md.getMetadataKey().getKey()).isEqualTo(authz.name());
            assertThat(md.getMetadataKey().getPathList())
                .singleElement()
                .satisfies(p -> assertThat(p.getKey()).isEqualTo(md.getDescriptorKey()));
            // A missing client must drop the [segment, client] descriptor, not shrink it to a
            // second [segment] hit.
            assertThat(md.getSkipIfAbsent()).isFalse();
            assertThat(md.getDefaultValue()).isEmpty();
            descriptorKeys.add(md.getDescriptorKey());
          }
        }
        assertThat(descriptorKeys).as(vhost.getName()).contains("segment", "client");
      }
    }
  }

  /**
   * Check counts limits and failed authentications and writes an audit record, and ShouldRateLimit
   * counts descriptors: neither is idempotent. Envoy may retry a call only when it never reached a
   * Portcullis (connection failure, a stream the server refused), once, on another instance. Envoy
   * turns the back-off's max_interval into the per-try timeout, so it must not be below the call's
   * own timeout. An instance that fails twice in a row before answering is ejected, but never more
   * than half of them.
   */
  @ParameterizedTest(name = "{0}")
  @MethodSource("configs")
  void portcullisCalls_retryOnlyWhatNeverReachedPortcullis_andUnreachableInstancesAreEjected(
      EnvoyConfig config) {
    for (Hcm hcm : config.authorizing()) {
      ExtAuthz authz = hcm.httpFilter(ExtAuthz.class).orElseThrow().config();
      var rl =
          hcm.httpFilter(io.envoyproxy.envoy.extensions.filters.http.ratelimit.v3.RateLimit.class)
              .orElseThrow()
              .config();
      Map<String, Long> callTimeouts =
          Map.of(
              "ext_authz", Durations.toMillis(authz.getGrpcService().getTimeout()),
              "ratelimit", Durations.toMillis(rl.getTimeout()));
      Map<String, GrpcService> services =
          Map.of(
              "ext_authz",
              authz.getGrpcService(),
              "ratelimit",
              rl.getRateLimitService().getGrpcService());
      services.forEach(
          (filter, service) -> {
            assertThat(service.hasRetryPolicy())
                .as("%s %s retry_policy", hcm.name(), filter)
                .isTrue();
            RetryPolicy retry = service.getRetryPolicy();
            assertThat(retry.getRetryOn().split(","))
                .as("%s %s: only calls that never reached Portcullis", hcm.name(), filter)
                .containsExactlyInAnyOrder("connect-failure", "refused-stream");
            assertThat(retry.getNumRetries().getValue()).isEqualTo(1);
            assertThat(retry.getRetryHostPredicateList())
                .extracting(RetryPolicy.RetryHostPredicate::getName)
                .containsExactly("envoy.retry_host_predicates.previous_hosts");
            assertThat(Durations.toMillis(retry.getRetryBackOff().getMaxInterval()))
                .as("%s %s: max_interval is also the per-try timeout", hcm.name(), filter)
                .isGreaterThanOrEqualTo(callTimeouts.get(filter));
            assertThat(Durations.toMillis(retry.getRetryBackOff().getBaseInterval()))
                .isLessThan(callTimeouts.get(filter) / 4);
          });

      Cluster portcullis =
          config.cluster(authz.getGrpcService().getEnvoyGrpc().getClusterName()).orElseThrow();
      OutlierDetection outlier = portcullis.getOutlierDetection();
      assertThat(portcullis.hasOutlierDetection()).as("%s outlier_detection", hcm.name()).isTrue();
      assertThat(outlier.getSplitExternalLocalOriginErrors()).isTrue();
      assertThat(outlier.getConsecutiveLocalOriginFailure().getValue()).isEqualTo(2);
      assertThat(outlier.hasBaseEjectionTime()).isTrue();
      assertThat(outlier.getMaxEjectionPercent().getValue()).isBetween(1, 50);
    }
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("configs")
  void clientSentTrustedHeaders_areRemovedBeforeRoutingAndAuthorization(EnvoyConfig config) {
    for (Hcm hcm : config.authorizing()) {
      List<String> removed = new ArrayList<>();
      for (var ext : hcm.config().getEarlyHeaderMutationExtensionsList()) {
        HeaderMutation mutation = EnvoyConfig.unpack(ext.getTypedConfig(), HeaderMutation.class);
        mutation.getMutationsList().forEach(m -> removed.add(m.getRemove()));
      }

      assertThat(removed)
          .as("%s strips before routing", hcm.name())
          .containsAll(PORTCULLIS_UPSTREAM_HEADERS)
          .contains(GEO_HEADER);
      assertThat(hcm.config().getCommonHttpProtocolOptions().getHeadersWithUnderscoresAction())
          .isEqualTo(HeadersWithUnderscoresAction.REJECT_REQUEST);
      // Route-level removal runs in the router, after ext_authz: it would drop Portcullis's own
      // headers, so it must never name them.
      List<String> routerRemoved = new ArrayList<>();
      routerRemoved.addAll(hcm.config().getRouteConfig().getRequestHeadersToRemoveList());
      for (VirtualHost vhost : hcm.virtualHosts()) {
        routerRemoved.addAll(vhost.getRequestHeadersToRemoveList());
        vhost.getRoutesList().forEach(r -> routerRemoved.addAll(r.getRequestHeadersToRemoveList()));
      }
      assertThat(routerRemoved).noneMatch(h -> h.startsWith(HeaderNames.PORTCULLIS_PREFIX));
    }
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("configs")
  void everyConnectionManager_normalizesPathsLikePortcullisAndTrustsOnlyTheTcpPeer(
      EnvoyConfig config) {
    assertThat(config.connectionManagers()).isNotEmpty();
    for (Hcm hcm : config.connectionManagers()) {
      HttpConnectionManager c = hcm.config();
      assertThat(c.getNormalizePath().getValue()).as("%s normalize_path", hcm.name()).isTrue();
      assertThat(c.getMergeSlashes()).as("%s merge_slashes", hcm.name()).isTrue();
      assertThat(c.getPathWithEscapedSlashesAction())
          .isEqualTo(PathWithEscapedSlashesAction.REJECT_REQUEST);
      assertThat(c.getUseRemoteAddress().getValue())
          .as("%s use_remote_address", hcm.name())
          .isTrue();
      assertThat(c.getXffNumTrustedHops()).isZero();
      assertThat(c.getPreserveExternalRequestId())
          .as("%s: x-request-id is minted by Envoy, never the client's", hcm.name())
          .isFalse();
      assertThat(c.hasRequestHeadersTimeout()).isTrue();
    }
  }

  /**
   * Portcullis's {@code require_tls} reads {@code :scheme}. An HTTP/2 client sends its own, which
   * Envoy keeps unless told otherwise, so on a plain-text listener {@code :scheme: https} would
   * pass as TLS: every listener overwrites it with its own transport's.
   */
  @ParameterizedTest(name = "{0}")
  @MethodSource("configs")
  void everyConnectionManager_overwritesTheSchemeWithItsListenersTransport(EnvoyConfig config) {
    for (Hcm hcm : config.connectionManagers()) {
      assertThat(hcm.config().getSchemeHeaderTransformation().getSchemeToOverwrite())
          .as("%s scheme_to_overwrite", hcm.name())
          .isEqualTo(hcm.tls().isPresent() ? "https" : "http");
    }
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("configs")
  void accessLog_recordsDecisionIdSegmentPrincipal_andNeverQueryStringsOrCredentials(
      EnvoyConfig config) {
    for (Hcm hcm : config.authorizing()) {
      Map<String, String> fields = new HashMap<>();
      for (var log : hcm.config().getAccessLogList()) {
        FileAccessLog file = EnvoyConfig.unpack(log.getTypedConfig(), FileAccessLog.class);
        file.getLogFormat()
            .getJsonFormat()
            .getFieldsMap()
            .forEach((k, v) -> fields.put(k, v.getStringValue()));
      }

      assertThat(fields.values())
          .as("%s access log", hcm.name())
          .contains(
              "%DYNAMIC_METADATA(envoy.filters.http.ext_authz:decision_id)%",
              "%DYNAMIC_METADATA(envoy.filters.http.ext_authz:segment)%",
              "%DYNAMIC_METADATA(envoy.filters.http.ext_authz:principal)%",
              "%DYNAMIC_METADATA(envoy.filters.http.ext_authz:reason)%",
              "%FILTER_STATE(envoy.filters.http.ext_authz:FIELD:latency_us)%",
              // a 429 or an unlimited pass during a Redis outage says so
              "%DYNAMIC_METADATA(envoy.filters.http.ratelimit:degraded)%");
      assertThat(fields.values())
          .noneMatch(v -> PATH_WITH_QUERY.matcher(v).find())
          .noneMatch(v -> SECRET_HEADER_IN_LOG.matcher(v).find());
    }
  }

  // ---------------------------------------------------------------- routes

  @ParameterizedTest(name = "{0}")
  @MethodSource("configs")
  void everyRouteAuthorizationStartsFrom_carriesItsEnvironmentAsContext(EnvoyConfig config) {
    for (Hcm hcm : config.authorizing()) {
      for (VirtualHost vhost : upstreamVirtualHosts(hcm)) {
        List<Route> routes = vhost.getRoutesList();
        int firstStart = -1;
        for (int i = 0; i < routes.size(); i++) {
          Route route = routes.get(i);
          if (segmentOf(route) != null) {
            assertThat(firstStart)
                .as(
                    "%s: segment route %s must precede the routes requests start on",
                    vhost.getName(), route.getName())
                .isEqualTo(-1);
            continue;
          }
          if (firstStart < 0) {
            firstStart = i;
          }
          ExtAuthzPerRoute perRoute =
              EnvoyConfig.extAuthzPerRoute(route)
                  .orElseThrow(() -> new AssertionError(route.getName() + ": no ExtAuthzPerRoute"));
          assertThat(perRoute.getDisabled()).isFalse();
          assertThat(perRoute.getCheckSettings().getContextExtensionsMap().get("environment"))
              .as("%s environment", route.getName())
              .isNotBlank();
        }
        Route last = routes.getLast();
        assertThat(last.getMatch().getPrefix())
            .as("%s ends with a catch-all route", vhost.getName())
            .isEqualTo("/");
        assertThat(last.getMatch().getHeadersList()).isEmpty();
      }
    }
  }

  /**
   * Envoy reads {@code pack_as_bytes} from the filter's {@code with_request_body} only, never per
   * route (envoyproxy/envoy#35623): set per route, the body went in the string field {@code body}
   * with every byte that is not UTF-8 replaced by {@code !} (Envoy 1.26+), and {@code body_schema}
   * judged other bytes than the upstream parses. So the filter buffers, with {@code pack_as_bytes},
   * and every route the check starts from either says how it buffers ({@code with_request_body},
   * whose {@code max_request_bytes} and {@code allow_partial_message} Envoy honours per route) or
   * turns buffering off ({@code disable_request_body_buffering}): a route that says neither would
   * silently buffer every request.
   */
  @ParameterizedTest(name = "{0}")
  @MethodSource("configs")
  void requestBodies_areExactBytes_bufferedOnlyOnRoutesThatAskForThem_truncatedFor413(
      EnvoyConfig config) {
    int buffering = 0;
    int notBuffering = 0;
    for (Hcm hcm : config.authorizing()) {
      ExtAuthz authz = hcm.httpFilter(ExtAuthz.class).orElseThrow().config();
      assertThat(authz.hasWithRequestBody())
          .as("%s: pack_as_bytes only works on the filter's with_request_body", hcm.name())
          .isTrue();
      BufferSettings filter = authz.getWithRequestBody();
      assertThat(filter.getPackAsBytes())
          .as("%s: exact bytes (raw_body) for the schema", hcm.name())
          .isTrue();
      assertTruncatesWithinTheStreamBuffer(hcm, hcm.name() + " ext_authz filter", filter);
      for (Route route : checkedRoutes(hcm)) {
        CheckSettings check =
            EnvoyConfig.extAuthzPerRoute(route)
                .orElseThrow(() -> new AssertionError(route.getName() + ": no ExtAuthzPerRoute"))
                .getCheckSettings();
        if (check.getDisableRequestBodyBuffering()) {
          assertThat(check.hasWithRequestBody())
              .as("%s: buffering off, so no body settings", route.getName())
              .isFalse();
          notBuffering++;
          continue;
        }
        assertThat(check.hasWithRequestBody())
            .as(
                "%s: neither with_request_body nor disable_request_body_buffering: it would"
                    + " buffer every request through the filter's settings",
                route.getName())
            .isTrue();
        assertTruncatesWithinTheStreamBuffer(hcm, route.getName(), check.getWithRequestBody());
        assertThat(route.getMatch().getHeadersList())
            .as("%s buffers only for the method whose rule has a body_schema", route.getName())
            .anyMatch(h -> h.getName().equals(":method"));
        buffering++;
      }
    }
    assertThat(buffering).isPositive();
    assertThat(notBuffering).isPositive();
  }

  private static void assertTruncatesWithinTheStreamBuffer(
      Hcm hcm, String where, BufferSettings body) {
    // Truncated and marked x-envoy-auth-partial-body, so Portcullis answers 413 (audited).
    assertThat(body.getAllowPartialMessage()).as("%s allow_partial_message", where).isTrue();
    assertThat(body.getMaxRequestBytes()).as(where).isBetween(1, 1024 * 1024);
    // The stream buffer (defaulting to the connection's limit) must hold what ext_authz
    // buffers, or Envoy answers 413 itself before Portcullis sees the body (unaudited).
    assertThat(hcm.listener().getPerConnectionBufferLimitBytes().getValue())
        .as("%s: per_connection_buffer_limit_bytes of %s", where, hcm.listener().getName())
        .isGreaterThan(body.getMaxRequestBytes());
  }

  /**
   * ext_authz may be turned off only where nothing is forwarded: a route with {@code disabled} must
   * be a {@code direct_response} 404, and no virtual host may turn it off for all its routes (a
   * route added there later would forward unchecked).
   */
  @ParameterizedTest(name = "{0}")
  @MethodSource("configs")
  void extAuthz_isTurnedOffOnlyOnRoutesThatAnswer404Themselves(EnvoyConfig config) {
    for (Hcm hcm : config.authorizing()) {
      for (VirtualHost vhost : hcm.virtualHosts()) {
        Any vhostConfig = vhost.getTypedPerFilterConfigMap().get(EnvoyConfig.EXT_AUTHZ_FILTER);
        if (vhostConfig != null) {
          assertThat(EnvoyConfig.unpack(vhostConfig, ExtAuthzPerRoute.class).getDisabled())
              .as("%s: ext_authz disabled for a whole virtual host", vhost.getName())
              .isFalse();
        }
        for (Route route : vhost.getRoutesList()) {
          if (EnvoyConfig.extAuthzPerRoute(route)
              .map(ExtAuthzPerRoute::getDisabled)
              .orElse(false)) {
            assertThat(route.hasDirectResponse())
                .as("%s skips ext_authz, so it must forward nothing", route.getName())
                .isTrue();
            assertThat(route.getDirectResponse().getStatus()).isEqualTo(404);
          }
        }
      }
    }
  }

  /**
   * A request for a Host no virtual host names (a scanner, {@code Host: <IP address>}) is answered
   * 404 by Envoy without a check: otherwise every such request costs a Check, an audit record and
   * limit counts, only for Envoy to answer 404 after all.
   */
  @ParameterizedTest(name = "{0}")
  @MethodSource("configs")
  void unknownHosts_areAnswered404WithoutAskingPortcullis(EnvoyConfig config) {
    for (Hcm hcm : config.authorizing()) {
      List<VirtualHost> wildcard =
          hcm.virtualHosts().stream().filter(v -> v.getDomainsList().contains("*")).toList();
      assertThat(wildcard).as("%s: a virtual host for every other Host", hcm.name()).hasSize(1);
      VirtualHost catchAll = wildcard.getFirst();
      if (upstreamVirtualHosts(hcm).contains(catchAll)) {
        continue; // the listener serves every Host (mtls_internal, dev): checked like any request
      }
      assertThat(catchAll.getRateLimitsList()).isEmpty();
      assertThat(catchAll.getRoutesList())
          .isNotEmpty()
          .allSatisfy(
              r -> {
                assertThat(r.getDirectResponse().getStatus()).isEqualTo(404);
                assertThat(EnvoyConfig.extAuthzPerRoute(r).orElseThrow().getDisabled()).isTrue();
              });
    }
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("configs")
  void perFilterConfigs_nameConfiguredFilters_andRoutesNameDefinedClusters(EnvoyConfig config) {
    for (Hcm hcm : config.connectionManagers()) {
      Set<String> filterNames =
          Set.copyOf(hcm.config().getHttpFiltersList().stream().map(HttpFilter::getName).toList());
      for (VirtualHost vhost : hcm.virtualHosts()) {
        assertThat(filterNames).containsAll(vhost.getTypedPerFilterConfigMap().keySet());
        for (Route route : vhost.getRoutesList()) {
          assertThat(filterNames)
              .as("%s typed_per_filter_config", route.getName())
              .containsAll(route.getTypedPerFilterConfigMap().keySet());
          if (route.hasRoute()) {
            assertThat(config.cluster(route.getRoute().getCluster()))
                .as("%s cluster %s", route.getName(), route.getRoute().getCluster())
                .isPresent();
          }
        }
      }
    }
  }

  // ---------------------------------------------------------------- production: TLS and mTLS

  @Test
  void production_tlsListeners_requireTls12WithForwardSecretAeadCiphersAndSendHsts() {
    List<Hcm> tls =
        production().connectionManagers().stream().filter(h -> h.tls().isPresent()).toList();
    assertThat(tls).hasSizeGreaterThanOrEqualTo(2);
    for (Hcm hcm : tls) {
      TlsParameters params = hcm.tls().orElseThrow().getCommonTlsContext().getTlsParams();
      assertThat(params.getTlsMinimumProtocolVersion().getNumber())
          .as("%s minimum TLS version", hcm.name())
          .isGreaterThanOrEqualTo(TlsParameters.TlsProtocol.TLSv1_2.getNumber());
      assertThat(params.getCipherSuitesList())
          .isNotEmpty()
          .allMatch(
              c -> MODERN_TLS12_CIPHER.matcher(c).matches(), "ECDHE with AES-GCM or ChaCha20");
      for (VirtualHost vhost : hcm.virtualHosts()) {
        assertThat(hstsMaxAge(vhost.getResponseHeadersToAddList()))
            .as("%s HSTS max-age", vhost.getName())
            .isGreaterThanOrEqualTo(31_536_000L);
      }
    }
  }

  @Test
  void production_plainHttpListener_onlyRedirectsToHttps() {
    List<Hcm> plain =
        production().connectionManagers().stream().filter(h -> h.tls().isEmpty()).toList();
    assertThat(plain).isNotEmpty();
    for (Hcm hcm : plain) {
      assertThat(hcm.routes()).isNotEmpty();
      assertThat(hcm.routes())
          .as("%s routes", hcm.name())
          .allSatisfy(
              r -> {
                assertThat(r.hasRedirect()).isTrue();
                assertThat(r.getRedirect().getHttpsRedirect()).isTrue();
              });
    }
  }

  @Test
  void production_serviceListener_requiresClientCertificatesFromTheTrustDomain() {
    List<DownstreamTlsContext> verifying =
        production().connectionManagers().stream()
            .flatMap(h -> h.tls().stream())
            .filter(t -> t.getCommonTlsContext().hasValidationContext())
            .toList();
    assertThat(verifying).isNotEmpty();
    for (DownstreamTlsContext tls : verifying) {
      assertThat(tls.getRequireClientCertificate().getValue())
          .as("a listener that validates client certificates must require them")
          .isTrue();
      CertificateValidationContext validation = tls.getCommonTlsContext().getValidationContext();
      assertThat(validation.getTrustedCa().getFilename()).isNotBlank();
      assertThat(validation.getMatchTypedSubjectAltNamesList())
          .isNotEmpty()
          .allSatisfy(
              m -> {
                assertThat(m.getSanType()).isEqualTo(SubjectAltNameMatcher.SanType.URI);
                assertThat(m.getMatcher().getPrefix()).startsWith("spiffe://");
              });
    }
  }

  @Test
  void production_portcullisCluster_isHttp2WithMutualTls() {
    EnvoyConfig config = production();
    String name =
        config
            .authorizing()
            .getFirst()
            .httpFilter(ExtAuthz.class)
            .orElseThrow()
            .config()
            .getGrpcService()
            .getEnvoyGrpc()
            .getClusterName();
    Cluster cluster = config.cluster(name).orElseThrow();

    assertThat(cluster.getTransportSocket().getTypedConfig().is(UpstreamTlsContext.class)).isTrue();
    UpstreamTlsContext tls =
        EnvoyConfig.unpack(cluster.getTransportSocket().getTypedConfig(), UpstreamTlsContext.class);
    var common = tls.getCommonTlsContext();
    assertThat(common.getTlsCertificatesList())
        .as("Envoy's client certificate")
        .singleElement()
        .satisfies(
            c -> {
              assertThat(c.getCertificateChain().getFilename()).isNotBlank();
              assertThat(c.getPrivateKey().getFilename()).isNotBlank();
            });
    assertThat(common.getValidationContext().getTrustedCa().getFilename()).isNotBlank();
    assertThat(common.getValidationContext().getMatchTypedSubjectAltNamesList()).isNotEmpty();
    assertThat(common.getTlsParams().getTlsMinimumProtocolVersion().getNumber())
        .isGreaterThanOrEqualTo(TlsParameters.TlsProtocol.TLSv1_2.getNumber());
    assertThat(tls.getSni()).isNotBlank();

    var options =
        cluster
            .getTypedExtensionProtocolOptionsMap()
            .get("envoy.extensions.upstreams.http.v3.HttpProtocolOptions");
    assertThat(options).isNotNull();
    assertThat(
            EnvoyConfig.unpack(options, HttpProtocolOptions.class)
                .getExplicitHttpConfig()
                .hasHttp2ProtocolOptions())
        .isTrue();
  }

  @Test
  void production_segmentRoutes_sendEachSegmentToItsOwnCluster() {
    Map<String, String> clusterBySegment = new HashMap<>();
    for (Hcm hcm : production().authorizing()) {
      for (Route route : hcm.routes()) {
        String segment = segmentOf(route);
        if (segment != null) {
          assertThat(route.getRoute().getCluster()).isEqualTo("segment-" + segment);
          clusterBySegment.put(segment, route.getRoute().getCluster());
        }
      }
    }
    assertThat(clusterBySegment).containsKeys("internal-services", "partners");
    assertThat(Set.copyOf(clusterBySegment.values())).hasSameSizeAs(clusterBySegment.keySet());
  }

  @Test
  void production_stagingHost_neverSharesAClusterWithTheProductionHosts() {
    // The staging segment runs in dry-run: on a shared pool, Host: staging.example.com on the
    // production listener would reach production backends with nothing enforced.
    Set<String> staging = new java.util.HashSet<>();
    Set<String> other = new java.util.HashSet<>();
    for (Hcm hcm : production().authorizing()) {
      for (VirtualHost vhost : hcm.virtualHosts()) {
        boolean isStaging = vhost.getDomainsList().stream().anyMatch(d -> d.startsWith("staging."));
        for (Route route : vhost.getRoutesList()) {
          if (route.hasRoute() && !route.getRoute().getCluster().isEmpty()) {
            (isStaging ? staging : other).add(route.getRoute().getCluster());
          }
        }
      }
    }
    assertThat(staging).containsExactly("staging-upstream");
    assertThat(other).isNotEmpty().doesNotContainAnyElementsOf(staging);
  }

  @Test
  void production_adminInterface_listensOnLoopbackOnly() {
    SocketAddress admin = production().bootstrap().getAdmin().getAddress().getSocketAddress();
    assertThat(admin.getAddress()).isIn("127.0.0.1", "::1");
  }

  // ---------------------------------------------------------------- helpers

  /** Virtual hosts that route to upstreams (not redirect-only). */
  private static List<VirtualHost> upstreamVirtualHosts(Hcm hcm) {
    return hcm.virtualHosts().stream()
        .filter(v -> v.getRoutesList().stream().anyMatch(Route::hasRoute))
        .toList();
  }

  /**
   * The routes ext_authz runs on: every route but the segment routes (which match only after the
   * check) and routes that disable ext_authz.
   */
  private static List<Route> checkedRoutes(Hcm hcm) {
    return hcm.routes().stream()
        .filter(r -> segmentOf(r) == null)
        .filter(
            r -> !EnvoyConfig.extAuthzPerRoute(r).map(ExtAuthzPerRoute::getDisabled).orElse(false))
        .toList();
  }

  /** The segment a route selects by Portcullis's x-portcullis-segment header, or null. */
  private static @Nullable String segmentOf(Route route) {
    for (HeaderMatcher h : route.getMatch().getHeadersList()) {
      if (h.getName().equals(HeaderNames.SEGMENT)) {
        return h.getStringMatch().getExact();
      }
    }
    return null;
  }

  private static final Pattern MAX_AGE = Pattern.compile("max-age=(\\d+)");

  private static long hstsMaxAge(List<HeaderValueOption> headers) {
    for (HeaderValueOption h : headers) {
      if (h.getHeader().getKey().equalsIgnoreCase("strict-transport-security")) {
        Matcher m = MAX_AGE.matcher(h.getHeader().getValue());
        return m.find() ? Long.parseLong(m.group(1)) : 0;
      }
    }
    return 0;
  }
}
