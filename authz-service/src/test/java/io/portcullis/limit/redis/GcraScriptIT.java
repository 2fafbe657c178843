package io.portcullis.limit.redis;

import static org.assertj.core.api.Assertions.assertThat;

import io.portcullis.testing.TestRedis;
import java.util.ArrayList;
import java.util.Arrays;
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

  /**
   * One request: {@code args} = consume flag, then four per bucket (its bucket count is added).
   * Returns Redis time, the all-admitted flag, then five values per bucket.
   */
  private List<Long> run(List<Object> keys, String... args) {
    String[] withCount = new String[args.length + 1];
    withCount[0] = args[0];
    withCount[1] = Integer.toString(keys.size());
    System.arraycopy(args, 1, withCount, 2, args.length - 1);
    GcraReply reply = GcraReply.split(runRaw(keys, (Object[]) withCount), 1)[0];
    List<Long> r = new ArrayList<>();
    r.add(reply.redisNow());
    Arrays.stream(reply.values(keys.size())).forEach(r::add);
    return r;
  }

  /** The script's whole one-string reply. */
  private String runRaw(List<Object> keys, Object... args) {
    return redis
        .getScript(StringCodec.INSTANCE)
        .eval(
            RScript.Mode.READ_WRITE,
            RedisGcraLimiter.SCRIPT.source(),
            RScript.ReturnType.VALUE,
            keys,
            args);
  }

  @Test
  void admit_writesTatOfNowPlusT_andCounterPlusCost_withExpiries() {
    // rate: T = 30 s, burst 4; quota: 10 permits, window ends in 60 s
    long called = System.nanoTime();
    List<Long> r =
        run(List.of(rateKey, quotaKey), "1", "r", "1", "30000000", "4", "q", "2", "10", "60000");

    long now = r.get(0);
    assertThat(now)
        .isCloseTo(
            System.currentTimeMillis() * 1000, org.assertj.core.data.Offset.offset(5_000_000L));
    assertThat(r.subList(1, 12))
        .containsExactly(1L, 1L, 3L, 30_000_000L, 0L, 0L, 1L, 8L, 0L, 0L, 0L);
    assertThat(redis.getBucket(rateKey, StringCodec.INSTANCE).get())
        .isEqualTo(Long.toString(now + 30_000_000));
    // the rate key lives until the bucket is full again, rounded up to the next ms
    TestRedis.assertExpiry(redis, rateKey, 30_001, called);
    assertThat(redis.getBucket(quotaKey, StringCodec.INSTANCE).get()).isEqualTo("2");
    TestRedis.assertExpiry(redis, quotaKey, 60_000, called);
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
    // T = 30 s, burst 1: the second call is refused however long the machine takes between them
    long first = run(List.of(rateKey), "1", "r", "1", "30000000", "1").get(0);

    List<Long> r = run(List.of(rateKey), "1", "r", "1", "30000000", "1");

    long between = r.get(0) - first; // in Redis time, as the script sees it
    assertThat(r.get(1)).isZero();
    assertThat(r.get(3)).as("remaining").isZero();
    assertThat(r.get(5))
        .as("retry after, µs: one T less the time between the calls")
        .isEqualTo(30_000_000L - between);
    assertThat(r.get(4)).as("reset, µs").isEqualTo(r.get(5));
    assertThat(r.get(6)).as("state: the first call's TAT").isEqualTo(first + 30_000_000L);
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
  void storedTatBeyondCapacity_fromABackwardsClockStep_isClampedToAnEmptyBucket_andStored() {
    // T = 200 ms, burst 10: capacity 2 s. A TAT 60 s ahead of TIME only comes from a clock step.
    long redisNow = run(List.of(rateKey), "0", "r", "1", "200000", "10").get(0);
    long farAhead = redisNow + 60_000_000L;
    redis.getBucket(rateKey, StringCodec.INSTANCE).set(Long.toString(farAhead));

    long called = System.nanoTime();
    List<Long> r = run(List.of(rateKey), "1", "r", "1", "200000", "10");

    long now = r.get(0);
    assertThat(r.get(1)).as("an empty bucket refuses").isZero();
    assertThat(r.get(5)).as("retry after, µs: one interval, not ~60 s").isEqualTo(200_000L);
    assertThat(r.get(4)).as("reset, µs: the capacity").isEqualTo(2_000_000L);
    assertThat(r.get(6)).as("state reported clamped").isEqualTo(now + 2_000_000L);
    assertThat(redis.getBucket(rateKey, StringCodec.INSTANCE).get())
        .as("clamped TAT stored, so the bucket refills from now on")
        .isEqualTo(Long.toString(now + 2_000_000L));
    TestRedis.assertExpiry(redis, rateKey, 2_001, called);
  }

  @Test
  void storedTatInThePast_meansAFullBucket() {
    redis.getBucket(rateKey, StringCodec.INSTANCE).set("1000");

    List<Long> r = run(List.of(rateKey), "1", "r", "1", "100000", "3");

    assertThat(r.get(2)).isEqualTo(1L);
    assertThat(r.get(3)).isEqualTo(2L);
  }

  /** One request of a batch: its keys and, per bucket, kind, cost, a and b. */
  private record Request(List<String> keys, List<String> buckets) {
    static Request rate(String key, long cost, long intervalMicros, long burst) {
      return new Request(List.of(key), List.of("r", "" + cost, "" + intervalMicros, "" + burst));
    }

    static Request quota(String key, long cost, long permits, long ttlMillis) {
      return new Request(List.of(key), List.of("q", "" + cost, "" + permits, "" + ttlMillis));
    }

    /** One request over the buckets of all {@code parts}. */
    static Request of(Request... parts) {
      List<String> keys = new ArrayList<>();
      List<String> buckets = new ArrayList<>();
      for (Request p : parts) {
        keys.addAll(p.keys());
        buckets.addAll(p.buckets());
      }
      return new Request(keys, buckets);
    }
  }

  /** The requests as one call, each consuming; its reply split into one line per request. */
  private GcraReply[] batch(Request... requests) {
    List<Object> keys = new ArrayList<>();
    List<String> args = new ArrayList<>();
    for (Request r : requests) {
      keys.addAll(r.keys());
      args.add("1");
      args.add(Integer.toString(r.keys().size()));
      args.addAll(r.buckets());
    }
    return GcraReply.split(runRaw(keys, args.toArray()), requests.length);
  }

  private static List<Long> values(GcraReply line, int buckets) {
    return Arrays.stream(line.values(buckets)).boxed().toList();
  }

  @Test
  void batch_sameBucketTwice_decidedInOrder_secondSeesTheFirstTake() {
    // two requests on one rate bucket (T = 1 s, burst 1), then a third on a quota
    GcraReply[] r =
        batch(
            Request.rate(rateKey, 1, 1_000_000, 1),
            Request.rate(rateKey, 1, 1_000_000, 1),
            Request.quota(quotaKey, 1, 10, 60_000));

    long now = r[0].redisNow();
    assertThat(values(r[0], 1))
        .as("first admitted")
        .containsExactly(1L, 1L, 0L, 1_000_000L, 0L, 0L);
    assertThat(values(r[1], 1))
        .as("second, same bucket, refused; it sees the first take as its state")
        .containsExactly(0L, 0L, 0L, 1_000_000L, 1_000_000L, now + 1_000_000);
    assertThat(values(r[2], 1)).as("third admitted").containsExactly(1L, 1L, 9L, 0L, 0L, 0L);
    assertThat(redis.getBucket(rateKey, StringCodec.INSTANCE).get())
        .isEqualTo(Long.toString(now + 1_000_000));
    assertThat(redis.getBucket(quotaKey, StringCodec.INSTANCE).get()).isEqualTo("1");
  }

  @Test
  void batch_requestOnAKeyOfAnotherType_failsAlone_theOthersAreDecided() {
    String listKey = prefix + ":{t}:r:a-list";
    redis.getList(listKey, StringCodec.INSTANCE).add("x");

    GcraReply[] r =
        batch(
            Request.rate(rateKey, 1, 1_000_000, 1),
            Request.rate(listKey, 1, 1_000_000, 1),
            Request.quota(quotaKey, 1, 10, 60_000));

    assertThat(r[0].failed()).isFalse();
    assertThat(r[0].values(1)[0]).isEqualTo(1L);
    assertThat(r[1].failed()).isTrue();
    assertThat(r[1].error()).contains("WRONGTYPE");
    assertThat(r[2].failed()).as("the next request is decided").isFalse();
    assertThat(values(r[2], 1)).containsExactly(1L, 1L, 9L, 0L, 0L, 0L);
    assertThat(redis.getBucket(rateKey).isExists()).isTrue();
    assertThat(redis.getBucket(quotaKey, StringCodec.INSTANCE).get()).isEqualTo("1");
  }

  @Test
  void batch_failureBetweenManyBucketRequests_eachLineCarriesItsOwnBuckets() {
    // every bucket's remaining differs, so a line read one value or one bucket off would show
    String listKey = prefix + ":{t}:q:a-list";
    redis.getList(listKey, StringCodec.INSTANCE).add("x");
    Request six =
        Request.of(
            Request.rate(prefix + ":{t}:r:a", 1, 1000, 11),
            Request.quota(prefix + ":{t}:q:b@0", 2, 22, 60_000),
            Request.rate(prefix + ":{t}:r:c", 3, 1000, 33),
            Request.quota(prefix + ":{t}:q:d@0", 4, 44, 60_000),
            Request.rate(prefix + ":{t}:r:e", 5, 1000, 55),
            Request.quota(prefix + ":{t}:q:f@0", 6, 66, 60_000));
    Request failing =
        Request.of(Request.rate(prefix + ":{t}:r:g", 1, 1000, 5), Request.quota(listKey, 1, 9, 1));
    Request three =
        Request.of(
            Request.quota(prefix + ":{t}:q:b@0", 1, 22, 60_000), // after the six's take of 2
            Request.rate(prefix + ":{t}:r:h", 1, 1000, 77),
            Request.quota(prefix + ":{t}:q:i@0", 88, 88, 60_000));

    GcraReply[] r = batch(Request.rate(rateKey, 1, 1000, 7), six, failing, three);

    assertThat(values(r[0], 1)).containsExactly(1L, 1L, 6L, 1000L, 0L, 0L);
    assertThat(values(r[1], 6))
        .containsExactly(
            1L, // all admitted
            1L, 10L, 1000L, 0L, 0L, 1L, 20L, 0L, 0L, 0L, 1L, 30L, 3000L, 0L, 0L, 1L, 40L, 0L, 0L,
            0L, 1L, 50L, 5000L, 0L, 0L, 1L, 60L, 0L, 0L, 0L);
    assertThat(r[2].failed()).isTrue();
    assertThat(r[2].error()).contains("WRONGTYPE");
    assertThat(redis.getBucket(prefix + ":{t}:r:g").isExists())
        .as("the failed request took nothing")
        .isFalse();
    assertThat(values(r[3], 3))
        .containsExactly(1L, 1L, 19L, 0L, 0L, 2L, 1L, 76L, 1000L, 0L, 0L, 1L, 0L, 0L, 0L, 0L);
    assertThat(redis.getBucket(prefix + ":{t}:q:b@0", StringCodec.INSTANCE).get()).isEqualTo("3");
  }

  @Test
  void largeValues_areExactIntegers_notFloatingPointNotation() {
    // T = one year in µs with a burst of 100, and a quota of almost 2^53 permits: values
    // past the 14 digits that Lua's default number formatting keeps
    long year = 31_536_000_000_000L;
    long permits = 9_007_199_254_740_000L;

    GcraReply[] r =
        batch(
            Request.rate(rateKey, 1, year, 100),
            Request.of(
                Request.rate(rateKey, 2, year, 100), Request.quota(quotaKey, 1, permits, 60_000)));

    long now = r[0].redisNow();
    assertThat(now).isGreaterThan(1_000_000_000_000_000L);
    assertThat(values(r[0], 1)).containsExactly(1L, 1L, 99L, year, 0L, 0L);
    assertThat(values(r[1], 2))
        .containsExactly(1L, 1L, 97L, 3 * year, 0L, now + year, 1L, permits - 1, 0L, 0L, 0L);
    assertThat(redis.getBucket(rateKey, StringCodec.INSTANCE).get())
        .isEqualTo(Long.toString(now + 3 * year));
  }
}
