package io.portcullis.limit.redis;

import static org.assertj.core.api.Assertions.assertThat;

import io.portcullis.testing.TestRedis;
import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.redisson.api.RScript;
import org.redisson.api.RedissonClient;
import org.redisson.client.codec.StringCodec;

/** gcra.lua on its own, called with raw KEYS and ARGV against the real Redis. */
class GcraScriptIT {
  private static RedissonClient redis;
  private String rateKey;
  private String quotaKey;
  private String prefix;

  @BeforeAll
  static void connect() {
    redis = TestRedis.client();
  }

  @AfterAll
  static void disconnect() {
    redis.shutdown();
  }

  @BeforeEach
  void keys() {
    prefix = TestRedis.randomPrefix();
    rateKey = prefix + ":{t}:r:bucket";
    quotaKey = prefix + ":{t}:q:bucket@0";
  }

  @AfterEach
  void clean() {
    TestRedis.deleteKeys(redis, prefix);
  }

  /** One request: {@code args} = consume flag, then four per bucket (its bucket count is added). */
  private List<Long> run(List<Object> keys, String... args) {
    String[] withCount = new String[args.length + 1];
    withCount[0] = args[0];
    withCount[1] = Integer.toString(keys.size());
    System.arraycopy(args, 1, withCount, 2, args.length - 1);
    return runRaw(keys, (Object[]) withCount);
  }

  private <T> List<T> runRaw(List<Object> keys, Object... args) {
    return redis
        .getScript(StringCodec.INSTANCE)
        .eval(
            RScript.Mode.READ_WRITE,
            RedisGcraLimiter.SCRIPT.source(),
            RScript.ReturnType.LIST,
            keys,
            args);
  }

  @Test
  void admit_writesTatOfNowPlusT_andCounterPlusCost_withExpiries() {
    // rate: T = 250 ms, burst 4; quota: 10 permits, window ends in 60 s
    List<Long> r =
        run(List.of(rateKey, quotaKey), "1", "r", "1", "250000", "4", "q", "2", "10", "60000");

    long now = r.get(0);
    assertThat(now)
        .isCloseTo(
            System.currentTimeMillis() * 1000, org.assertj.core.data.Offset.offset(5_000_000L));
    assertThat(r.subList(1, 12)).containsExactly(1L, 1L, 3L, 250_000L, 0L, 0L, 1L, 8L, 0L, 0L, 0L);
    assertThat(redis.getBucket(rateKey, StringCodec.INSTANCE).get())
        .isEqualTo(Long.toString(now + 250_000));
    assertThat(redis.getBucket(rateKey).remainTimeToLive()).isBetween(200L, 251L);
    assertThat(redis.getBucket(quotaKey, StringCodec.INSTANCE).get()).isEqualTo("2");
    assertThat(redis.getBucket(quotaKey).remainTimeToLive()).isBetween(59_000L, 60_000L);
  }

  @Test
  void oneBucketWithoutRoom_refusesAll_andWritesNothing() {
    redis.getBucket(quotaKey, StringCodec.INSTANCE).set("10");

    List<Long> r =
        run(List.of(rateKey, quotaKey), "1", "r", "1", "250000", "4", "q", "1", "10", "60000");

    assertThat(r.get(1)).as("all admitted").isZero();
    assertThat(r.get(2)).as("rate bucket alone would admit").isEqualTo(1L);
    assertThat(r.get(7)).as("quota refuses").isZero();
    assertThat(r.get(8)).as("quota remaining").isZero();
    assertThat(redis.getBucket(rateKey).isExists()).isFalse();
    assertThat(redis.getBucket(quotaKey, StringCodec.INSTANCE).get()).isEqualTo("10");
  }

  @Test
  void refusedRate_returnsRetryAfterUntilOneUnit_andRemainingZero() {
    run(List.of(rateKey), "1", "r", "1", "1000000", "1"); // T = 1 s, burst 1

    List<Long> r = run(List.of(rateKey), "1", "r", "1", "1000000", "1");

    assertThat(r.get(1)).isZero();
    assertThat(r.get(3)).as("remaining").isZero();
    assertThat(r.get(5)).as("retry after, µs").isBetween(990_000L, 1_000_000L);
    assertThat(r.get(4)).as("reset, µs").isEqualTo(r.get(5));
  }

  @Test
  void peek_writesNothing() {
    List<Long> r =
        run(List.of(rateKey, quotaKey), "0", "r", "1", "250000", "4", "q", "1", "10", "60000");

    assertThat(r.get(1)).isEqualTo(1L);
    assertThat(redis.getBucket(rateKey).isExists()).isFalse();
    assertThat(redis.getBucket(quotaKey).isExists()).isFalse();
  }

  @Test
  void tinyEmissionInterval_stillGetsAPositiveTtl() {
    run(List.of(rateKey), "1", "r", "1", "1", "1"); // T = 1 µs: full again after 1 µs

    long ttl = redis.getBucket(rateKey).remainTimeToLive();

    assertThat(ttl).as("-1 would mean no expiry").isIn(-2L, 0L, 1L);
  }

  @Test
  void storedTatInThePast_meansAFullBucket() {
    redis.getBucket(rateKey, StringCodec.INSTANCE).set("1000");

    List<Long> r = run(List.of(rateKey), "1", "r", "1", "100000", "3");

    assertThat(r.get(2)).isEqualTo(1L);
    assertThat(r.get(3)).isEqualTo(2L);
  }

  @Test
  void batch_sameBucketTwice_decidedInOrder_secondSeesTheFirstTake() {
    // two requests on one rate bucket (T = 1 s, burst 1), then a third on a quota
    List<Long> r =
        runRaw(
            List.of(rateKey, rateKey, quotaKey),
            "1",
            "1",
            "r",
            "1",
            "1000000",
            "1",
            "1",
            "1",
            "r",
            "1",
            "1000000",
            "1",
            "1",
            "1",
            "q",
            "1",
            "10",
            "60000");

    assertThat(r.get(1)).as("first request admitted").isEqualTo(1L);
    assertThat(r.get(7)).as("second request, same bucket, refused").isZero();
    assertThat(r.get(13)).as("third request admitted").isEqualTo(1L);
    assertThat(r).hasSize(1 + 3 * 6);
    assertThat(redis.getBucket(rateKey, StringCodec.INSTANCE).get())
        .isEqualTo(Long.toString(r.get(0) + 1_000_000));
    assertThat(redis.getBucket(quotaKey, StringCodec.INSTANCE).get()).isEqualTo("1");
  }

  @Test
  void batch_requestOnAKeyOfAnotherType_failsAlone_theOthersAreDecided() {
    String listKey = prefix + ":{t}:r:a-list";
    redis.getList(listKey, StringCodec.INSTANCE).add("x");

    List<Object> r =
        runRaw(
            List.of(rateKey, listKey, quotaKey),
            "1",
            "1",
            "r",
            "1",
            "1000000",
            "1",
            "1",
            "1",
            "r",
            "1",
            "1000000",
            "1",
            "1",
            "1",
            "q",
            "1",
            "10",
            "60000");

    assertThat(r.get(1)).isEqualTo(1L);
    assertThat(r.get(7)).as("failed").isEqualTo(-1L);
    assertThat(String.valueOf(r.get(8))).contains("WRONGTYPE");
    assertThat(r.get(9)).as("the next request is decided").isEqualTo(1L);
    assertThat(redis.getBucket(rateKey).isExists()).isTrue();
    assertThat(redis.getBucket(quotaKey, StringCodec.INSTANCE).get()).isEqualTo("1");
  }
}
