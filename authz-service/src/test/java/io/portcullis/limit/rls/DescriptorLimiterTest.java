package io.portcullis.limit.rls;

import static io.portcullis.limit.rls.RlsConfigLoaderTest.descriptor;
import static io.portcullis.limit.rls.RlsConfigLoaderTest.resourceDir;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.portcullis.limit.rls.RlsResponse.Code;
import io.portcullis.testing.FakeClock;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** envoyproxy/ratelimit's fixed-window answers for the README examples, counted in memory. */
class DescriptorLimiterTest {
  // 12:00:00.250 UTC: a quarter of a second into the current second
  private final FakeClock clock = FakeClock.at("2026-05-10T12:00:00.250Z");
  private DescriptorLimiter limiter;

  @BeforeEach
  void load() throws Exception {
    limiter =
        DescriptorLimiter.builder()
            .configDirectory(resourceDir("readme"))
            .counters(new InMemoryFixedWindowCounters(clock, 10_000))
            .clock(clock)
            .build();
  }

  private RlsResponse ask(String domain, RlsRequest.Descriptor... descriptors) {
    return limiter.shouldRateLimit(new RlsRequest(domain, List.of(descriptors), 0));
  }

  @Test
  void example1_fiveHundredPerSecond_then501stIsOverLimit_untilTheNextSecond() {
    RlsResponse first = ask("mongo_cps", descriptor("database", "users"));
    for (int i = 2; i <= 500; i++) {
      ask("mongo_cps", descriptor("database", "users"));
    }
    RlsResponse over = ask("mongo_cps", descriptor("database", "users"));
    RlsResponse otherValue = ask("mongo_cps", descriptor("database", "default"));
    clock.advance(Duration.ofMillis(750));
    RlsResponse nextSecond = ask("mongo_cps", descriptor("database", "users"));

    assertThat(first.overallCode()).isEqualTo(Code.OK);
    assertThat(first.statuses().get(0).limitRemaining()).isEqualTo(499);
    assertThat(first.statuses().get(0).currentLimit().requestsPerUnit()).isEqualTo(500);
    assertThat(first.statuses().get(0).durationUntilReset()).isEqualTo(Duration.ofSeconds(1));
    assertThat(over.overallCode()).isEqualTo(Code.OVER_LIMIT);
    assertThat(over.statuses().get(0).limitRemaining()).isZero();
    assertThat(otherValue.overallCode()).isEqualTo(Code.OK);
    assertThat(nextSecond.statuses().get(0).limitRemaining()).isEqualTo(499);
  }

  @Test
  void example2_everyMatchingDescriptorCounts_evenWhenAnotherIsOverLimit() {
    RlsRequest.Descriptor marketing =
        descriptor("message_type", "marketing", "to_number", "2061111111");
    RlsRequest.Descriptor anyMessage = descriptor("to_number", "2061111111");
    RlsResponse r = null;
    for (int i = 0; i < 6; i++) {
      r = ask("messaging", marketing, anyMessage);
    }

    assertThat(r.overallCode()).isEqualTo(Code.OVER_LIMIT);
    assertThat(r.statuses().get(0).code()).isEqualTo(Code.OVER_LIMIT);
    assertThat(r.statuses().get(0).currentLimit().unit()).isEqualTo(RlsUnit.DAY);
    assertThat(r.statuses().get(1).code()).isEqualTo(Code.OK);
    assertThat(r.statuses().get(1).limitRemaining()).as("100 - 6").isEqualTo(94);
    assertThat(
            ask("messaging", descriptor("message_type", "marketing", "to_number", "2062222222"))
                .statuses()
                .get(0)
                .limitRemaining())
        .as("another number has its own 5")
        .isEqualTo(4);
  }

  @Test
  void example3_theSpecificValueWins_andZeroPerUnitRefusesEverything() {
    RlsResponse blocked = ask("edge_proxy_per_ip", descriptor("remote_address", "50.0.0.5"));
    RlsResponse other = ask("edge_proxy_per_ip", descriptor("remote_address", "50.0.0.1"));

    assertThat(blocked.overallCode()).isEqualTo(Code.OVER_LIMIT);
    assertThat(blocked.statuses().get(0).currentLimit().requestsPerUnit()).isZero();
    assertThat(other.statuses().get(0).limitRemaining()).isEqualTo(9);
  }

  @Test
  void example4_aDescriptorOfTheWrongDepth_isOkWithoutLimit() {
    RlsResponse deep = ask("example4", descriptor("key", "value", "subkey", "subvalue"));
    RlsResponse shallow = ask("example4", descriptor("key", "value"));

    assertThat(deep.statuses().get(0).currentLimit().requestsPerUnit()).isEqualTo(300);
    assertThat(shallow.overallCode()).isEqualTo(Code.OK);
    assertThat(shallow.statuses().get(0).currentLimit()).isNull();
    assertThat(shallow.statuses().get(0).limitRemaining()).isZero();
    assertThat(shallow.statuses().get(0).durationUntilReset()).isNull();
  }

  @Test
  void example5_unlimited_isOkWithMaxUint32Remaining_andNoLimit() {
    RlsResponse r = ask("internal", descriptor("ldap", "x"), descriptor("azure", "y"));

    assertThat(r.statuses().get(0).code()).isEqualTo(Code.OK);
    assertThat(r.statuses().get(0).limitRemaining()).isEqualTo(4_294_967_295L);
    assertThat(r.statuses().get(0).currentLimit()).isNull();
    assertThat(r.statuses().get(1).limitRemaining()).isEqualTo(99);
    assertThat(r.statuses().get(1).durationUntilReset()).isEqualTo(Duration.ofSeconds(60));
  }

  @Test
  void example6_shadowMode_countsButAlwaysAnswersOk() {
    RlsResponse a = null;
    RlsResponse b = null;
    for (int i = 0; i < 21; i++) {
      a = ask("example6", descriptor("service", "auth-service", "user", "user-a"));
      b = ask("example6", descriptor("service", "auth-service", "user", "user-b"));
    }

    assertThat(a.overallCode()).isEqualTo(Code.OK);
    assertThat(a.statuses().get(0).limitRemaining()).as("over its 10, in shadow").isZero();
    assertThat(b.overallCode()).isEqualTo(Code.OVER_LIMIT);
  }

  @Test
  void example7_replaces_dropsTheNamedLimit_andLeavesItsCounterAlone() {
    RlsRequest.Descriptor specific = descriptor("key_1", "value_1", "user", "bkthomps");
    RlsRequest.Descriptor replacing = descriptor("key_2", "value_2", "user", "bkthomps");
    RlsResponse both = null;
    for (int i = 0; i < 8; i++) {
      both = ask("example7", specific, replacing);
    }
    RlsResponse alone = ask("example7", specific);

    assertThat(both.overallCode()).as("8 is within the replacing 10").isEqualTo(Code.OK);
    assertThat(both.statuses().get(0).currentLimit()).isNull();
    assertThat(both.statuses().get(1).limitRemaining()).isEqualTo(2);
    assertThat(alone.statuses().get(0).limitRemaining())
        .as("the 5/s limit was not touched")
        .isEqualTo(4);
  }

  @Test
  void example9_wildcard_countsEachValueSeparately() {
    for (int i = 0; i < 20; i++) {
      ask("example9", descriptor("key1", "value1"));
    }

    assertThat(ask("example9", descriptor("key1", "value1")).overallCode())
        .isEqualTo(Code.OVER_LIMIT);
    assertThat(ask("example9", descriptor("key1", "value2")).statuses().get(0).limitRemaining())
        .isEqualTo(19);
    assertThat(ask("example9", descriptor("key1", "other")).statuses().get(0).currentLimit())
        .isNull();
  }

  @Test
  void hitsAddend_ofTheRequest_countsThatMuch_andDescriptorAddendZeroOnlyLooks() {
    RlsResponse three =
        limiter.shouldRateLimit(new RlsRequest("internal", List.of(descriptor("azure", "y")), 3));
    RlsResponse look =
        limiter.shouldRateLimit(
            new RlsRequest(
                "internal",
                List.of(new RlsRequest.Descriptor(descriptor("azure", "y").entries(), null, 0L)),
                5));

    assertThat(three.statuses().get(0).limitRemaining()).isEqualTo(97);
    assertThat(look.statuses().get(0).limitRemaining()).isEqualTo(97);
  }

  @Test
  void hitsAddendThatCrossesTheLimit_isOverLimit_andStillCounted() {
    RlsResponse big =
        limiter.shouldRateLimit(
            new RlsRequest(
                "edge_proxy_per_ip", List.of(descriptor("remote_address", "1.2.3.4")), 11));
    RlsResponse next = ask("edge_proxy_per_ip", descriptor("remote_address", "1.2.3.4"));

    assertThat(big.overallCode()).isEqualTo(Code.OVER_LIMIT);
    assertThat(next.overallCode()).isEqualTo(Code.OVER_LIMIT);
  }

  @Test
  void windows_areAlignedToTheEpoch_inUnitsOfThirtyDayMonths() {
    RlsRequest.Descriptor d =
        new RlsRequest.Descriptor(
            descriptor("x", "y").entries(), new RlsRequest.LimitOverride(10, RlsUnit.MONTH), null);

    RlsResponse r = ask("example9", d);

    long now = clock.instant().getEpochSecond();
    assertThat(r.statuses().get(0).durationUntilReset())
        .isEqualTo(Duration.ofSeconds(2_592_000 - now % 2_592_000));
    assertThat(DescriptorLimiter.counterKey("example9", d, RlsUnit.MONTH.windowStart(now)))
        .isEqualTo("example9_x_y_" + (now / 2_592_000 * 2_592_000));
  }

  @Test
  void unknownDomain_answersOkForEveryDescriptor() {
    RlsResponse r = ask("nobody", descriptor("a", "b"), descriptor("c", "d"));

    assertThat(r.overallCode()).isEqualTo(Code.OK);
    assertThat(r.statuses()).hasSize(2).allSatisfy(s -> assertThat(s.currentLimit()).isNull());
  }

  @Test
  void emptyDomainOrNoDescriptors_isAnError_asInEnvoyproxyRatelimit() {
    assertThatThrownBy(() -> ask("", descriptor("a", "b")))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessage("rate limit domain must not be empty");
    assertThatThrownBy(() -> ask("internal"))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessage("rate limit descriptor list must not be empty");
  }

  @Test
  void fullOfLiveCounters_newDescriptorValuesAreOverLimit_andNoLiveCounterIsReset(@TempDir Path dir)
      throws Exception {
    Files.writeString(
        dir.resolve("api.yaml"),
        "domain: api\ndescriptors:\n  - key: k\n    rate_limit: {unit: day, requests_per_unit: 1}\n");
    DescriptorLimiter l = fromDirectory(dir);
    RlsRequest victim = new RlsRequest("api", List.of(descriptor("k", "victim")), 0);
    assertThat(l.shouldRateLimit(victim).overallCode()).isEqualTo(Code.OK);
    assertThat(l.shouldRateLimit(victim).overallCode()).isEqualTo(Code.OVER_LIMIT);

    RlsResponse last = null;
    for (int i = 0; i < 1_000; i++) {
      last = l.shouldRateLimit(new RlsRequest("api", List.of(descriptor("k", "flood-" + i)), 0));
    }

    assertThat(last.overallCode()).as("no room for a new counter").isEqualTo(Code.OVER_LIMIT);
    assertThat(last.degraded()).isEqualTo(io.portcullis.limit.InMemoryGcraLimiter.FULL_LABEL);
    assertThat(last.statuses().get(0).durationUntilReset())
        .as("try again in a second (as the policy's full limiter says), not at the day's end")
        .isEqualTo(Duration.ofSeconds(1));
    assertThat(last.statuses().get(0).currentLimit().unit()).isEqualTo(RlsUnit.DAY);
    assertThat(l.shouldRateLimit(victim).overallCode())
        .as("the victim's counter was not evicted and reset")
        .isEqualTo(Code.OVER_LIMIT);
  }

  private static RlsRequest.Descriptor users(long hitsAddend) {
    return new RlsRequest.Descriptor(
        List.of(new RlsRequest.Entry("database", "users")), null, hitsAddend);
  }

  @Test
  void hugeHitsAddend_isCapped_soTheCounterCannotWrapBackUnderTheLimit() {
    RlsResponse first = ask("mongo_cps", users(Long.MAX_VALUE));
    RlsResponse second = ask("mongo_cps", users(Long.MAX_VALUE));
    RlsResponse afterwards = ask("mongo_cps", descriptor("database", "users"));

    assertThat(first.overallCode()).isEqualTo(Code.OVER_LIMIT);
    assertThat(second.overallCode())
        .as("Long.MAX_VALUE twice wrapped the counter to -2")
        .isEqualTo(Code.OVER_LIMIT);
    assertThat(afterwards.overallCode()).isEqualTo(Code.OVER_LIMIT);
    assertThat(afterwards.statuses().get(0).limitRemaining()).isZero();
  }

  @Test
  void hitsAddendPast2To63_arrivingNegative_countsAsTheCap() {
    assertThat(ask("mongo_cps", users(-1L)).overallCode())
        .as("uint64 max arrives as -1")
        .isEqualTo(Code.OVER_LIMIT);
    assertThat(ask("mongo_cps", descriptor("database", "users")).overallCode())
        .isEqualTo(Code.OVER_LIMIT);
  }

  @Test
  void reload_swapsInTheNewConfiguration_andABadOneLeavesTheOldInPlace(@TempDir Path dir)
      throws Exception {
    Path file = dir.resolve("api.yaml");
    Files.writeString(
        file,
        "domain: api\ndescriptors:\n  - key: k\n    rate_limit: {unit: minute, requests_per_unit: 1}\n");
    DescriptorLimiter l = fromDirectory(dir);
    assertThat(
            l.shouldRateLimit(new RlsRequest("api", List.of(descriptor("k", "v")), 0))
                .statuses()
                .get(0)
                .limitRemaining())
        .isZero();

    Files.writeString(
        file,
        "domain: api\ndescriptors:\n  - key: k\n    rate_limit: {unit: minute, requests_per_unit: 50}\n");
    l.reload();
    long afterReload =
        l.shouldRateLimit(new RlsRequest("api", List.of(descriptor("k", "v")), 0))
            .statuses()
            .get(0)
            .limitRemaining();
    Files.writeString(
        file, "domain: api\ndescriptors:\n  - key: k\n    rate_limit: {unit: never}\n");

    assertThatThrownBy(l::reload)
        .isInstanceOf(RlsConfigException.class)
        .hasMessageContaining("api.yaml:4:");
    assertThat(afterReload).as("50 - 2 (the counter survives the reload)").isEqualTo(48);
    assertThat(l.config().find("api", descriptor("k", "v")).requestsPerUnit()).isEqualTo(50);
  }

  @Test
  void backendFailure_underDeny_isOverLimitAndFlagged_butShadowModeStaysOk() throws Exception {
    io.micrometer.core.instrument.simple.SimpleMeterRegistry registry =
        new io.micrometer.core.instrument.simple.SimpleMeterRegistry();
    DescriptorLimiter l = deniedWhileRedisIsDown(Duration.ofSeconds(1), registry);

    RlsResponse r =
        l.shouldRateLimit(
            new RlsRequest(
                "example6",
                List.of(
                    descriptor("service", "s", "user", "user-a"),
                    descriptor("service", "s", "user", "user-b")),
                0));

    assertThat(r.degraded()).isEqualTo("ratelimit_backend:deny");
    assertThat(r.statuses())
        .extracting(RlsResponse.Status::code)
        .containsExactly(Code.OK, Code.OVER_LIMIT);
    assertThat(
            registry
                .get(io.portcullis.metrics.MetricNames.RATELIMIT_BACKEND_ERRORS)
                .counter()
                .count())
        .isEqualTo(1);
  }

  @Test
  void backendFailure_underDeny_saysToRetryAfterTheRetryInterval_notAtTheEndOfTheWindow()
      throws Exception {
    DescriptorLimiter l =
        deniedWhileRedisIsDown(
            Duration.ofSeconds(5), new io.micrometer.core.instrument.simple.SimpleMeterRegistry());

    RlsResponse r =
        l.shouldRateLimit(
            new RlsRequest(
                "messaging",
                List.of(
                    descriptor("message_type", "marketing", "to_number", "2061111111"),
                    descriptor("nothing", "here")),
                0));

    RlsResponse.Status day = r.statuses().get(0);
    assertThat(r.overallCode()).isEqualTo(Code.OVER_LIMIT);
    assertThat(day.code()).isEqualTo(Code.OVER_LIMIT);
    assertThat(day.currentLimit().unit()).as("the limit that applies").isEqualTo(RlsUnit.DAY);
    assertThat(day.limitRemaining()).isZero();
    assertThat(day.durationUntilReset())
        .as("Redis is asked again in 5 s; the day's window ends in almost 12 hours")
        .isEqualTo(Duration.ofSeconds(5));
    assertThat(r.statuses().get(1).code()).as("no limit, nothing to refuse").isEqualTo(Code.OK);
    assertThat(r.statuses().get(1).durationUntilReset()).isNull();
  }

  @Test
  void aValueWithUnderscores_isCountedApart_fromTheDeeperDescriptorItSpellsOut(@TempDir Path dir)
      throws Exception {
    Files.writeString(
        dir.resolve("api.yaml"),
        """
        domain: api
        descriptors:
          - key: user
            rate_limit: {unit: minute, requests_per_unit: 100}
            descriptors:
              - key: path
                rate_limit: {unit: minute, requests_per_unit: 1}
        """);
    DescriptorLimiter l = fromDirectory(dir);

    RlsResponse attacker =
        l.shouldRateLimit(new RlsRequest("api", List.of(descriptor("user", "victim_path_x")), 0));
    RlsResponse victim =
        l.shouldRateLimit(
            new RlsRequest("api", List.of(descriptor("user", "victim", "path", "x")), 0));

    assertThat(attacker.statuses().get(0).limitRemaining()).isEqualTo(99);
    assertThat(victim.overallCode())
        .as("the victim's first request of the minute; 'victim_path_x' is not [victim, x]")
        .isEqualTo(Code.OK);
    assertThat(DescriptorLimiter.counterKey("api", descriptor("user", "a_b%5F"), 60))
        .isEqualTo("api_user_a%5Fb%255F_60");
  }

  /** The README configuration over counters whose Redis always fails, under {@code deny}. */
  private DescriptorLimiter deniedWhileRedisIsDown(
      Duration retryInterval, io.micrometer.core.instrument.MeterRegistry registry)
      throws Exception {
    FixedWindowCounters broken =
        hits -> {
          throw new io.portcullis.limit.LimitBackendException("down", new RuntimeException());
        };
    return DescriptorLimiter.builder()
        .config(limiter.config())
        .counters(
            new FailoverFixedWindowCounters(
                broken,
                new InMemoryFixedWindowCounters(clock, 100),
                io.portcullis.limit.BackendFailurePolicy.DENY,
                new io.portcullis.limit.BackendCircuit(
                    clock, retryInterval, io.portcullis.limit.BackendFailurePolicy.DENY, registry)))
        .clock(clock)
        .build();
  }

  /** A limiter reading {@code dir}, counting in memory with room for 100 live counters. */
  private DescriptorLimiter fromDirectory(Path dir) throws Exception {
    return DescriptorLimiter.builder()
        .configDirectory(dir)
        .counters(new InMemoryFixedWindowCounters(clock, 100))
        .clock(clock)
        .build();
  }
}
