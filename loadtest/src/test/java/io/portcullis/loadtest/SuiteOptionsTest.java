package io.portcullis.loadtest;

import static org.assertj.core.api.Assertions.assertThat;

import java.time.Duration;
import java.util.List;
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

  @Test
  void storeUrl_goesToPortcullisServersOnly() {
    Suite suite = parse("--store-url", "jdbc:postgresql://127.0.0.1:5432/test");
    List<String> portcullis = List.of("--mode", "portcullis", "--policy", "p.yaml");

    assertThat(suite.common.serverArgs(portcullis))
        .containsExactly(
            "--mode",
            "portcullis",
            "--policy",
            "p.yaml",
            "--store-url",
            "jdbc:postgresql://127.0.0.1:5432/test");
    assertThat(suite.common.serverArgs(List.of("--mode", "empty")))
        .containsExactly("--mode", "empty");
    assertThat(parse().common.serverArgs(portcullis)).isEqualTo(portcullis);
  }
}
