package io.portcullis.limit;

import static org.assertj.core.api.Assertions.assertThat;

import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import io.portcullis.limit.rls.FixedWindowCounters;
import io.portcullis.metrics.MetricNames;
import io.portcullis.testing.FakeClock;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.Test;

class LimitBackendsTest {
  private final FakeClock clock = FakeClock.at("2026-05-10T12:00:00Z");
  private final SimpleMeterRegistry registry = new SimpleMeterRegistry();

  @Test
  void inMemory_wiresLimiterProtectionAndRlsCounters_onTheInjectedClock_withTheirMetrics()
      throws Exception {
    try (LimitBackends b = LimitBackends.inMemory(RateLimitSettings.defaults(), clock, registry)) {
      LimitDefinition l =
          new LimitDefinition(
              "l",
              "segment/s",
              List.of(LimitKey.Attribute.CLIENT),
              new LimitKind.Rate(1, Duration.ofSeconds(1), 1));
      List<LimitRequest> r = List.of(new LimitRequest(l, "acme", 1));
      b.protection()
          .recordFailure("ip:203.0.113.7", 1, Duration.ofMinutes(1), Duration.ofMinutes(1));

      assertThat(b.limiter().acquire(r, true).admitted()).isTrue();
      assertThat(b.limiter().acquire(r, true).admitted()).isFalse();
      clock.advance(Duration.ofSeconds(1));
      assertThat(b.limiter().acquire(r, true).admitted()).isTrue();
      assertThat(
              b.rlsCounters()
                  .add(List.of(new FixedWindowCounters.Hit("k", 2, Duration.ofMinutes(1))))
                  .values())
          .containsExactly(2L);
      assertThat(registry.get(MetricNames.BLOCKED_SOURCES).gauge().value()).isEqualTo(1);
      assertThat(registry.get(MetricNames.RATELIMIT_BACKEND_ERRORS).counter().count()).isZero();
      assertThat(registry.get(MetricNames.RATELIMIT_BACKEND_DEGRADED_DECISIONS).counters())
          .extracting(c -> c.getId().getTag("caller") + "=" + c.count())
          .containsExactlyInAnyOrder("limits=0.0", "rls=0.0", "protect=0.0");
      assertThat(registry.get(MetricNames.RATELIMIT_BACKEND_UP).gauge().value())
          .as("the in-memory backend always works")
          .isEqualTo(1);
    }
  }

  @Test
  void settings_defaultToMemoryWithLocalFallback_andParseConfigurationValues() {
    RateLimitSettings d = RateLimitSettings.defaults();

    assertThat(d.backend()).isEqualTo(RateLimitSettings.Backend.MEMORY);
    assertThat(d.onBackendFailure()).isEqualTo(BackendFailurePolicy.LOCAL);
    assertThat(d.redis().addresses()).containsExactly("redis://127.0.0.1:6379");
    assertThat(RateLimitSettings.Backend.parse("Redis")).isEqualTo(RateLimitSettings.Backend.REDIS);
    assertThat(BackendFailurePolicy.parse("deny")).isEqualTo(BackendFailurePolicy.DENY);
    assertThat(BackendFailurePolicy.parse("ignore")).isNull();
    assertThat(BackendFailurePolicy.ALLOW.degradedLabel()).isEqualTo("ratelimit_backend:allow");
  }
}
