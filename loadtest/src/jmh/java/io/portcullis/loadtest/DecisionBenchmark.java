package io.portcullis.loadtest;

import io.envoyproxy.envoy.service.auth.v3.CheckRequest;
import io.envoyproxy.envoy.service.auth.v3.CheckResponse;
import io.micrometer.prometheusmetrics.PrometheusConfig;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import io.portcullis.decision.Decision;
import io.portcullis.decision.DecisionPipeline;
import io.portcullis.identity.JwtVerifiers;
import io.portcullis.identity.SharedIdentityServices;
import io.portcullis.metrics.DecisionMetrics;
import io.portcullis.policy.LoadResult;
import io.portcullis.policy.Policy;
import io.portcullis.policy.PolicyLoader;
import io.portcullis.request.RequestAttributes;
import io.portcullis.server.grpc.CheckRequests;
import io.portcullis.server.grpc.CheckResponses;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.InstantSource;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Threads;
import org.openjdk.jmh.annotations.Warmup;

/**
 * One decision for a cached JWT against a policy of 20 segments and 200 rules (issue goal: median
 * of at most 5 µs on one core, no per-request regex or reflection). The token is verified once in
 * setup; every measured decision hits the verified-token cache, then walks all 20 segments and all
 * rules of the last one (the worst case for first-match scans), records metrics, and builds the
 * response plan. {@code checkRequestToResponse} adds Envoy's message translation both ways.
 *
 * <p>Run: {@code ./mvnw -Pbench -DskipTests package && java -jar loadtest/target/benchmarks.jar
 * DecisionBenchmark}
 */
@State(Scope.Benchmark)
@BenchmarkMode({Mode.SampleTime})
@OutputTimeUnit(TimeUnit.MICROSECONDS)
@Warmup(iterations = 3, time = 2)
@Measurement(iterations = 5, time = 2)
@Fork(
    value = 1,
    jvmArgsAppend = {"--enable-native-access=ALL-UNNAMED"})
@Threads(1)
public class DecisionBenchmark {
  static final int SEGMENTS = 20;
  static final int RULES_PER_SEGMENT = 10;

  BenchmarkFixtures fixtures;
  JwtVerifiers verifiers;
  DecisionPipeline pipeline;
  RequestAttributes worstCase;
  RequestAttributes firstSegment;
  CheckRequest check;

  @Setup(Level.Trial)
  public void setUp() throws Exception {
    fixtures = BenchmarkFixtures.start();
    Path dir = Files.createTempDirectory("portcullis-bench");
    Path policyFile = fixtures.writePolicy(dir, SEGMENTS, RULES_PER_SEGMENT);
    PrometheusMeterRegistry meters = new PrometheusMeterRegistry(PrometheusConfig.DEFAULT);
    verifiers = JwtVerifiers.builder(meters).build();
    PolicyLoader loader =
        PolicyLoader.create(
            SharedIdentityServices.builder(verifiers).build(), InstantSource.system(), k -> null);
    Policy policy =
        switch (loader.load(policyFile)) {
          case LoadResult.Loaded l -> l.policy();
          case LoadResult.Invalid i -> throw new IllegalStateException(i.errors().toString());
        };
    int rules = policy.segments().stream().mapToInt(s -> s.rules().size()).sum();
    if (policy.segments().size() != SEGMENTS || rules != SEGMENTS * RULES_PER_SEGMENT) {
      throw new IllegalStateException("policy has " + rules + " rules");
    }
    pipeline =
        DecisionPipeline.builder()
            .policy(() -> policy)
            .metrics(new DecisionMetrics(meters))
            .build();
    String last = fixtures.token("bench-user", List.of("team-" + (SEGMENTS - 1)));
    String first = fixtures.token("bench-user", List.of("team-0"));
    worstCase = request(last, "/v1/svc-" + (RULES_PER_SEGMENT - 2) + "/items/42");
    firstSegment = request(first, "/v1/svc-0/items/42");
    check =
        CheckRequest.newBuilder()
            .setAttributes(
                io.envoyproxy.envoy.service.auth.v3.AttributeContext.newBuilder()
                    .setSource(
                        io.envoyproxy.envoy.service.auth.v3.AttributeContext.Peer.newBuilder()
                            .setAddress(
                                io.envoyproxy.envoy.config.core.v3.Address.newBuilder()
                                    .setSocketAddress(
                                        io.envoyproxy.envoy.config.core.v3.SocketAddress
                                            .newBuilder()
                                            .setAddress("203.0.113.7")
                                            .setPortValue(50000))))
                    .setRequest(
                        io.envoyproxy.envoy.service.auth.v3.AttributeContext.Request.newBuilder()
                            .setHttp(
                                io.envoyproxy.envoy.service.auth.v3.AttributeContext.HttpRequest
                                    .newBuilder()
                                    .setId("bench-request-1")
                                    .setMethod("GET")
                                    .setPath(worstCase.path())
                                    .setHost("api.example.com")
                                    .setScheme("https")
                                    .putHeaders(":authority", "api.example.com")
                                    .putHeaders("authorization", "Bearer " + last)
                                    .putHeaders("user-agent", "bench/1.0")
                                    .putHeaders("accept", "application/json"))))
            .build();
    for (RequestAttributes r : List.of(worstCase, firstSegment)) {
      Decision d = pipeline.decide(r);
      if (!(d instanceof Decision.Allow)) {
        throw new IllegalStateException("benchmark request not allowed: " + d);
      }
    }
  }

  private static RequestAttributes request(String token, String path) {
    return RequestAttributes.builder()
        .method("GET")
        .path(path)
        .host("api.example.com")
        .scheme("https")
        .sourceIp("203.0.113.7")
        .header("authorization", "Bearer " + token)
        .header("user-agent", "bench/1.0")
        .header("accept", "application/json")
        .requestId("bench-request-1")
        .build();
  }

  @TearDown(Level.Trial)
  public void tearDown() {
    verifiers.close();
    fixtures.close();
  }

  /** Cached JWT, 20 segments walked, all rules of the last segment scanned. */
  @Benchmark
  public Decision cachedJwt_worstCaseSegmentAndRule() {
    return pipeline.decide(worstCase);
  }

  /** Cached JWT, first segment, first rule. */
  @Benchmark
  public Decision cachedJwt_firstSegment() {
    return pipeline.decide(firstSegment);
  }

  /** The worst case including Envoy CheckRequest → attributes and decision → CheckResponse. */
  @Benchmark
  public CheckResponse checkRequestToResponse() {
    return CheckResponses.toCheckResponse(pipeline.decide(CheckRequests.toAttributes(check, null)));
  }
}
