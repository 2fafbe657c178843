package io.portcullis.decision;

import static org.assertj.core.api.Assertions.assertThat;

import java.time.Instant;
import java.time.InstantSource;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.Callable;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import org.junit.jupiter.api.Test;

class DecisionIdsTest {
  private static final Instant NOW = Instant.parse("2026-11-23T01:02:03.456Z");

  @Test
  void mint_isAVersion7UuidCarryingTheClocksMillisecond() {
    DecisionIds ids = new DecisionIds(InstantSource.fixed(NOW));

    UUID id = UUID.fromString(ids.mint());

    assertThat(id.version()).isEqualTo(7);
    assertThat(id.variant()).isEqualTo(2); // RFC 9562 variant 10xx
    assertThat(id.getMostSignificantBits() >>> 16).isEqualTo(NOW.toEpochMilli());
  }

  @Test
  void mint_inLaterMilliseconds_sortsLaterAsText() {
    Instant[] now = {NOW};
    DecisionIds ids = new DecisionIds(() -> now[0]);
    List<String> minted = new ArrayList<>();
    for (int i = 0; i < 1000; i++) {
      minted.add(ids.mint());
      now[0] = now[0].plusMillis(1);
    }

    assertThat(minted).isSorted();
  }

  @Test
  void mint_fromManyThreadsInOneMillisecond_neverRepeats() throws Exception {
    DecisionIds ids = new DecisionIds(InstantSource.fixed(NOW));
    int threads = 8;
    int each = 50_000;
    List<Callable<List<String>>> tasks = new ArrayList<>();
    for (int t = 0; t < threads; t++) {
      tasks.add(
          () -> {
            List<String> out = new ArrayList<>(each);
            for (int i = 0; i < each; i++) {
              out.add(ids.mint());
            }
            return out;
          });
    }
    Set<String> seen = new HashSet<>();
    try (ExecutorService pool = Executors.newVirtualThreadPerTaskExecutor()) {
      for (Future<List<String>> f : pool.invokeAll(tasks)) {
        seen.addAll(f.get());
      }
    }

    assertThat(seen).hasSize(threads * each);
  }

  @Test
  void decisionId_trustsOnlyPlausibleRequestIds() {
    DecisionIds ids = new DecisionIds(InstantSource.fixed(NOW));

    assertThat(ids.decisionId("req-1.a_b:c")).isEqualTo("req-1.a_b:c");
    for (String bad :
        new String[] {"", "a b", "id\r\nx-portcullis-segment: admin", "x".repeat(129)}) {
      String minted = ids.decisionId(bad);
      assertThat(minted).isNotEqualTo(bad);
      assertThat(UUID.fromString(minted).version()).isEqualTo(7);
    }
    assertThat(UUID.fromString(ids.decisionId(null)).version()).isEqualTo(7);
  }
}
