package io.portcullis.limit;

import static org.assertj.core.api.Assertions.assertThat;

import java.time.Duration;
import java.util.List;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;

class RateBucketsTest {
  private static final long SECOND = 1_000_000_000L;
  private static final LimitDefinition LIMIT =
      new LimitDefinition(
          "per-ip", "segment/public", List.of(), new LimitKind.Rate(1, Duration.ofSeconds(1), 1));

  @Test
  void sweep_marksAStaleCellDead_beforeUnlinkingIt_soItsHoldersLookItUpAgain() {
    RateBuckets buckets = new RateBuckets(1);
    RateBuckets.Table table = buckets.of(LIMIT);
    AtomicLong old = table.getOrCreate("a", 100);
    old.set(150);

    AtomicLong other = table.getOrCreate("b", 200); // needs a's room: a is stale at 200

    assertThat(other).isNotNull();
    assertThat(old.get()).isEqualTo(RateBuckets.DEAD);
    assertThat(old.compareAndSet(150, 260)).as("a taker holding a's old cell").isFalse();
    assertThat(table.find("a")).isNull();
    assertThat(buckets.size()).isEqualTo(1);
  }

  @Test
  void full_ofLiveCells_createsNoNewOne_andLeavesTheLiveOneAlone() {
    RateBuckets buckets = new RateBuckets(1);
    RateBuckets.Table table = buckets.of(LIMIT);
    AtomicLong live = table.getOrCreate("a", SECOND);
    live.set(10 * SECOND);

    assertThat(table.getOrCreate("b", 2 * SECOND)).isNull();

    assertThat(live.get()).isEqualTo(10 * SECOND);
    assertThat(table.find("a")).isSameAs(live);
    assertThat(buckets.untilSweepDue(2 * SECOND))
        .as("nothing can be stale before a's TAT")
        .isEqualTo(8 * SECOND);
    assertThat(table.getOrCreate("b", 10 * SECOND)).as("room once a is stale").isNotNull();
    assertThat(live.get()).isEqualTo(RateBuckets.DEAD);
  }

  @Test
  void sameKey_inTwoLimits_isTwoBuckets() {
    RateBuckets buckets = new RateBuckets(10);
    LimitDefinition other =
        new LimitDefinition("per-ip", "segment/partners", List.of(), LIMIT.kind());

    AtomicLong a = buckets.of(LIMIT).getOrCreate("10.0.0.1", 0);
    AtomicLong b = buckets.of(other).getOrCreate("10.0.0.1", 0);

    assertThat(a).isNotSameAs(b);
    assertThat(buckets.of(LIMIT).find("10.0.0.1")).isSameAs(a);
    assertThat(buckets.size()).isEqualTo(2);
  }
}
