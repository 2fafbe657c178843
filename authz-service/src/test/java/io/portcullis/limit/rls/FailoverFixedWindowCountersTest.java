package io.portcullis.limit.rls;

import static org.assertj.core.api.Assertions.assertThat;

import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import io.portcullis.limit.BackendCircuit;
import io.portcullis.limit.BackendFailurePolicy;
import io.portcullis.limit.LimitBackendException;
import io.portcullis.metrics.MetricNames;
import io.portcullis.testing.FakeClock;
import io.portcullis.testing.LimitBackendMeters;
import io.portcullis.testing.LogCapture;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

class FailoverFixedWindowCountersTest {
  private final FakeClock clock = FakeClock.at("2026-05-10T12:00:00Z");
  private final SimpleMeterRegistry registry = new SimpleMeterRegistry();

  @Test
  void callsInFlightWhenRedisFails_allDegrade_butTheOutageIsLoggedOnce() throws Exception {
    int callers = 8;
    CountDownLatch allInFlight = new CountDownLatch(callers);
    FixedWindowCounters failsOnceAllAreIn =
        hits -> {
          allInFlight.countDown();
          try {
            allInFlight.await(10, TimeUnit.SECONDS);
          } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
          }
          throw new LimitBackendException("connection reset", new RuntimeException());
        };
    FailoverFixedWindowCounters counters =
        new FailoverFixedWindowCounters(
            failsOnceAllAreIn,
            new InMemoryFixedWindowCounters(clock, 100),
            BackendFailurePolicy.LOCAL,
            new BackendCircuit(clock, Duration.ofSeconds(1), BackendFailurePolicy.LOCAL, registry));
    List<FixedWindowCounters.Hit> hit =
        List.of(new FixedWindowCounters.Hit("edge_k_v_0", 1, Duration.ofMinutes(1)));

    List<FixedWindowCounters.Totals> totals = new ArrayList<>();
    List<String> warnings;
    try (LogCapture logs = LogCapture.of(BackendCircuit.class);
        ExecutorService pool = Executors.newFixedThreadPool(callers)) {
      List<Future<FixedWindowCounters.Totals>> calls = new ArrayList<>();
      for (int i = 0; i < callers; i++) {
        calls.add(pool.submit(() -> counters.add(hit)));
      }
      for (Future<FixedWindowCounters.Totals> c : calls) {
        totals.add(c.get(10, TimeUnit.SECONDS));
      }
      warnings = logs.warnings();
    }

    assertThat(totals)
        .allSatisfy(t -> assertThat(t.degraded()).isEqualTo("ratelimit_backend:local"));
    assertThat(totals.stream().mapToLong(t -> t.values()[0]).sorted().toArray())
        .as("counted locally instead")
        .containsExactly(1, 2, 3, 4, 5, 6, 7, 8);
    assertThat(registry.get(MetricNames.RATELIMIT_BACKEND_ERRORS).counter().count())
        .as("every failed call counts")
        .isEqualTo(callers);
    assertThat(new LimitBackendMeters(registry).degraded("rls")).isEqualTo(callers);
    assertThat(warnings).as("one line for the outage, not one per call").hasSize(1);
  }
}
