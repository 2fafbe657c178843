package io.portcullis.loadtest;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.HdrHistogram.Histogram;
import org.junit.jupiter.api.Test;

class CapacitySearchTest {
  /** A server whose p99 is 1 ms below {@code limit} requests/s and 500 ms above it. */
  private static RunResult run(double rate, double limit) {
    Histogram h = new Histogram(60_000_000L, 3);
    long micros = rate <= limit ? 1_000 : 500_000;
    for (int i = 0; i < 1000; i++) {
      h.recordValue(micros);
    }
    return new RunResult("fake", rate, rate, rate, h, 1000, 0, Map.of(), 0, null);
  }

  @Test
  void search_stepsUpThenBisects_toJustBelowTheSaturationPoint() throws Exception {
    List<Double> asked = new ArrayList<>();
    CapacitySearch.Result r =
        new CapacitySearch(5, 2000, 1.5, 4, 10)
            .search(
                rate -> {
                  asked.add(rate);
                  return run(rate, 10_000);
                },
                x -> {});
    assertThat(r.rate()).isBetween(9_000.0, 10_000.0);
    assertThat(asked).startsWith(2000.0, 3000.0, 4500.0, 6750.0, 10125.0);
  }

  @Test
  void search_startAboveCapacity_stepsDownUntilARunPasses() throws Exception {
    CapacitySearch.Result r =
        new CapacitySearch(5, 2000, 2.0, 3, 10).search(rate -> run(rate, 700), x -> {});
    assertThat(r.rate()).isBetween(500.0, 700.0);
    assertThat(r.capacity()).isNotNull();
  }

  /** A server that fails one run in two at every rate, as a shared machine can. */
  private static CapacitySearch.Probe flaky(List<Double> asked) {
    return rate -> {
      asked.add(rate);
      return asked.size() % 2 == 0 ? run(rate, 1_000_000) : run(rate, 0);
    };
  }

  @Test
  void search_repeatsANarrowlyFailedRunOnce_butNotWithoutRepeats() throws Exception {
    List<Double> asked = new ArrayList<>();
    new CapacitySearch(5, 2000, 2.0, 1, 3).search(flaky(asked), x -> {});
    assertThat(asked).startsWith(2000.0, 2000.0);

    List<Double> once = new ArrayList<>();
    new CapacitySearch(5, 2000, 2.0, 1, 3).withoutRepeats().search(flaky(once), x -> {});
    assertThat(once).doesNotHaveDuplicates();
  }

  @Test
  void meets_failsOnErrorsEvenWithLowLatency() {
    Histogram h = new Histogram(60_000_000L, 3);
    h.recordValue(100);
    RunResult withError = new RunResult("fake", 1000, 1000, 1000, h, 999, 1, Map.of(), 0, null);
    assertThat(withError.meets(5)).isFalse();
    assertThat(run(1000, 2000).meets(5)).isTrue();
  }
}
