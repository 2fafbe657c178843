package io.portcullis.limit;

import static org.assertj.core.api.Assertions.assertThat;

import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import io.portcullis.metrics.MetricNames;
import io.portcullis.testing.FakeClock;
import java.time.Duration;
import org.junit.jupiter.api.Test;

class BackendCircuitTest {
  private final FakeClock clock = FakeClock.at("2026-05-10T12:00:00Z");
  private final SimpleMeterRegistry registry = new SimpleMeterRegistry();
  private final BackendCircuit circuit = new BackendCircuit(clock, Duration.ofSeconds(5), registry);

  @Test
  void failure_opensForTheRetryInterval_thenCallersTryAgain() {
    assertThat(circuit.failed()).as("opened by this failure").isTrue();
    clock.advance(Duration.ofSeconds(4));
    assertThat(circuit.allowsAttempt()).isFalse();
    assertThat(circuit.failed()).as("still the same outage window").isFalse();
    clock.advance(Duration.ofSeconds(5));
    assertThat(circuit.allowsAttempt()).isTrue();
  }

  @Test
  void clockSteppedBack_whileOpen_circuitStaysOpenAtMostOneRetryInterval() {
    circuit.failed();

    clock.advance(Duration.ofSeconds(-60));

    assertThat(circuit.allowsAttempt()).as("not open for the 60 s of the step").isTrue();
    assertThat(circuit.failed()).as("a failure now starts a new outage window").isTrue();
    assertThat(circuit.allowsAttempt()).isFalse();
    clock.advance(Duration.ofSeconds(5));
    assertThat(circuit.allowsAttempt()).isTrue();
  }

  @Test
  void lateAnswer_countsButLeavesTheCircuitClosed_aLateFailureOpensItWithoutCounting() {
    circuit.late(); // a caller's deadline ran out before the backend answered

    assertThat(circuit.allowsAttempt()).as("one caller's deadline says nothing").isTrue();
    assertThat(errors()).isEqualTo(1);

    // the call that caller gave up on failed afterwards (the backend's own timeout)
    assertThat(circuit.failedLate()).as("opened by this failure").isTrue();
    assertThat(circuit.allowsAttempt()).isFalse();
    assertThat(errors()).as("the caller counted its answer already").isEqualTo(1);
    assertThat(circuit.failedLate()).as("still the same outage window").isFalse();
    clock.advance(Duration.ofSeconds(5));
    assertThat(circuit.allowsAttempt()).isTrue();
  }

  private double errors() {
    return registry.get(MetricNames.RATELIMIT_BACKEND_ERRORS).counter().count();
  }
}
