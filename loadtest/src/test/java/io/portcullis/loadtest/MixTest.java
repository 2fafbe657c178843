package io.portcullis.loadtest;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.stream.IntStream;
import org.junit.jupiter.api.Test;

class MixTest {
  private static List<Mix.Probe<String>> probes(String prefix, int n) {
    return IntStream.range(0, n)
        .mapToObj(i -> new Mix.Probe<>(prefix, prefix + i, Set.of("allow")))
        .toList();
  }

  @Test
  void weighted_sendsEachClassInItsShareAndWalksItsProbesOnePerUse() {
    Mix<String> mix =
        Mix.weighted(List.of(probes("spread-", 20_000), probes("hot-", 1)), new int[] {95, 5});
    Map<String, Integer> seen = new HashMap<>();
    int hot = 0;
    for (long seq = 0; seq < 10_000; seq++) {
      String r = mix.probe(seq).request();
      seen.merge(r, 1, Integer::sum);
      if (r.startsWith("hot-")) {
        hot++;
      }
    }
    assertThat(hot).isEqualTo(500);
    // 9,500 spread requests over 20,000 probes: each used at most once, none repeated in bursts
    assertThat(seen.entrySet().stream().filter(e -> e.getKey().startsWith("spread-")))
        .hasSize(9_500)
        .allSatisfy(e -> assertThat(e.getValue()).isEqualTo(1));
  }

  @Test
  void probe_acceptsOnlyItsExpectedOutcomes() {
    Mix.Probe<String> p = new Mix.Probe<>("deny:no_segment", "r", Set.of("no_segment"));
    assertThat(p.accepts("no_segment")).isTrue();
    assertThat(p.accepts("allow")).isFalse();
  }
}
