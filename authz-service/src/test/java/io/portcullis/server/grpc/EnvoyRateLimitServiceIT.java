package io.portcullis.server.grpc;

import static io.portcullis.server.grpc.RlsClient.descriptor;
import static io.portcullis.server.grpc.RlsClient.request;
import static org.assertj.core.api.Assertions.assertThat;

import io.envoyproxy.envoy.service.ratelimit.v3.RateLimitResponse;
import io.envoyproxy.envoy.service.ratelimit.v3.RateLimitResponse.Code;
import io.portcullis.limit.redis.RedisFixedWindowCounters;
import io.portcullis.limit.rls.DescriptorLimiter;
import io.portcullis.limit.rls.RlsConfig;
import io.portcullis.testing.TestRedis;
import java.time.Instant;
import java.time.InstantSource;
import java.util.Map;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.redisson.api.RedissonClient;

/** Two rate limit service instances counting in the real Redis, through in-process gRPC. */
class EnvoyRateLimitServiceIT {
  private String prefix;
  private RedissonClient redisA;
  private RedissonClient redisB;
  private RlsClient a;
  private RlsClient b;

  @BeforeEach
  void start() throws Exception {
    prefix = TestRedis.randomPrefix();
    redisA = TestRedis.client();
    redisB = TestRedis.client();
    a = new RlsClient(limiter(redisA));
    b = new RlsClient(limiter(redisB));
  }

  private DescriptorLimiter limiter(RedissonClient redis) throws Exception {
    return DescriptorLimiter.builder()
        .config(RlsConfig.parse(Map.of("edge.yaml", EnvoyRateLimitServiceTest.CONFIG)))
        .counters(new RedisFixedWindowCounters(redis, prefix))
        .clock(InstantSource.system())
        .build();
  }

  @AfterEach
  void stop() throws Exception {
    a.close();
    b.close();
    TestRedis.deleteKeys(redisA, prefix);
    redisA.shutdown();
    redisB.shutdown();
  }

  @Test
  void twoInstances_shareOneCounterPerDescriptorAndWindow() {
    RateLimitResponse first =
        a.stub.shouldRateLimit(request("edge", descriptor("remote_address", "203.0.113.7")));
    RateLimitResponse second =
        b.stub.shouldRateLimit(request("edge", descriptor("remote_address", "203.0.113.7")));
    RateLimitResponse third =
        a.stub.shouldRateLimit(request("edge", descriptor("remote_address", "203.0.113.7")));
    RateLimitResponse fourth =
        b.stub.shouldRateLimit(request("edge", descriptor("remote_address", "203.0.113.7")));

    // unless the minute rolled over between the calls, the four share one window
    if (first.getStatuses(0).getDurationUntilReset().getSeconds()
        >= fourth.getStatuses(0).getDurationUntilReset().getSeconds()) {
      assertThat(first.getStatuses(0).getLimitRemaining()).isEqualTo(2);
      assertThat(second.getStatuses(0).getLimitRemaining()).isEqualTo(1);
      assertThat(third.getStatuses(0).getLimitRemaining()).isZero();
      assertThat(fourth.getOverallCode()).isEqualTo(Code.OVER_LIMIT);
    }
  }

  @Test
  void counters_areKeyedByDescriptorAndWindowStart_andExpireAfterTheUnit() {
    a.stub.shouldRateLimit(request("edge", descriptor("segment", "partners", "client", "acme")));

    long hour = Instant.now().getEpochSecond() / 3600 * 3600;
    String key = prefix + ":rls:edge_segment_partners_client_acme_" + hour;
    // one request, so unless the hour rolled over right now the key is there with its TTL
    if (redisA.getKeys().countExists(key) == 1) {
      assertThat(redisA.getAtomicLong(key).get()).isEqualTo(1);
      assertThat(redisA.getAtomicLong(key).remainTimeToLive()).isBetween(3_590_000L, 3_600_000L);
    } else {
      assertThat(
              redisA
                  .getKeys()
                  .countExists(prefix + ":rls:edge_segment_partners_client_acme_" + (hour + 3600)))
          .isEqualTo(1);
    }
  }

  @Test
  void longValues_areCountedUnderShortKeys_eachValueOnItsOwnCounter() {
    String common = "x".repeat(16 * 1024);
    RateLimitResponse one =
        a.stub.shouldRateLimit(
            request("edge", descriptor("segment", "partners", "client", common + "1")));
    RateLimitResponse again =
        b.stub.shouldRateLimit(
            request("edge", descriptor("segment", "partners", "client", common + "1")));
    RateLimitResponse other =
        a.stub.shouldRateLimit(
            request("edge", descriptor("segment", "partners", "client", common + "2")));

    Iterable<String> keys = redisA.getKeys().getKeysByPattern(prefix + ":rls:*");
    assertThat(keys)
        .as("a 16 KiB client value must not make a 16 KiB Redis key (or in-memory counter)")
        .hasSize(2)
        .allSatisfy(k -> assertThat(k.length()).isLessThan(prefix.length() + 80));
    // unless the hour rolled over between the calls, the same value shares its counter
    if (one.getStatuses(0).getDurationUntilReset().getSeconds()
        >= other.getStatuses(0).getDurationUntilReset().getSeconds()) {
      assertThat(one.getStatuses(0).getLimitRemaining()).isEqualTo(999);
      assertThat(again.getStatuses(0).getLimitRemaining()).isEqualTo(998);
      assertThat(other.getStatuses(0).getLimitRemaining()).isEqualTo(999);
    }
  }

  @Test
  void entryValuesThatAreNotUtf8_areCountedApart_underKeysThatSpellTheBytes() {
    for (byte b : new byte[] {(byte) 0xFF, (byte) 0xFE}) {
      a.shouldRateLimitRaw(
          RlsClient.withBytes(
              request("edge", descriptor("segment", "partners", "client", "#")),
              "#",
              new byte[] {b}));
    }

    long hour = Instant.now().getEpochSecond() / 3600 * 3600;
    String ff = prefix + ":rls:edge_segment_partners_client_%FF_";
    String fe = prefix + ":rls:edge_segment_partners_client_%FE_";
    // two counters, not one "?" (what UTF-8 makes of a lone surrogate), unless the hour rolled over
    if (redisA.getKeys().countExists(ff + hour, fe + hour) == 2) {
      assertThat(redisA.getAtomicLong(ff + hour).get()).isEqualTo(1);
      assertThat(redisA.getAtomicLong(fe + hour).get()).isEqualTo(1);
    } else {
      assertThat(redisA.getKeys().getKeysByPattern(prefix + ":rls:*")).hasSize(2);
    }
  }

  @Test
  void everyDescriptorCounts_evenWhenAnotherIsOverLimit() {
    RateLimitResponse first = null;
    RateLimitResponse last = null;
    for (int i = 0; i < 5; i++) {
      last =
          a.stub.shouldRateLimit(
              request(
                  "edge",
                  descriptor("remote_address", "198.51.100.9"),
                  descriptor("segment", "partners", "client", "globex")));
      if (first == null) {
        first = last;
      }
    }

    // unless the minute rolled over during the loop, the per-IP limit of 3 is exceeded ...
    if (first.getStatuses(0).getDurationUntilReset().getSeconds()
        >= last.getStatuses(0).getDurationUntilReset().getSeconds()) {
      assertThat(last.getOverallCode()).isEqualTo(Code.OVER_LIMIT);
      assertThat(last.getStatuses(0).getCode()).isEqualTo(Code.OVER_LIMIT);
    }
    // ... and the per-client hour limit still counted all five requests
    if (first.getStatuses(1).getDurationUntilReset().getSeconds()
        >= last.getStatuses(1).getDurationUntilReset().getSeconds()) {
      assertThat(last.getStatuses(1).getCode()).isEqualTo(Code.OK);
      assertThat(last.getStatuses(1).getLimitRemaining()).isEqualTo(995);
    }
  }
}
