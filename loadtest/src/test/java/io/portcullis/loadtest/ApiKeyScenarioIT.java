package io.portcullis.loadtest;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The api-key scenario end to end, as the suite runs it: a Portcullis child JVM with the scenario's
 * policy, 1000 keys issued through its admin API, and a short open-loop run whose every answer must
 * be an allow. The child is pinned to one CPU, as {@code --server-cpus N} pins it.
 */
class ApiKeyScenarioIT {
  @TempDir static Path dir;
  private static BenchmarkFixtures fixtures;
  private static ServiceProcess server;

  @BeforeAll
  static void start() throws Exception {
    fixtures = BenchmarkFixtures.start();
    Scenario scenario = new Scenarios(fixtures, "it").apiKey();
    Path logs = Files.createDirectories(dir.resolve("logs"));
    server =
        ServiceProcess.start(
            scenario.name(),
            logs,
            "256m",
            firstAllowedCpu(),
            null,
            scenario.server().args(Files.createDirectories(dir.resolve("server"))));
  }

  /** The first CPU this JVM may run on (a container's cpuset need not include CPU 0). */
  private static String firstAllowedCpu() throws IOException {
    return cpusAllowed(ProcessHandle.current().pid()).split("[,-]")[0];
  }

  private static String cpusAllowed(long pid) throws IOException {
    String status = Files.readString(Path.of("/proc", Long.toString(pid), "status"));
    return status
        .lines()
        .filter(l -> l.startsWith("Cpus_allowed_list:"))
        .map(l -> l.substring(l.indexOf(':') + 1).strip())
        .findFirst()
        .orElseThrow();
  }

  @AfterAll
  static void stop() throws Exception {
    if (server != null) {
      server.close();
    }
    if (fixtures != null) {
      fixtures.close();
    }
  }

  @Test
  void apiKeyScenario_keysIssuedThroughTheAdminApi_everyCheckIsAllowed() throws Exception {
    Scenario scenario = new Scenarios(fixtures, "it").apiKey();
    long okBefore = server.snapshot().okAnswers();
    // a cold server on a shared machine: a low rate and a long wait for the last answers, since
    // what is tested is the answers, not their latency
    try (Target target = scenario.target().create(server, 100, Duration.ofSeconds(2))) {
      RunResult r =
          new OpenLoopDriver(Duration.ZERO, Duration.ofSeconds(2), 1000, Duration.ofSeconds(30))
              .run(target, 100, server);

      assertThat(r.outcomes()).isEqualTo(Map.of("allow", 200L));
      assertThat(r.errors()).isZero();
    }
    assertThat(server.snapshot().okAnswers() - okBefore).isEqualTo(200);
    // the secrets went through the admin API and the Check calls; the server logged none
    assertThat(Files.readString(dir.resolve("logs").resolve("api-key.log"))).doesNotContain("pck_");
  }

  @Test
  void serverCpus_pinsTheChildJvmToThoseCpus() throws Exception {
    assertThat(cpusAllowed(server.pid())).isEqualTo(firstAllowedCpu());
  }

  @Test
  void issue_withAWrongAdminToken_failsWithTheStatusAndNoKey() {
    assertThatThrownBy(() -> AdminKeys.issue(server.adminPort(), "not-the-token", "it", 1))
        .isInstanceOf(IOException.class)
        .hasMessageStartingWith("POST /admin/keys answered 401");
  }
}
