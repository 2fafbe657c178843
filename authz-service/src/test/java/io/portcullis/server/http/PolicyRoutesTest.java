package io.portcullis.server.http;

import static org.assertj.core.api.Assertions.assertThat;

import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import io.portcullis.config.ReloadResult;
import io.portcullis.identity.IdentityServices;
import io.portcullis.metrics.MetricNames;
import io.portcullis.policy.LivePolicy;
import io.portcullis.policy.LoadResult;
import io.portcullis.policy.PolicyLoader;
import io.portcullis.testing.AdminRequests;
import io.portcullis.testing.FakeClock;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import tools.jackson.databind.JsonNode;
import tools.jackson.databind.json.JsonMapper;

class PolicyRoutesTest {
  private static final String GOOD =
      """
      version: 1
      segments:
        - name: public
          rules:
            - { name: status, paths: ["/v1/status"] }
          limits: [{ name: per-ip, key: [ip], rate: 5/s }]
      """;
  private static final JsonMapper JSON = JsonMapper.builder().build();

  @TempDir Path dir;

  private final FakeClock clock = FakeClock.at("2026-11-22T10:00:00Z");
  private final SimpleMeterRegistry registry = new SimpleMeterRegistry();
  private Path file;
  private LivePolicy live;

  @BeforeEach
  void start() throws IOException {
    file = Files.writeString(dir.resolve("policy.yaml"), GOOD);
    PolicyLoader loader = PolicyLoader.create(IdentityServices.offline(), clock, n -> null);
    live = LivePolicy.start(loader, file, (LoadResult.Loaded) loader.load(file), registry);
  }

  private static JsonNode json(AdminResponse r) {
    return JSON.readTree(r.bodyText());
  }

  @Test
  void status_reportsVersionFileLoadTimeAndNoErrors() {
    AdminResponse r = new PolicyStatusRoute(live).handle(AdminRequests.get("/admin/policy"));

    assertThat(r.status()).isEqualTo(200);
    assertThat(r.contentType()).isEqualTo(AdminResponse.JSON);
    JsonNode body = json(r);
    assertThat(body.get("version").asString()).isEqualTo(live.get().version());
    assertThat(body.get("file").asString()).isEqualTo(file.toString());
    assertThat(body.get("loaded_at").asString()).isEqualTo("2026-11-22T10:00:00Z");
    assertThat(body.get("last_reload_ok").asBoolean()).isTrue();
    assertThat(body.get("errors").isArray()).isTrue();
    assertThat(body.get("errors").size()).isZero();
  }

  @Test
  void reload_validChange_200WithTheNewVersion() throws IOException {
    String before = live.get().version();
    Files.writeString(file, GOOD.replace("/v1/status", "/v1/health"));
    clock.advance(Duration.ofMinutes(5));

    AdminResponse r =
        new PolicyReloadRoute(live, List::of)
            .handle(AdminRequests.post("/admin/policy/reload", ""));

    assertThat(r.status()).isEqualTo(200);
    JsonNode body = json(r);
    assertThat(body.get("version").asString()).isNotEqualTo(before).isEqualTo(live.get().version());
    assertThat(body.get("loaded_at").asString()).isEqualTo("2026-11-22T10:05:00Z");
    assertThat(body.get("last_reload_ok").asBoolean()).isTrue();
    assertThat(reloads("success")).isEqualTo(1.0);
  }

  /**
   * The other files are re-read after the policy, valid or not, and each one's outcome is in the
   * answer; a refused file does not change the status, which is the policy's.
   */
  @Test
  void reload_reportsTheOtherFilesItReread_inThe200AndThe422() throws IOException {
    java.util.concurrent.atomic.AtomicInteger reads =
        new java.util.concurrent.atomic.AtomicInteger();
    PolicyReloadRoute route =
        new PolicyReloadRoute(
            live,
            () -> {
              reads.incrementAndGet();
              return List.of(
                  ReloadResult.ok("geoip_database", "/geo.mmdb: GeoLite2-Country, built x"),
                  ReloadResult.failed(
                      "grpc_tls", "/tls/key.pem: not a key; the running one stays"));
            });

    JsonNode ok = json(route.handle(AdminRequests.post("/admin/policy/reload", "")));
    Files.writeString(file, "version: 1\nsegments: 7\n");
    AdminResponse invalid = route.handle(AdminRequests.post("/admin/policy/reload", ""));

    assertThat(reads).hasValue(2);
    assertThat(ok.get("last_reload_ok").asBoolean()).isTrue();
    assertThat(invalid.status()).isEqualTo(422);
    for (JsonNode body : List.of(ok, json(invalid))) {
      JsonNode reloaded = body.get("reloaded");
      assertThat(reloaded.size()).isEqualTo(2);
      assertThat(reloaded.get(0).get("name").asString()).isEqualTo("geoip_database");
      assertThat(reloaded.get(0).get("ok").asBoolean()).isTrue();
      assertThat(reloaded.get(1).get("name").asString()).isEqualTo("grpc_tls");
      assertThat(reloaded.get(1).get("ok").asBoolean()).isFalse();
      assertThat(reloaded.get(1).get("detail").asString())
          .isEqualTo("/tls/key.pem: not a key; the running one stays");
    }
  }

  @Test
  void reload_invalidChange_422WithEveryErrorAndTheOldPolicyKeepsRunning() throws IOException {
    String before = live.get().version();
    Files.writeString(file, GOOD.replace("paths:", "pathz:").replace("rate: 5/s", "rate: 5/week"));

    AdminResponse r =
        new PolicyReloadRoute(live, List::of)
            .handle(AdminRequests.post("/admin/policy/reload", ""));

    assertThat(r.status()).isEqualTo(422);
    assertThat(r.contentType()).isEqualTo(AdminResponse.PROBLEM_JSON);
    JsonNode body = json(r);
    assertThat(body.get("type").asString()).isEqualTo("urn:portcullis:error:invalid_policy");
    assertThat(body.get("status").asInt()).isEqualTo(422);
    assertThat(body.get("version").asString()).isEqualTo(before);
    assertThat(body.get("last_reload_ok").asBoolean()).isFalse();
    JsonNode errors = body.get("errors");
    assertThat(errors.size()).isEqualTo(3); // pathz unknown, paths missing, bad rate
    JsonNode missing = errors.get(0);
    assertThat(missing.get("file").asString()).isEqualTo(file.toString());
    assertThat(missing.get("line").asInt()).isEqualTo(5);
    assertThat(missing.get("column").asInt()).isEqualTo(9);
    assertThat(missing.get("field").asString()).isEqualTo("segments[0].rules[0].paths");
    assertThat(missing.get("message").asString()).startsWith("is required");
    assertThat(missing.get("severity").asString()).isEqualTo("error");
    assertThat(errors.valueStream().map(e -> e.get("message").asString()))
        .anySatisfy(m -> assertThat(m).contains("unknown key 'pathz'"))
        .anySatisfy(m -> assertThat(m).contains("expected a rate N/s, N/m or N/h"));
    assertThat(live.get().version()).isEqualTo(before);
    assertThat(reloads("error")).isEqualTo(1.0);

    JsonNode status = json(new PolicyStatusRoute(live).handle(AdminRequests.get("/admin/policy")));
    assertThat(status.get("version").asString()).isEqualTo(before);
    assertThat(status.get("last_reload_ok").asBoolean()).isFalse();
    assertThat(status.get("errors").size()).isEqualTo(3);
  }

  private double reloads(String result) {
    return registry
        .get(MetricNames.POLICY_RELOADS)
        .tag(MetricNames.TAG_RESULT, result)
        .counter()
        .count();
  }
}
