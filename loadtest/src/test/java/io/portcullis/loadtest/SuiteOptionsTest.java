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
  void capacityVerdict_isInconclusiveWhenTheEmptyServerFailedTheFirstStep() {
    CapacitySearch quick = new CapacitySearch(50, 5, 4000, 2.0, 1, 5);

    assertThat(Suite.capacityVerdict(1.0, 3000, quick)).startsWith("inconclusive");
    assertThat(Suite.capacityVerdict(0.75, 32000, quick)).isEqualTo("met");
    assertThat(Suite.capacityVerdict(0.41, 34173, quick)).isEqualTo("MISSED");
    assertThat(Suite.capacityVerdict(0.7, 4000, quick)).isEqualTo("met");
  }

  @Test
  void prime_defaultsTo20sAnd4sQuick_andTheOptionWinsOverBoth() {
    assertThat(parse().primeTime()).isEqualTo(Duration.ofSeconds(20));
    assertThat(parse("--quick").primeTime()).isEqualTo(Duration.ofSeconds(4));
    assertThat(parse("--prime", "60s").primeTime()).isEqualTo(Duration.ofSeconds(60));
    assertThat(parse("--quick", "--prime", "90s").primeTime()).isEqualTo(Duration.ofSeconds(90));
  }
}
