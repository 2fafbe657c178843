package io.portcullis.metrics;

import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Timer;
import io.portcullis.decision.Decision;
import java.time.Duration;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;

/**
 * Counts decisions by segment, outcome and reason, and times them. Counters are looked up once per
 * (segment, outcome, reason) and kept, so recording costs a map lookup and an add. The segment
 * label is {@code none} before a segment was chosen; the reason label is {@code none} for plain
 * allows and {@code dry_run:<reason>} for dry-run allows. Thread-safe.
 */
public final class DecisionMetrics {
  private final MeterRegistry registry;
  private final Timer duration;
  private final ConcurrentHashMap<Key, Counter> counters = new ConcurrentHashMap<>();

  private record Key(String segment, String decision, String reason) {}

  public DecisionMetrics(MeterRegistry registry) {
    this.registry = registry;
    this.duration =
        Timer.builder(MetricNames.CHECK_DURATION)
            .description("Time to decide one request")
            .publishPercentileHistogram()
            .minimumExpectedValue(Duration.ofNanos(500))
            .maximumExpectedValue(Duration.ofSeconds(2))
            .register(registry);
  }

  public void record(Decision decision) {
    String segment = decision.context().segment();
    String reason =
        switch (decision) {
          case Decision.Allow a ->
              a.dryRunReason() == null ? "none" : "dry_run:" + a.dryRunReason().code();
          case Decision.Deny d -> d.reason().code();
        };
    Key key = new Key(segment == null ? "none" : segment, decision.outcome(), reason);
    Counter c = counters.get(key);
    if (c == null) {
      c =
          counters.computeIfAbsent(
              key,
              k ->
                  Counter.builder(MetricNames.DECISIONS)
                      .description("Authorization decisions")
                      .tag(MetricNames.TAG_SEGMENT, k.segment())
                      .tag(MetricNames.TAG_DECISION, k.decision())
                      .tag(MetricNames.TAG_REASON, k.reason())
                      .register(registry));
    }
    c.increment();
    duration.record(decision.context().latencyNanos(), TimeUnit.NANOSECONDS);
  }
}
