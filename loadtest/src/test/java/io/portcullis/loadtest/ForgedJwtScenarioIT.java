package io.portcullis.loadtest;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The forged-jwt scenario's premise, end to end: a real token of the bench issuer with one claim
 * added and its original signature is refused as {@code invalid_token}, every time, and never
 * allowed. If the forging ever produced a token that verifies (or one the service cannot even parse
 * as a JWT), the answers would differ and this fails.
 */
class ForgedJwtScenarioIT {
  @TempDir Path dir;

  @Test
  void forgedJwt_everyRequestIsRefusedAsAnInvalidToken_noneAllowed() throws Exception {
    try (BenchmarkFixtures fixtures = BenchmarkFixtures.start()) {
      Scenario scenario = new Scenarios(fixtures, "it").forgedJwt();
      try (ServiceProcess server =
          ServiceProcess.start(
              scenario.name(),
              Files.createDirectories(dir.resolve("logs")),
              "256m",
              "",
              null,
              scenario.server().args(Files.createDirectories(dir.resolve("server"))))) {
        long okBefore = server.snapshot().okAnswers();
        try (Target target = scenario.target().create(server, 100, Duration.ofSeconds(2))) {
          RunResult r =
              new OpenLoopDriver(Duration.ZERO, Duration.ofSeconds(2), 1000, Duration.ofSeconds(30))
                  .run(target, 100, server);

          assertThat(r.outcomes()).isEqualTo(Map.of("invalid_token", 200L));
          assertThat(r.errors()).isZero();
        }
        assertThat(server.snapshot().okAnswers() - okBefore).isZero();
      }
    }
  }
}
