package io.portcullis.limit;

import static org.assertj.core.api.Assertions.assertThat;

import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import io.portcullis.metrics.MetricNames;
import io.portcullis.testing.FakeClock;
import java.time.Duration;
import java.time.Instant;
import org.junit.jupiter.api.Test;

class InMemorySourceProtectionTest {
  private static final Duration WINDOW = Duration.ofMinutes(1);
  private static final Duration BLOCK = Duration.ofMinutes(10);

  private final FakeClock clock = FakeClock.at("2026-05-10T12:00:00Z");
  private final SimpleMeterRegistry registry = new SimpleMeterRegistry();
  private final InMemorySourceProtection protection =
      InMemorySourceProtection.builder().clock(clock).meterRegistry(registry).build();

  private void fail(String key, int times) {
    for (int i = 0; i < times; i++) {
      protection.recordFailure(key, 3, WINDOW, BLOCK);
    }
  }

  @Test
  void thresholdFailuresWithinTheWindow_blockTheSourceForBlockFor() {
    Instant start = clock.instant();
    fail("ip:203.0.113.7", 2);
    assertThat(protection.blockedUntil("ip:203.0.113.7")).isNull();

    fail("ip:203.0.113.7", 1);

    assertThat(protection.blockedUntil("ip:203.0.113.7")).isEqualTo(start.plus(BLOCK));
    assertThat(protection.blocked())
        .singleElement()
        .satisfies(
            b -> {
              assertThat(b.key()).isEqualTo("ip:203.0.113.7");
              assertThat(b.blockedAt()).isEqualTo(start);
              assertThat(b.failures()).isEqualTo(3);
            });
    assertThat(protection.blockedUntil("ip:198.51.100.1")).isNull();
  }

  @Test
  void failuresSpreadOverMoreThanTheWindow_doNotBlock() {
    fail("ip:203.0.113.7", 2);
    clock.advance(WINDOW);

    fail("ip:203.0.113.7", 2);

    assertThat(protection.blockedUntil("ip:203.0.113.7")).isNull();
  }

  @Test
  void block_endsAfterBlockFor_andCountingStartsAfresh() {
    fail("ip:203.0.113.7", 3);
    clock.advance(BLOCK);

    assertThat(protection.blockedUntil("ip:203.0.113.7")).isNull();
    assertThat(protection.blocked()).isEmpty();
    fail("ip:203.0.113.7", 2);
    assertThat(protection.blockedUntil("ip:203.0.113.7")).isNull();
  }

  @Test
  void unblock_liftsTheBlock_andReportsWhetherThereWasOne() {
    fail("ip:203.0.113.7", 3);

    assertThat(protection.unblock("ip:203.0.113.7")).isTrue();
    assertThat(protection.unblock("ip:203.0.113.7")).isFalse();
    assertThat(protection.blockedUntil("ip:203.0.113.7")).isNull();
  }

  @Test
  void gauge_countsCurrentlyBlockedSources() {
    fail("ip:203.0.113.7", 3);
    fail("ip:203.0.113.8", 3);
    fail("ip:203.0.113.9", 1);

    assertThat(registry.get(MetricNames.BLOCKED_SOURCES).gauge().value()).isEqualTo(2);
    clock.advance(BLOCK);
    assertThat(registry.get(MetricNames.BLOCKED_SOURCES).gauge().value()).isZero();
  }

  @Test
  void memory_isBoundedUnderAFloodOfDistinctSources() {
    InMemorySourceProtection small =
        InMemorySourceProtection.builder().clock(clock).maximumSources(100).build();

    for (int i = 0; i < 10_000; i++) {
      small.recordFailure("ip:10.0." + (i / 256) + "." + (i % 256), 1, WINDOW, BLOCK);
    }

    assertThat(small.blocked()).hasSizeLessThanOrEqualTo(100);
  }
}
