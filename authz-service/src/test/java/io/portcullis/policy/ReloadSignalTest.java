package io.portcullis.policy;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import java.time.Duration;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;
import sun.misc.Signal;

/** Raises real SIGHUPs in the test JVM; a handler is always installed while one is raised. */
class ReloadSignalTest {
  private static final Duration WAIT = Duration.ofSeconds(10);

  private static AssertionError notDeliverable() {
    return new AssertionError(
        "SIGHUP cannot be handled in this JVM: was the build started with SIGHUP ignored (nohup)?");
  }

  private static void hangup() {
    Signal.raise(new Signal(ReloadSignal.SIGNAL));
  }

  @Test
  void sighup_runsTheReload_andCloseRestoresThePreviousHandler() {
    AtomicInteger outer = new AtomicInteger();
    AtomicInteger inner = new AtomicInteger();
    try (ReloadSignal first =
        ReloadSignal.install(outer::incrementAndGet)
            .orElseThrow(ReloadSignalTest::notDeliverable)) {
      try (ReloadSignal second =
          ReloadSignal.install(inner::incrementAndGet)
              .orElseThrow(ReloadSignalTest::notDeliverable)) {
        hangup();
        await().atMost(WAIT).until(() -> inner.get() == 1);
        hangup();
        await().atMost(WAIT).until(() -> inner.get() == 2);
        assertThat(outer.get()).isZero();
      }
      hangup();
      await().atMost(WAIT).until(() -> outer.get() == 1);
      assertThat(inner.get()).isEqualTo(2);
    }
  }

  @Test
  void aFailingReload_doesNotBreakTheHandler() {
    AtomicInteger calls = new AtomicInteger();
    try (ReloadSignal signal =
        ReloadSignal.install(
                () -> {
                  calls.incrementAndGet();
                  throw new IllegalStateException("boom");
                })
            .orElseThrow(ReloadSignalTest::notDeliverable)) {
      hangup();
      await().atMost(WAIT).until(() -> calls.get() == 1);
      hangup();
      await().atMost(WAIT).until(() -> calls.get() == 2);
    }
  }
}
