package io.portcullis.loadtest;

import static org.assertj.core.api.Assertions.assertThat;

import java.time.Duration;
import org.junit.jupiter.api.Test;
import picocli.CommandLine;

class SuiteOptionsTest {
  private static Suite parse(String... args) {
    Suite suite = new Suite();
    new CommandLine(suite).parseArgs(args);
    return suite;
  }

  @Test
  void prime_defaultsTo20sAnd4sQuick_andTheOptionWinsOverBoth() {
    assertThat(parse().primeTime()).isEqualTo(Duration.ofSeconds(20));
    assertThat(parse("--quick").primeTime()).isEqualTo(Duration.ofSeconds(4));
    assertThat(parse("--prime", "60s").primeTime()).isEqualTo(Duration.ofSeconds(60));
    assertThat(parse("--quick", "--prime", "90s").primeTime()).isEqualTo(Duration.ofSeconds(90));
  }
}
