package io.portcullis.limit;

import static io.portcullis.limit.BackendCircuit.Caller.LIMITS;
import static io.portcullis.limit.BackendCircuit.Caller.PROTECT;
import static io.portcullis.limit.BackendCircuit.Caller.RLS;
import static org.assertj.core.api.Assertions.assertThat;

import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import io.portcullis.testing.FakeClock;
import io.portcullis.testing.LimitBackendMeters;
import io.portcullis.testing.LogCapture;
import java.time.Duration;
import org.junit.jupiter.api.Test;

class BackendCircuitTest {
  private static final String REFUSED = "Unable to connect to Redis server: 127.0.0.1/6391";

  private final FakeClock clock = FakeClock.at("2026-05-10T12:00:00Z");
  private final SimpleMeterRegistry registry = new SimpleMeterRegistry();
  private final LimitBackendMeters meters = new LimitBackendMeters(registry);
  private final BackendCircuit circuit =
      new BackendCircuit(clock, Duration.ofSeconds(5), BackendFailurePolicy.LOCAL, registry);

  @Test
  void failure_opensForTheRetryInterval_thenCallersTryAgain() {
    circuit.failed(LIMITS, REFUSED);
    clock.advance(Duration.ofSeconds(4));
    assertThat(circuit.allowsAttempt()).isFalse();
    clock.advance(Duration.ofSeconds(5));
    assertThat(circuit.allowsAttempt()).isTrue();
  }

  @Test
  void clockSteppedBack_whileOpen_circuitStaysOpenAtMostOneRetryInterval() {
    circuit.failed(LIMITS, REFUSED);

    clock.advance(Duration.ofSeconds(-60));

    assertThat(circuit.allowsAttempt()).as("not open for the 60 s of the step").isTrue();
    circuit.failed(LIMITS, REFUSED);
    assertThat(circuit.allowsAttempt()).isFalse();
    clock.advance(Duration.ofSeconds(5));
    assertThat(circuit.allowsAttempt()).isTrue();
  }

  /**
   * A backend that answers every call, but after the callers' deadlines, never fails a call: only
   * the run of late callers can open the circuit, or every call waits out its deadline.
   */
  @Test
  void lateAnswers_inARow_openTheCircuit_withoutCountingAnError_andAnAnswerInTimeResetsTheRun() {
    for (int i = 1; i < BackendCircuit.LATE_IN_A_ROW_OPENS; i++) {
      circuit.late(LIMITS);
    }
    circuit.succeeded(); // one answer in time: the run starts again
    for (int i = 1; i < BackendCircuit.LATE_IN_A_ROW_OPENS; i++) {
      circuit.late(LIMITS);
    }
    assertThat(circuit.allowsAttempt()).as("one short of the run").isTrue();
    assertThat(meters.up()).isEqualTo(1);

    circuit.late(LIMITS);

    assertThat(circuit.allowsAttempt()).as("skipped for the retry interval").isFalse();
    assertThat(meters.up()).isZero();
    assertThat(meters.errors()).as("nothing failed").isZero();
    clock.advance(Duration.ofSeconds(6));
    assertThat(circuit.allowsAttempt()).isTrue();
    circuit.succeeded();
    assertThat(meters.up()).isEqualTo(1);
  }

  /**
   * A caller whose time was up before Redis was asked (a slow introspection endpoint took it) says
   * nothing about Redis: any number of them leave the circuit closed and do not count toward the
   * run of late callers.
   */
  @Test
  void expiredCallers_neverOpenTheCircuit_norCountTowardTheLateRun() {
    for (int i = 0; i < 3 * BackendCircuit.LATE_IN_A_ROW_OPENS; i++) {
      circuit.expired(LIMITS);
    }
    assertThat(circuit.allowsAttempt()).isTrue();
    assertThat(meters.up()).isEqualTo(1);
    assertThat(meters.degraded("limits")).isEqualTo(3 * BackendCircuit.LATE_IN_A_ROW_OPENS);

    for (int i = 1; i < BackendCircuit.LATE_IN_A_ROW_OPENS; i++) {
      circuit.late(LIMITS);
      circuit.expired(LIMITS);
    }
    assertThat(circuit.allowsAttempt())
        .as("expired callers between late ones add nothing")
        .isTrue();
  }

  @Test
  void lateAnswer_isADegradedDecisionButNoError_aLateFailureIsAnErrorAndOpensTheCircuit() {
    circuit.late(LIMITS); // a caller's deadline ran out before the backend answered

    assertThat(circuit.allowsAttempt()).as("one caller's deadline says nothing").isTrue();
    assertThat(meters.errors()).isZero();
    assertThat(meters.degraded("limits")).isEqualTo(1);
    assertThat(meters.up()).isEqualTo(1);

    // the call that caller gave up on failed afterwards (the backend's own timeout)
    circuit.failedLate(LIMITS, "redis script gcra.lua timed out after PT0.25S");
    assertThat(circuit.allowsAttempt()).isFalse();
    assertThat(meters.errors()).as("Redis failed").isEqualTo(1);
    assertThat(meters.degraded("limits")).as("the caller counted its answer already").isEqualTo(1);
    assertThat(meters.up()).isZero();
    clock.advance(Duration.ofSeconds(5));
    assertThat(circuit.allowsAttempt()).isTrue();
  }

  @Test
  void metrics_errorsCountFailures_degradedDecisionsCountAnswersByCaller_gaugeShowsTheState() {
    assertThat(meters.up()).isEqualTo(1);

    circuit.failed(LIMITS, REFUSED);
    for (int i = 0; i < 20; i++) {
      circuit.skipped(LIMITS);
      circuit.skipped(RLS);
    }
    circuit.skipped(PROTECT);

    assertThat(meters.up()).isZero();
    assertThat(meters.errors()).isEqualTo(1);
    assertThat(meters.degraded("limits")).isEqualTo(21);
    assertThat(meters.degraded("rls")).isEqualTo(20);
    assertThat(meters.degraded("protect")).isEqualTo(1);

    clock.advance(Duration.ofSeconds(5));
    circuit.failed(RLS, REFUSED); // the retry fails too
    assertThat(meters.errors()).isEqualTo(2);
    assertThat(meters.up()).isZero();

    clock.advance(Duration.ofSeconds(5));
    circuit.succeeded();
    assertThat(meters.up()).isEqualTo(1);
    assertThat(meters.errors()).isEqualTo(2);
  }

  @Test
  void outage_isOneWarnWithRedisReasonWhenItBegins_andOneInfoWhenTheBackendAnswersAgain() {
    try (LogCapture logs = LogCapture.of(BackendCircuit.class)) {
      // 10 s down, one request every 250 ms on each path; Redis is tried every 5 s
      for (int tick = 0; tick < 40; tick++) {
        for (BackendCircuit.Caller caller : new BackendCircuit.Caller[] {LIMITS, RLS}) {
          if (circuit.allowsAttempt()) {
            circuit.failed(caller, REFUSED);
          } else {
            circuit.skipped(caller);
          }
        }
        if (tick % 10 == 0) {
          circuit.skipped(PROTECT);
        }
        clock.advance(Duration.ofMillis(250));
      }
      assertThat(logs.warnings())
          .containsExactly(
              "rate limit backend (Redis) failing, applying on_backend_failure=local until it"
                  + " answers again (asked again every 5 s): "
                  + REFUSED
                  + " (limits)");

      circuit.succeeded();
      circuit.succeeded(); // every later success is silent

      assertThat(logs.infos())
          .containsExactly(
              "rate limit backend (Redis) answers again after 10 s; 80 decisions made by"
                  + " on_backend_failure=local, 4 failed authentications counted in this instance"
                  + " meanwhile");
      assertThat(logs.warnings()).hasSize(1);
    }
  }

  @Test
  void longOutage_isRemindedOfAtMostOnceAMinute() {
    try (LogCapture logs = LogCapture.of(BackendCircuit.class)) {
      // five minutes down, tried every 5 s (a caller each second finds the circuit open)
      for (int s = 0; s < 300; s++) {
        if (circuit.allowsAttempt()) {
          circuit.failed(LIMITS, s < 200 ? REFUSED : "LOADING Redis is loading the dataset");
        } else {
          circuit.skipped(LIMITS);
        }
        clock.advance(Duration.ofSeconds(1));
      }
      circuit.succeeded();

      assertThat(logs.warnings()).hasSize(5);
      assertThat(logs.warnings().get(0)).startsWith("rate limit backend (Redis) failing");
      assertThat(logs.warnings().subList(1, 5))
          .containsExactly(
              "rate limit backend (Redis) still failing after 60 s: "
                  + REFUSED
                  + "; 60 decisions made by on_backend_failure=local so far",
              "rate limit backend (Redis) still failing after 2 min 0 s: "
                  + REFUSED
                  + "; 120 decisions made by on_backend_failure=local so far",
              "rate limit backend (Redis) still failing after 3 min 0 s: "
                  + REFUSED
                  + "; 180 decisions made by on_backend_failure=local so far",
              "rate limit backend (Redis) still failing after 4 min 0 s: LOADING Redis is loading"
                  + " the dataset; 240 decisions made by on_backend_failure=local so far");
      assertThat(logs.infos())
          .containsExactly(
              "rate limit backend (Redis) answers again after 5 min 0 s; 300 decisions made by"
                  + " on_backend_failure=local meanwhile");
    }
  }

  @Test
  void flappingBackend_isLoggedAtMostOnceAMinute_sayingHowOftenItFailedMeanwhile() {
    try (LogCapture logs = LogCapture.of(BackendCircuit.class)) {
      // two minutes of an overloaded Redis: every 5 s one call times out, the next one answers
      for (int s = 0; s < 120; s += 5) {
        circuit.failed(LIMITS, "redis script gcra.lua timed out after PT0.25S");
        clock.advance(Duration.ofSeconds(1));
        assertThat(meters.up()).isZero();
        circuit.succeeded();
        assertThat(meters.up()).as("the gauge follows every change").isEqualTo(1);
        clock.advance(Duration.ofSeconds(4));
      }

      assertThat(logs.warnings())
          .containsExactly(
              "rate limit backend (Redis) failing, applying on_backend_failure=local until it"
                  + " answers again (asked again every 5 s): redis script gcra.lua timed out"
                  + " after PT0.25S (limits)",
              "rate limit backend (Redis) failing, applying on_backend_failure=local until it"
                  + " answers again (asked again every 5 s): redis script gcra.lua timed out"
                  + " after PT0.25S (limits); it also failed 11 times since the previous such"
                  + " line, each time answering again within a minute");
      assertThat(logs.infos())
          .containsExactly(
              "rate limit backend (Redis) answers again after 1 s; 1 decision made by"
                  + " on_backend_failure=local meanwhile",
              "rate limit backend (Redis) answers again after 1 s; 1 decision made by"
                  + " on_backend_failure=local meanwhile");
    }
  }

  @Test
  void outageUnloggedAtItsStart_isLoggedOnceItOutlastsTheMinute_andSoIsItsEnd() {
    try (LogCapture logs = LogCapture.of(BackendCircuit.class)) {
      circuit.failed(LIMITS, REFUSED);
      clock.advance(Duration.ofSeconds(5));
      circuit.succeeded();
      clock.advance(Duration.ofSeconds(5));
      circuit.failed(LIMITS, REFUSED); // 10 s after the first WARN: not logged
      for (int s = 10; s < 70; s += 5) {
        clock.advance(Duration.ofSeconds(5));
        circuit.failed(LIMITS, REFUSED);
      }
      clock.advance(Duration.ofSeconds(5));
      circuit.succeeded();

      assertThat(logs.warnings()).hasSize(2);
      assertThat(logs.warnings().get(1))
          .isEqualTo(
              "rate limit backend (Redis) still failing after 50 s: "
                  + REFUSED
                  + "; 10 decisions made by on_backend_failure=local so far");
      assertThat(logs.infos())
          .containsExactly(
              "rate limit backend (Redis) answers again after 5 s; 1 decision made by"
                  + " on_backend_failure=local meanwhile",
              "rate limit backend (Redis) answers again after 65 s; 13 decisions made by"
                  + " on_backend_failure=local meanwhile");
    }
  }

  @Test
  void durations_readAsAnOperatorWritesThem() {
    assertThat(BackendCircuit.readable(Duration.ofMillis(350))).isEqualTo("350 ms");
    assertThat(BackendCircuit.readable(Duration.ofMillis(12_400))).isEqualTo("12 s");
    assertThat(BackendCircuit.readable(Duration.ofSeconds(245))).isEqualTo("4 min 5 s");
    assertThat(BackendCircuit.readable(Duration.ofMinutes(130))).isEqualTo("2 h 10 min");
  }
}
