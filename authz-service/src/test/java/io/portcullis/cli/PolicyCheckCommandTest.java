package io.portcullis.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@code portcullis policy check}: exit status, and every problem with file:line:column. */
class PolicyCheckCommandTest {
  @TempDir Path dir;

  @Test
  void examplePolicy_isValid_exit0() {
    String policy = Path.of("..", "examples", "policy.yaml").toString();
    CommandRun run = CommandRun.of(new PolicyCommand(), "check", policy);

    assertThat(run.exit()).as(run.err()).isZero();
    assertThat(run.outLines()).last().asString().startsWith(policy + ": valid (version sha256:");
    assertThat(run.err()).isEmpty();
  }

  @Test
  void everyError_namesFileLineColumnAndField_exit1() throws IOException {
    Path policy =
        Files.writeString(
            dir.resolve("policy.yaml"),
            """
            version: 1
            segments:
              - name: a
                rules:
                  - { name: r, methods: [FETCH], paths: ["/v1/**"] }
                limits:
                  - { name: l, key: [ip], rate: 10/x }
            """);
    CommandRun run = CommandRun.of(new PolicyCommand(), "check", policy.toString());

    assertThat(run.exit()).isEqualTo(1);
    assertThat(run.err())
        .contains(policy + ":5:")
        .contains("segments[0].rules[0].methods")
        .contains(policy + ":7:")
        .contains("segments[0].limits[0].rate")
        .contains(policy + ": invalid (2 errors)");
    assertThat(run.out()).isEmpty();
  }
}
