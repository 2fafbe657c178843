package io.portcullis.gateway;

import static org.assertj.core.api.Assertions.assertThat;

import com.google.protobuf.util.Durations;
import io.envoyproxy.envoy.config.cluster.v3.Cluster;
import io.envoyproxy.envoy.config.core.v3.SocketAddress;
import io.envoyproxy.envoy.config.listener.v3.Listener;
import io.envoyproxy.envoy.extensions.filters.http.ext_authz.v3.ExtAuthz;
import io.portcullis.config.RuntimeConfigLoader;
import io.portcullis.limit.RateLimitSettings;
import io.portcullis.testing.RepoRoot;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.snakeyaml.engine.v2.api.Load;
import org.snakeyaml.engine.v2.api.LoadSettings;

/**
 * docker-compose.yml, the Dockerfile and deploy/ fit together and fit envoy/envoy.yaml: every host
 * Envoy's clusters name is a compose service on the right port, Envoy's listener ports are
 * published, every file Portcullis's runtime configuration names is mounted. When the Docker
 * compose plugin is installed, {@code docker compose config -q} validates the file too.
 */
class DockerComposeTest {
  private static final Path ROOT = RepoRoot.path();
  private static final Map<String, String> COMPOSE_ENV =
      Map.of("PORTCULLIS_ADMIN_TOKEN", "test-token", "POSTGRES_PASSWORD", "test-password");

  @Test
  void compose_runsEveryServiceFromPinnedImages_envoyAtTheTestedTag() {
    Map<String, Map<String, Object>> services = services();

    assertThat(services).containsKeys("envoy", "portcullis", "redis", "postgres", "echo");
    assertThat(services.get("envoy").get("image")).isEqualTo(EnvoyIT.ENVOY_IMAGE);
    services.forEach(
        (name, service) -> {
          if (service.get("image") instanceof String image && !service.containsKey("build")) {
            assertThat(image).as(name).matches(".+:[^:]+").doesNotEndWith(":latest");
          }
        });
  }

  @Test
  void everyHostEnvoyConnectsTo_isAComposeServiceOnThatPort() {
    Map<String, Map<String, Object>> services = services();
    EnvoyConfig envoy = EnvoyConfig.load(ROOT.resolve("envoy/envoy.yaml"));

    for (Cluster cluster : envoy.bootstrap().getStaticResources().getClustersList()) {
      for (var endpoints : cluster.getLoadAssignment().getEndpointsList()) {
        for (var lb : endpoints.getLbEndpointsList()) {
          SocketAddress address = lb.getEndpoint().getAddress().getSocketAddress();
          assertThat(services)
              .as("cluster %s", cluster.getName())
              .containsKey(address.getAddress());
          assertThat(exposedPorts(services.get(address.getAddress())))
              .as("cluster %s port", cluster.getName())
              .contains(address.getPortValue());
        }
      }
    }
    int grpcPort =
        Integer.parseInt(
            ((String) path(runtimeConfig(), "server", "grpc", "address")).replaceAll(".*:", ""));
    assertThat(
            envoy
                .cluster("portcullis")
                .orElseThrow()
                .getLoadAssignment()
                .getEndpoints(0)
                .getLbEndpoints(0)
                .getEndpoint()
                .getAddress()
                .getSocketAddress()
                .getPortValue())
        .as("Envoy dials the port Portcullis serves gRPC on")
        .isEqualTo(grpcPort);
  }

  /**
   * Check waits for Redis at most four fifths of its gRPC deadline (Envoy's ext_authz timeout) and
   * then answers by {@code on_backend_failure}; only a Redis call that fails at {@code
   * ratelimit.redis.timeout} opens the circuit. With the timeout at or above that share (the 250 ms
   * default equals envoy.yaml's 250 ms), a Redis answering in between never opens it and every
   * Check waits its full share for as long as Redis stays slow.
   */
  @Test
  void redisTimeout_isUnderTheShareOfTheExtAuthzTimeoutCheckWaitsForRedis() {
    EnvoyConfig envoy = EnvoyConfig.load(ROOT.resolve("envoy/envoy.yaml"));
    Set<Long> extAuthzMillis = new HashSet<>();
    for (EnvoyConfig.Hcm hcm : envoy.authorizing()) {
      extAuthzMillis.add(
          Durations.toMillis(
              hcm.httpFilter(ExtAuthz.class).orElseThrow().config().getGrpcService().getTimeout()));
    }
    RuntimeConfigLoader.Result loaded =
        RuntimeConfigLoader.loadForCommands(
            ROOT.resolve("deploy/portcullis.yaml"), null, name -> null, Set.of("ratelimit"));
    assertThat(loaded).as("%s", loaded).isInstanceOf(RuntimeConfigLoader.Loaded.class);
    RateLimitSettings limits = ((RuntimeConfigLoader.Loaded) loaded).config().ratelimit();

    assertThat(limits.backend()).isEqualTo(RateLimitSettings.Backend.REDIS);
    assertThat(extAuthzMillis).isNotEmpty();
    for (long timeout : extAuthzMillis) {
      assertThat(limits.redis().timeout().toMillis())
          .as("ratelimit.redis.timeout against 4/5 of the ext_authz timeout (%d ms)", timeout)
          .isLessThan(timeout * 4 / 5);
    }
  }

  /**
   * Envoy asks the rate limit service after Check, which has already counted the request against
   * the policy's limits and the partner's daily quota: a descriptor 429 costs quota for a request
   * never delivered. The per-partner descriptor cap must therefore let one API key send all the
   * policy allows it (rate and burst) within the descriptor's window. At 3000 a minute against a
   * per-key 100/s, a partner at that rate had half its requests refused here, all of them counted.
   */
  @Test
  void partnerDescriptorCap_isNotBelowWhatOneKeyMaySendUnderThePolicy() {
    Map<String, Object> perKey = null;
    for (Map<String, Object> segment :
        maps(yaml(ROOT.resolve("deploy/policy.yaml")).get("segments"))) {
      if ("partners".equals(segment.get("name"))) {
        for (Map<String, Object> limit : maps(segment.get("limits"))) {
          if (List.of("api_key").equals(limit.get("key"))) {
            perKey = limit;
          }
        }
      }
    }
    assertThat(perKey).as("partners' per-key rate limit in deploy/policy.yaml").isNotNull();
    String[] rate = ((String) perKey.get("rate")).split("/");
    long rateUnitSeconds =
        switch (rate[1]) {
          case "s" -> 1;
          case "m" -> 60;
          case "h" -> 3600;
          default -> throw new AssertionError("rate unit " + rate[1]);
        };
    double perSecond = Double.parseDouble(rate[0]) / rateUnitSeconds;
    long burst = perKey.get("burst") == null ? 0 : ((Number) perKey.get("burst")).longValue();

    Map<String, Object> cap = null;
    Map<String, Object> rls = yaml(ROOT.resolve("deploy/ratelimit/portcullis.yaml"));
    for (Map<String, Object> d : maps(rls.get("descriptors"))) {
      if ("segment".equals(d.get("key")) && "partners".equals(d.get("value"))) {
        for (Map<String, Object> inner : maps(d.get("descriptors"))) {
          if ("client".equals(inner.get("key"))) {
            @SuppressWarnings("unchecked")
            Map<String, Object> limit = (Map<String, Object>) inner.get("rate_limit");
            cap = limit;
          }
        }
      }
    }
    assertThat(cap).as("the [segment=partners, client] descriptor limit").isNotNull();
    long window =
        switch ((String) cap.get("unit")) {
          case "second" -> 1;
          case "minute" -> 60;
          case "hour" -> 3600;
          case "day" -> 86400;
          default -> throw new AssertionError("unit " + cap.get("unit"));
        };

    assertThat(((Number) cap.get("requests_per_unit")).longValue())
        .as("one key's policy rate over the descriptor's window, plus its burst")
        .isGreaterThanOrEqualTo((long) Math.ceil(perSecond * window) + burst);
  }

  @Test
  void everyEnvoyListener_isPublished_andItsConfigAndCertificatesMounted() {
    Map<String, Object> envoyService = services().get("envoy");
    Set<Integer> published =
        strings(envoyService.get("ports")).stream()
            .map(p -> Integer.parseInt(p.substring(p.lastIndexOf(':') + 1)))
            .collect(Collectors.toSet());
    EnvoyConfig envoy = EnvoyConfig.load(ROOT.resolve("envoy/envoy.yaml"));

    for (Listener listener : envoy.bootstrap().getStaticResources().getListenersList()) {
      assertThat(published)
          .as("listener %s", listener.getName())
          .contains(listener.getAddress().getSocketAddress().getPortValue());
    }
    assertThat(strings(envoyService.get("volumes")))
        .contains(
            "./envoy/envoy.yaml:/etc/envoy/envoy.yaml:ro", "./envoy/certs:/etc/envoy/certs:ro");
    assertThat(strings(envoyService.get("command"))).contains("/etc/envoy/envoy.yaml");
  }

  @Test
  void everyFilePortcullisIsConfiguredWith_isMountedIntoItsContainer(@TempDir Path certs)
      throws Exception {
    DevCertificates.generate(certs);
    Map<String, Object> portcullis = services().get("portcullis");
    List<String> volumes = strings(portcullis.get("volumes"));
    Map<String, Object> config = runtimeConfig();

    assertThat(strings(portcullis.get("command")))
        .containsExactly("serve", "--config", "/etc/portcullis/portcullis.yaml");
    assertThat(hostPath(volumes, "/etc/portcullis/portcullis.yaml"))
        .isEqualTo(ROOT.resolve("deploy/portcullis.yaml"));
    assertThat(hostPath(volumes, (String) path(config, "policy", "file"))).isRegularFile();
    Path rls = hostPath(volumes, (String) path(config, "rls", "config_dir"));
    try (var files = Files.list(rls)) {
      assertThat(files.filter(f -> f.toString().endsWith(".yaml"))).isNotEmpty();
    }
    for (String key : List.of("cert", "key", "client_ca")) {
      Path tls = hostPath(volumes, (String) path(config, "server", "grpc", "tls", key));
      assertThat(tls.getParent()).isEqualTo(ROOT.resolve("envoy/certs"));
      assertThat(certs.resolve(tls.getFileName()))
          .as("make-dev-certs.sh writes %s", tls.getFileName())
          .isRegularFile();
    }
    assertThat(volumes)
        .as("Portcullis gets its own key only, not Envoy's client key or the workloads'")
        .noneMatch(v -> v.startsWith("./envoy/certs:"))
        .filteredOn(v -> v.contains(".key:"))
        .containsExactly(
            "./envoy/certs/portcullis-server.key:/etc/portcullis-tls/portcullis-server.key:ro");
    assertThat(Files.readString(ROOT.resolve("deploy/policy.yaml")))
        .as("the body schema the policy names ships in deploy/")
        .contains("body_schema: schemas/order.json");
    assertThat(ROOT.resolve("deploy/schemas/order.json")).isRegularFile();
  }

  @Test
  void portcullisImage_isMultiStageNonRootAndServesTheMountedConfig() throws IOException {
    assertThat(services().get("portcullis").get("build").toString()).contains("Dockerfile");
    List<String> from =
        Files.readAllLines(ROOT.resolve("Dockerfile")).stream()
            .filter(l -> l.startsWith("FROM "))
            .toList();
    String dockerfile = Files.readString(ROOT.resolve("Dockerfile"));

    assertThat(from).hasSize(2);
    assertThat(from.getLast()).matches("FROM eclipse-temurin:(2[1-9]|[3-9]\\d)-jre");
    assertThat(dockerfile)
        .containsPattern("(?m)^USER 10001:10001$")
        .contains("CMD [\"serve\", \"--config\", \"/etc/portcullis/portcullis.yaml\"]");
    assertThat(Files.readString(ROOT.resolve(".dockerignore"))).contains("envoy/certs/");
  }

  @Test
  void dockerComposeConfig_acceptsTheFile_andRequiresTheSecrets() throws Exception {
    Assumptions.assumeTrue(
        run(List.of("docker", "compose", "version"), Map.of()).exitCode() == 0,
        "docker compose plugin not installed: `docker compose config -q` not run");

    Result ok = run(List.of("docker", "compose", "config", "-q"), COMPOSE_ENV);
    Result missing = run(List.of("docker", "compose", "config", "-q"), Map.of());

    assertThat(ok.exitCode()).as(ok.output()).isZero();
    assertThat(missing.exitCode()).isNotZero();
    assertThat(missing.output()).contains("PORTCULLIS_ADMIN_TOKEN");
  }

  // ---------------------------------------------------------------- helpers

  private record Result(int exitCode, String output) {}

  private static Result run(List<String> command, Map<String, String> env) throws Exception {
    ProcessBuilder pb =
        new ProcessBuilder(command).directory(ROOT.toFile()).redirectErrorStream(true);
    pb.environment().keySet().removeAll(COMPOSE_ENV.keySet());
    pb.environment().putAll(env);
    Process p;
    try {
      p = pb.start();
    } catch (IOException e) {
      return new Result(-1, "cannot start " + command.getFirst() + ": " + e.getMessage());
    }
    if (!p.waitFor(60, TimeUnit.SECONDS)) {
      p.destroyForcibly();
      return new Result(-1, "timed out: " + command);
    }
    return new Result(
        p.exitValue(), new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8));
  }

  @SuppressWarnings("unchecked")
  private static Map<String, Object> yaml(Path file) {
    try {
      return (Map<String, Object>)
          new Load(LoadSettings.builder().setLabel(file.toString()).build())
              .loadFromString(Files.readString(file));
    } catch (IOException e) {
      throw new AssertionError(e);
    }
  }

  @SuppressWarnings("unchecked")
  private static Map<String, Map<String, Object>> services() {
    return (Map<String, Map<String, Object>>)
        yaml(ROOT.resolve("docker-compose.yml")).get("services");
  }

  private static Map<String, Object> runtimeConfig() {
    return yaml(ROOT.resolve("deploy/portcullis.yaml"));
  }

  private static Object path(Map<String, Object> map, String... keys) {
    Object node = map;
    for (String key : keys) {
      assertThat(node).as("%s in %s", key, String.join(".", keys)).isInstanceOf(Map.class);
      node = ((Map<?, ?>) node).get(key);
    }
    assertThat(node).as(String.join(".", keys)).isNotNull();
    return node;
  }

  @SuppressWarnings("unchecked")
  private static List<Map<String, Object>> maps(Object list) {
    assertThat(list).isInstanceOf(List.class);
    return (List<Map<String, Object>>) list;
  }

  private static List<String> strings(Object list) {
    assertThat(list).isInstanceOf(List.class);
    List<String> out = new ArrayList<>();
    for (Object o : (List<?>) list) {
      out.add(String.valueOf(o));
    }
    return out;
  }

  private static Set<Integer> exposedPorts(Map<String, Object> service) {
    Set<Integer> ports = new HashSet<>();
    for (String key : List.of("expose", "ports")) {
      if (service.get(key) != null) {
        strings(service.get(key))
            .forEach(p -> ports.add(Integer.parseInt(p.substring(p.lastIndexOf(':') + 1))));
      }
    }
    return ports;
  }

  /** The host file behind {@code containerPath}, through the service's bind mounts. */
  private static Path hostPath(List<String> volumes, String containerPath) {
    for (String volume : volumes) {
      String[] parts = volume.split(":");
      String source = parts[0];
      String target = parts[1];
      if (source.startsWith("./")
          && (containerPath.equals(target) || containerPath.startsWith(target + "/"))) {
        return ROOT.resolve(source.substring(2))
            .resolve(containerPath.substring(target.length()).replaceFirst("^/", ""))
            .normalize();
      }
    }
    throw new AssertionError(containerPath + " is not under any bind mount of " + volumes);
  }
}
