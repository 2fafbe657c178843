package io.portcullis.cli;

import static org.assertj.core.api.Assertions.assertThat;

import io.portcullis.testing.FakeClock;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class PolicyTestCommandTest {
  private static final String POLICY = Path.of("..", "examples", "policy.yaml").toString();

  @TempDir Path dir;

  private static PolicyTestCommand command() {
    return new PolicyTestCommand(FakeClock.at("2026-11-22T10:00:00Z"), name -> null);
  }

  @Test
  void exampleCases_allPass_exit0() {
    CommandRun run =
        CommandRun.of(command(), POLICY, Path.of("..", "examples", "cases.yaml").toString());

    assertThat(run.exit()).isZero();
    assertThat(run.outLines()).first().isEqualTo("PASS lower-case method is malformed");
    assertThat(run.outLines()).allMatch(l -> l.startsWith("PASS ") || l.endsWith(" failed"));
    assertThat(run.outLines()).last().asString().matches("\\d+ passed, 0 failed");
    assertThat(run.err()).isEmpty();
  }

  @Test
  void failures_printADiffAndExitWithTheirNumber() throws IOException {
    Path cases =
        Files.writeString(
            dir.resolve("cases.yaml"),
            """
            cases:
              - name: partner deletes
                request: { method: DELETE, path: /v1/orders/42, tls: true, source_ip: 203.0.113.7 }
                identity: { credential: api_key, principal: key_1, client_type: partner }
                expect: { decision: deny, reason: insufficient_permissions }
              - name: status
                request: { path: /v1/status }
                expect: { decision: allow }
              - name: status denied?
                request: { path: /v1/status }
                expect: { decision: deny }
            """);

    CommandRun run = CommandRun.of(command(), POLICY, cases.toString());

    assertThat(run.exit()).isEqualTo(2);
    assertThat(run.outLines())
        .containsExactly(
            "FAIL partner deletes",
            "  expected reason insufficient_permissions, got no_matching_rule; segment partners;"
                + " rule -",
            "  why: no rule applies",
            "  at " + cases + ":2",
            "PASS status",
            "FAIL status denied?",
            "  expected decision deny, got allow; segment public; rule status",
            "  at " + cases + ":9",
            "1 passed, 2 failed");
  }

  @Test
  void invalidCasesFile_exit101WithPositionsOnErr() throws IOException {
    Path cases =
        Files.writeString(
            dir.resolve("cases.yaml"),
            "cases:\n  - { name: a, request: { path: / }, expect: { reason: nope } }\n");

    CommandRun run = CommandRun.of(command(), POLICY, cases.toString());

    assertThat(run.exit()).isEqualTo(101);
    assertThat(run.out()).isEmpty();
    assertThat(run.err())
        .contains(cases + ":2:56: cases[0].expect.reason: unknown reason code 'nope'")
        .contains("1 error(s): no case was run");
  }

  @Test
  void badArguments_exit102NotATestCount() {
    CommandRun run = CommandRun.of(command(), POLICY);
    assertThat(run.exit()).isEqualTo(PolicyTestCommand.USAGE_ERROR).isEqualTo(102);
    assertThat(run.err()).contains("Missing required parameter: 'CASES'");
  }
}
