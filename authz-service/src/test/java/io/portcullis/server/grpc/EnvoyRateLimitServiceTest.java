package io.portcullis.server.grpc;

import static io.portcullis.server.grpc.RlsClient.descriptor;
import static io.portcullis.server.grpc.RlsClient.request;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowableOfType;

import com.google.protobuf.UInt64Value;
import io.envoyproxy.envoy.extensions.common.ratelimit.v3.RateLimitDescriptor;
import io.envoyproxy.envoy.service.ratelimit.v3.RateLimitRequest;
import io.envoyproxy.envoy.service.ratelimit.v3.RateLimitResponse;
import io.envoyproxy.envoy.service.ratelimit.v3.RateLimitResponse.Code;
import io.envoyproxy.envoy.type.v3.RateLimitUnit;
import io.grpc.Context;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.testing.StreamRecorder;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import io.portcullis.limit.BackendCircuit;
import io.portcullis.limit.BackendFailurePolicy;
import io.portcullis.limit.LimitBackendException;
import io.portcullis.limit.rls.DescriptorLimiter;
import io.portcullis.limit.rls.FailoverFixedWindowCounters;
import io.portcullis.limit.rls.FixedWindowCounters;
import io.portcullis.limit.rls.InMemoryFixedWindowCounters;
import io.portcullis.limit.rls.RlsConfig;
import io.portcullis.testing.FakeClock;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

class EnvoyRateLimitServiceTest {
  static final String CONFIG =
      """
      domain: edge
      descriptors:
        - key: remote_address
          rate_limit: { unit: minute, requests_per_unit: 3, name: per_ip }
        - key: ldap
          rate_limit: { unlimited: true }
        - key: segment
          value: partners
          descriptors:
            - key: client
              rate_limit: { unit: hour, requests_per_unit: 1000 }
      """;

  private final FakeClock clock = FakeClock.at("2026-05-10T12:00:20Z");
  private RlsClient rls;

  @BeforeEach
  void start() throws Exception {
    rls = new RlsClient(limiter(new InMemoryFixedWindowCounters(clock, 1000)));
  }

  private DescriptorLimiter limiter(FixedWindowCounters counters) throws Exception {
    return DescriptorLimiter.builder()
        .config(RlsConfig.parse(Map.of("edge.yaml", CONFIG)))
        .counters(counters)
        .clock(clock)
        .build();
  }

  @AfterEach
  void stop() throws Exception {
    rls.close();
  }

  /** Serves again, over counters whose Redis always fails, under {@code policy}. */
  private void redisDown(BackendFailurePolicy policy, Duration retryInterval) throws Exception {
    rls.close();
    FixedWindowCounters down =
        hits -> {
          throw new LimitBackendException("down", new RuntimeException());
        };
    rls =
        new RlsClient(
            limiter(
                new FailoverFixedWindowCounters(
                    down,
                    new InMemoryFixedWindowCounters(clock, 100),
                    policy,
                    new BackendCircuit(clock, retryInterval, policy, new SimpleMeterRegistry()))));
  }

  @Test
  void withinLimit_answersOkWithCurrentLimitRemainingAndTimeToReset() {
    RateLimitResponse r =
        rls.stub.shouldRateLimit(request("edge", descriptor("remote_address", "203.0.113.7")));

    assertThat(r.getOverallCode()).isEqualTo(Code.OK);
    RateLimitResponse.DescriptorStatus s = r.getStatuses(0);
    assertThat(s.getCode()).isEqualTo(Code.OK);
    assertThat(s.getCurrentLimit().getRequestsPerUnit()).isEqualTo(3);
    assertThat(s.getCurrentLimit().getUnit()).isEqualTo(RateLimitResponse.RateLimit.Unit.MINUTE);
    assertThat(s.getCurrentLimit().getName()).isEqualTo("per_ip");
    assertThat(s.getLimitRemaining()).isEqualTo(2);
    assertThat(s.getDurationUntilReset().getSeconds()).isEqualTo(40);
    assertThat(r.getResponseHeadersToAddList()).as("no Retry-After on OK").isEmpty();
    assertThat(r.getRawBody()).as("no body on OK").isEmpty();
  }

  @Test
  void overLimit_answersOverLimitOverall_andPerDescriptor() {
    for (int i = 0; i < 3; i++) {
      rls.stub.shouldRateLimit(request("edge", descriptor("remote_address", "203.0.113.7")));
    }

    RateLimitResponse r =
        rls.stub.shouldRateLimit(
            request(
                "edge",
                descriptor("remote_address", "203.0.113.7"),
                descriptor("segment", "partners", "client", "acme")));

    assertThat(r.getOverallCode()).isEqualTo(Code.OVER_LIMIT);
    assertThat(r.getStatuses(0).getCode()).isEqualTo(Code.OVER_LIMIT);
    assertThat(r.getStatuses(0).getLimitRemaining()).isZero();
    assertThat(r.getStatuses(1).getCode()).isEqualTo(Code.OK);
    assertThat(r.getStatuses(1).getLimitRemaining()).isEqualTo(999);
    // Envoy adds these to its 429: the per-minute limit resets in 40 s (the hour's OK
    // descriptor, resetting in 40 min, does not hold the request back)
    assertThat(r.getResponseHeadersToAddList())
        .extracting(h -> h.getKey() + ": " + h.getValue())
        .containsExactly("retry-after: 40", "content-type: application/problem+json");
    // ... and this as its body: the problem document of a Check deny, without a decision id
    assertThat(r.getRawBody().toStringUtf8())
        .isEqualTo(
            "{\"type\":\"urn:portcullis:error:rate_limited\",\"title\":\"Too many requests\","
                + "\"status\":429}");
  }

  @Test
  void unlimitedAndUnknown_answerOk_unlimitedWithMaxUint32() {
    RateLimitResponse r =
        rls.stub.shouldRateLimit(
            request("edge", descriptor("ldap", "x"), descriptor("nothing", "y")));

    assertThat(r.getStatuses(0).getLimitRemaining()).isEqualTo(-1); // uint32 max on the wire
    assertThat(Integer.toUnsignedLong(r.getStatuses(0).getLimitRemaining()))
        .isEqualTo(4_294_967_295L);
    assertThat(r.getStatuses(0).hasCurrentLimit()).isFalse();
    assertThat(r.getStatuses(1).hasCurrentLimit()).isFalse();
    assertThat(r.getStatuses(1).hasDurationUntilReset()).isFalse();
  }

  @Test
  void hitsAddend_ofRequest_andOfDescriptor_areHonoured() {
    RateLimitResponse byRequest =
        rls.stub.shouldRateLimit(
            request("edge", descriptor("remote_address", "198.51.100.1")).toBuilder()
                .setHitsAddend(2)
                .build());
    RateLimitDescriptor lookOnly =
        descriptor("remote_address", "198.51.100.1").toBuilder()
            .setHitsAddend(UInt64Value.of(0))
            .build();
    RateLimitResponse byDescriptor =
        rls.stub.shouldRateLimit(request("edge", lookOnly).toBuilder().setHitsAddend(5).build());

    assertThat(byRequest.getStatuses(0).getLimitRemaining()).isEqualTo(1);
    assertThat(byDescriptor.getStatuses(0).getLimitRemaining()).isEqualTo(1);
  }

  @Test
  void descriptorLimitSentByEnvoy_isUsed() {
    RateLimitDescriptor withLimit =
        descriptor("anything", "x").toBuilder()
            .setLimit(
                RateLimitDescriptor.RateLimitOverride.newBuilder()
                    .setRequestsPerUnit(7)
                    .setUnit(RateLimitUnit.HOUR))
            .build();

    RateLimitResponse r = rls.stub.shouldRateLimit(request("edge", withLimit));

    assertThat(r.getStatuses(0).getCurrentLimit().getRequestsPerUnit()).isEqualTo(7);
    assertThat(r.getStatuses(0).getCurrentLimit().getUnit())
        .isEqualTo(RateLimitResponse.RateLimit.Unit.HOUR);
    assertThat(r.getStatuses(0).getLimitRemaining()).isEqualTo(6);
  }

  /** remote_address = "1" followed by {@code tail}, as the bytes Envoy would send. */
  private long remainingFor(byte... tail) {
    byte[] value = new byte[1 + tail.length];
    value[0] = '1';
    System.arraycopy(tail, 0, value, 1, tail.length);
    String placeholder = "#".repeat(value.length);
    return rls.shouldRateLimitRaw(
            RlsClient.withBytes(
                request("edge", descriptor("remote_address", placeholder)), placeholder, value))
        .getStatuses(0)
        .getLimitRemaining();
  }

  @Test
  void entryValuesThatAreNotUtf8_areCounted_eachByteStringOnItsOwnCounter() {
    // Envoy copies header bytes (obs-text 0x80-0xFF) into the string field unchecked; protobuf
    // refused the message and Envoy, failure_mode_deny: false by default, let the request through
    // uncounted
    long ff = remainingFor((byte) 0xFF);
    long fe = remainingFor((byte) 0xFE);
    long replacementCharacter = remainingFor((byte) 0xEF, (byte) 0xBF, (byte) 0xBD);
    long percentFf = remainingFor((byte) '%', (byte) 'F', (byte) 'F');
    long ffAgain = remainingFor((byte) 0xFF);
    long ffThird = remainingFor((byte) 0xFF);
    long ffOver = remainingFor((byte) 0xFF);

    assertThat(ff).isEqualTo(2);
    assertThat(fe).as("another byte, another counter").isEqualTo(2);
    assertThat(replacementCharacter).as("not the same as U+FFFD").isEqualTo(2);
    assertThat(percentFf).as("not the same as the text %FF").isEqualTo(2);
    assertThat(List.of(ffAgain, ffThird, ffOver)).containsExactly(1L, 0L, 0L);
    assertThat(
            rls.shouldRateLimitRaw(
                    RlsClient.withBytes(
                        request("edge", descriptor("remote_address", "##")),
                        "##",
                        new byte[] {'1', (byte) 0xFF}))
                .getOverallCode())
        .isEqualTo(Code.OVER_LIMIT);
  }

  @Test
  void emptyDomain_isInvalidArgument() {
    StatusRuntimeException e =
        catchThrowableOfType(
            StatusRuntimeException.class,
            () -> rls.stub.shouldRateLimit(request("", descriptor("a", "b"))));

    assertThat(e.getStatus().getCode()).isEqualTo(Status.Code.INVALID_ARGUMENT);
    assertThat(e.getStatus().getDescription()).isEqualTo("rate limit domain must not be empty");
  }

  @Test
  void tooManyDescriptorsOrEntries_isInvalidArgument_andCountsNothing() {
    // one more than DescriptorLimiter.MAX_DESCRIPTORS and MAX_ENTRIES
    RateLimitRequest.Builder many = request("edge").toBuilder();
    for (int i = 0; i < 257; i++) {
      many.addDescriptors(descriptor("remote_address", "192.0.2.1"));
    }
    String[] deep = new String[2 * 65];
    deep[0] = "remote_address";
    deep[1] = "192.0.2.1";
    for (int i = 2; i < deep.length; i += 2) {
      deep[i] = "k";
      deep[i + 1] = "v";
    }

    StatusRuntimeException tooMany =
        catchThrowableOfType(
            StatusRuntimeException.class, () -> rls.stub.shouldRateLimit(many.build()));
    StatusRuntimeException tooDeep =
        catchThrowableOfType(
            StatusRuntimeException.class,
            () -> rls.stub.shouldRateLimit(request("edge", descriptor(deep))));

    assertThat(tooMany.getStatus().getCode()).isEqualTo(Status.Code.INVALID_ARGUMENT);
    assertThat(tooMany.getStatus().getDescription())
        .isEqualTo("rate limit request has 257 descriptors, more than 256");
    assertThat(tooDeep.getStatus().getCode()).isEqualTo(Status.Code.INVALID_ARGUMENT);
    assertThat(
            rls.stub
                .shouldRateLimit(request("edge", descriptor("remote_address", "192.0.2.1")))
                .getStatuses(0)
                .getLimitRemaining())
        .as("the refused request counted nothing: this is the first of 3")
        .isEqualTo(2);
  }

  @Test
  void aCallCancelledBeforeItRuns_countsNothing() throws Exception {
    InMemoryFixedWindowCounters counters = new InMemoryFixedWindowCounters(clock, 100);
    EnvoyRateLimitService service = new EnvoyRateLimitService(limiter(counters));
    StreamRecorder<RateLimitResponse> recorder = StreamRecorder.create();
    Context.CancellableContext gaveUp = Context.current().withCancellation();
    gaveUp.cancel(null); // Envoy's timeout, or the downstream request went away

    gaveUp.run(
        () ->
            service.shouldRateLimit(
                request("edge", descriptor("remote_address", "192.0.2.9")), recorder));

    StreamRecorder<RateLimitResponse> next = StreamRecorder.create();
    service.shouldRateLimit(request("edge", descriptor("remote_address", "192.0.2.9")), next);

    assertThat(next.getValues().getFirst().getStatuses(0).getLimitRemaining())
        .as("the cancelled call counted nothing: this is the first of 3")
        .isEqualTo(2);
    assertThat(recorder.getValues()).isEmpty();
    assertThat(recorder.getError()).isNotNull();
    assertThat(Status.fromThrowable(recorder.getError()).getCode())
        .isEqualTo(Status.Code.CANCELLED);
  }

  @Test
  void noDescriptors_isInvalidArgument() {
    StatusRuntimeException e =
        catchThrowableOfType(
            StatusRuntimeException.class, () -> rls.stub.shouldRateLimit(request("edge")));

    assertThat(e.getStatus().getCode()).isEqualTo(Status.Code.INVALID_ARGUMENT);
  }

  @Test
  void backendFailure_underDeny_isOverLimit_withTheLimit_andAResetOfTheRetryInterval()
      throws Exception {
    redisDown(BackendFailurePolicy.DENY, Duration.ofSeconds(3));

    RateLimitResponse r =
        rls.stub.shouldRateLimit(
            request("edge", descriptor("segment", "partners", "client", "acme")));

    // Envoy's x-ratelimit-* headers: limit 1000;w=3600, remaining 0, reset 3 (not 2380)
    RateLimitResponse.DescriptorStatus s = r.getStatuses(0);
    assertThat(r.getOverallCode()).isEqualTo(Code.OVER_LIMIT);
    assertThat(s.getCode()).isEqualTo(Code.OVER_LIMIT);
    assertThat(s.getCurrentLimit().getRequestsPerUnit()).isEqualTo(1000);
    assertThat(s.getCurrentLimit().getUnit()).isEqualTo(RateLimitResponse.RateLimit.Unit.HOUR);
    assertThat(s.getLimitRemaining()).isZero();
    assertThat(s.getDurationUntilReset().getSeconds()).isEqualTo(3);
    assertThat(r.getResponseHeadersToAdd(0).getValue()).as("Retry-After").isEqualTo("3");
    assertThat(r.getRawBody().toStringUtf8()).contains("urn:portcullis:error:rate_limited");
    assertThat(r.getDynamicMetadata().getFieldsOrThrow("degraded").getStringValue())
        .isEqualTo("ratelimit_backend:deny");
  }

  @Test
  void backendFailure_underAllow_isOk_withoutALimitOrARemainingCountNothingCounted()
      throws Exception {
    redisDown(BackendFailurePolicy.ALLOW, Duration.ofSeconds(3));

    RateLimitResponse r =
        rls.stub.shouldRateLimit(
            request("edge", descriptor("segment", "partners", "client", "acme")));

    // without current_limit Envoy sends no x-ratelimit-* headers, as Check sends no RateLimit
    // headers under allow; a status of 1000 remaining would claim a count nobody took
    RateLimitResponse.DescriptorStatus s = r.getStatuses(0);
    assertThat(r.getOverallCode()).isEqualTo(Code.OK);
    assertThat(s.getCode()).isEqualTo(Code.OK);
    assertThat(s.hasCurrentLimit()).isFalse();
    assertThat(s.getLimitRemaining()).isZero();
    assertThat(s.hasDurationUntilReset()).isFalse();
    assertThat(r.getDynamicMetadata().getFieldsOrThrow("degraded").getStringValue())
        .isEqualTo("ratelimit_backend:allow");
  }

  @Test
  void backendFailure_isAnsweredByThePolicy_andNamedInDynamicMetadata() throws Exception {
    redisDown(BackendFailurePolicy.LOCAL, Duration.ofSeconds(1));

    RateLimitResponse r =
        rls.stub.shouldRateLimit(request("edge", descriptor("remote_address", "1.2.3.4")));

    assertThat(r.getOverallCode()).isEqualTo(Code.OK);
    assertThat(r.getStatuses(0).getLimitRemaining()).isEqualTo(2);
    assertThat(r.getDynamicMetadata().getFieldsOrThrow("degraded").getStringValue())
        .isEqualTo("ratelimit_backend:local");
  }
}
