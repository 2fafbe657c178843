package io.portcullis.server.grpc;

import com.google.protobuf.ByteString;
import com.google.protobuf.Struct;
import com.google.protobuf.Value;
import io.envoyproxy.envoy.config.core.v3.HeaderValue;
import io.envoyproxy.envoy.extensions.common.ratelimit.v3.RateLimitDescriptor;
import io.envoyproxy.envoy.service.ratelimit.v3.RateLimitRequest;
import io.envoyproxy.envoy.service.ratelimit.v3.RateLimitResponse;
import io.envoyproxy.envoy.service.ratelimit.v3.RateLimitServiceGrpc;
import io.grpc.BindableService;
import io.grpc.Context;
import io.grpc.Deadline;
import io.grpc.MethodDescriptor;
import io.grpc.ServerServiceDefinition;
import io.grpc.ServiceDescriptor;
import io.grpc.Status;
import io.grpc.protobuf.ProtoUtils;
import io.grpc.stub.ServerCalls;
import io.grpc.stub.StreamObserver;
import io.portcullis.decision.HeaderNames;
import io.portcullis.decision.Reason;
import io.portcullis.limit.rls.DescriptorLimiter;
import io.portcullis.limit.rls.RlsLimit;
import io.portcullis.limit.rls.RlsRequest;
import io.portcullis.limit.rls.RlsResponse;
import io.portcullis.limit.rls.RlsUnit;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.concurrent.TimeUnit;
import org.jspecify.annotations.Nullable;

/**
 * Envoy's rate limit service v3 ({@code envoy.service.ratelimit.v3.RateLimitService/
 * ShouldRateLimit}): translates the request into an {@link RlsRequest}, asks the wire-free {@link
 * DescriptorLimiter}, and translates the answer back. Existing envoyproxy/ratelimit configurations
 * and clients work unchanged.
 *
 * <p>As envoyproxy/ratelimit, a request with an empty domain or without descriptors is an error
 * ({@code INVALID_ARGUMENT}); Envoy then applies its own {@code failure_mode_deny}. When the
 * counter backend failed and {@code on_backend_failure} answered, the response's {@code
 * dynamic_metadata} carries {@code {"degraded": "ratelimit_backend:<policy>"}} for Envoy's logs. An
 * {@code OVER_LIMIT} answer carries {@code Retry-After} in {@code response_headers_to_add}, which
 * Envoy puts on its 429: the longest {@code duration_until_reset} of the descriptors over their
 * limit, so a 429 for a descriptor limit tells a client when to come back as a policy limit's does.
 * It also carries {@code content-type: application/problem+json} there and a problem document of
 * type {@code rate_limited} in {@code raw_body}, which Envoy sends as the 429's body (empty
 * otherwise): the same shape as a {@code Check} deny's, without {@code decision_id}, because a rate
 * limit call is not a decision and has no id of its own.
 *
 * <p>The call's deadline ({@code grpc-timeout}: Envoy's {@code timeout}, 20 ms by default) bounds
 * the wait for Redis: Redis that has not answered within four fifths of the time left is treated as
 * failed for this call, so {@code on_backend_failure} answers while Envoy still waits, rather than
 * Envoy giving up on a Redis slower than its timeout but within Portcullis's (250 ms by default)
 * and answering every request by its own {@code failure_mode_deny}. A call cancelled, or past its
 * deadline, before anything is counted counts nothing.
 */
public final class EnvoyRateLimitService
    implements BindableService, RateLimitServiceGrpc.AsyncService {
  private static final long UINT32_MAX = 0xFFFF_FFFFL;

  /**
   * The body of Envoy's 429 for a descriptor limit: the RFC 9457 document of a {@code rate_limited}
   * deny, without a {@code decision_id} (a rate limit call is not a decision).
   */
  static final ByteString RATE_LIMITED_PROBLEM =
      ByteString.copyFromUtf8(
          "{\"type\":\""
              + Reason.RATE_LIMITED.typeUri()
              + "\",\"title\":\""
              + Reason.RATE_LIMITED.title()
              + "\",\"status\":"
              + Reason.RATE_LIMITED.status()
              + "}");

  private final DescriptorLimiter limiter;

  public EnvoyRateLimitService(DescriptorLimiter limiter) {
    this.limiter = Objects.requireNonNull(limiter, "limiter");
  }

  /**
   * The RateLimitService with {@code ShouldRateLimit}'s request parsed by {@link
   * RateLimitRequestMarshaller}, which also reads entry values that are not UTF-8; the same name,
   * schema and wire format as the generated binding.
   */
  @Override
  public ServerServiceDefinition bindService() {
    MethodDescriptor<RateLimitRequest, RateLimitResponse> method =
        RateLimitServiceGrpc.getShouldRateLimitMethod().toBuilder(
                RateLimitRequestMarshaller.INSTANCE,
                ProtoUtils.marshaller(RateLimitResponse.getDefaultInstance()))
            .build();
    ServiceDescriptor service =
        ServiceDescriptor.newBuilder(RateLimitServiceGrpc.SERVICE_NAME)
            .setSchemaDescriptor(RateLimitServiceGrpc.getServiceDescriptor().getSchemaDescriptor())
            .addMethod(method)
            .build();
    return ServerServiceDefinition.builder(service)
        .addMethod(method, ServerCalls.asyncUnaryCall(this::shouldRateLimit))
        .build();
  }

  @Override
  public void shouldRateLimit(
      RateLimitRequest request, StreamObserver<RateLimitResponse> responseObserver) {
    Context call = Context.current();
    Deadline deadline = call.getDeadline();
    long left = deadline == null ? Long.MAX_VALUE : deadline.timeRemaining(TimeUnit.NANOSECONDS);
    if (call.isCancelled() || left <= 0) {
      // Envoy gave up (its timeout, or the downstream request went away) and applied its own
      // failure mode: count nothing for a request whose answer no one will read.
      responseObserver.onError(
          (left <= 0 ? Status.DEADLINE_EXCEEDED : Status.CANCELLED)
              .withDescription("the caller gave up before the descriptors were counted")
              .asRuntimeException());
      return;
    }
    RlsResponse answer;
    try {
      RlsRequest rls = toRequest(request);
      answer =
          deadline == null
              ? limiter.shouldRateLimit(rls)
              : limiter.shouldRateLimit(rls, Duration.ofNanos(CallBudget.usable(left)));
    } catch (IllegalArgumentException e) {
      responseObserver.onError(
          Status.INVALID_ARGUMENT.withDescription(e.getMessage()).asRuntimeException());
      return;
    }
    responseObserver.onNext(toResponse(answer));
    responseObserver.onCompleted();
  }

  static RlsRequest toRequest(RateLimitRequest request) {
    List<RlsRequest.Descriptor> descriptors = new ArrayList<>(request.getDescriptorsCount());
    for (RateLimitDescriptor d : request.getDescriptorsList()) {
      List<RlsRequest.Entry> entries = new ArrayList<>(d.getEntriesCount());
      for (RateLimitDescriptor.Entry e : d.getEntriesList()) {
        entries.add(new RlsRequest.Entry(e.getKey(), e.getValue()));
      }
      RlsRequest.LimitOverride override = null;
      if (d.hasLimit()) {
        RlsUnit unit = unitOf(d.getLimit().getUnit().name());
        if (unit == null) {
          throw new IllegalArgumentException(
              "descriptor limit has an unknown unit " + d.getLimit().getUnit());
        }
        override =
            new RlsRequest.LimitOverride(
                Integer.toUnsignedLong(d.getLimit().getRequestsPerUnit()), unit);
      }
      Long hits = d.hasHitsAddend() ? d.getHitsAddend().getValue() : null;
      descriptors.add(new RlsRequest.Descriptor(entries, override, hits));
    }
    return new RlsRequest(
        request.getDomain(), descriptors, Integer.toUnsignedLong(request.getHitsAddend()));
  }

  static RateLimitResponse toResponse(RlsResponse answer) {
    RateLimitResponse.Builder b =
        RateLimitResponse.newBuilder().setOverallCode(code(answer.overallCode()));
    for (RlsResponse.Status s : answer.statuses()) {
      RateLimitResponse.DescriptorStatus.Builder st =
          RateLimitResponse.DescriptorStatus.newBuilder()
              .setCode(code(s.code()))
              .setLimitRemaining((int) Math.min(UINT32_MAX, Math.max(0, s.limitRemaining())));
      RlsLimit limit = s.currentLimit();
      if (limit != null) {
        RateLimitResponse.RateLimit.Builder rl =
            RateLimitResponse.RateLimit.newBuilder()
                .setRequestsPerUnit((int) limit.requestsPerUnit())
                .setUnit(unit(Objects.requireNonNull(limit.unit())));
        if (limit.name() != null) {
          rl.setName(limit.name());
        }
        st.setCurrentLimit(rl);
      }
      if (s.durationUntilReset() != null) {
        st.setDurationUntilReset(
            com.google.protobuf.Duration.newBuilder()
                .setSeconds(s.durationUntilReset().getSeconds())
                .setNanos(s.durationUntilReset().getNano()));
      }
      b.addStatuses(st);
    }
    Duration retryAfter = answer.retryAfter();
    if (retryAfter != null) {
      // Envoy adds it to its 429; whole seconds, rounded up (RFC 9110)
      long seconds = retryAfter.getSeconds() + (retryAfter.getNano() > 0 ? 1 : 0);
      b.addResponseHeadersToAdd(
          HeaderValue.newBuilder()
              .setKey(HeaderNames.RETRY_AFTER)
              .setValue(Long.toString(seconds)));
    }
    if (answer.overallCode() == RlsResponse.Code.OVER_LIMIT) {
      // Envoy's 429 is a local reply: this becomes its body, and the content-type its own
      // (Envoy would otherwise call a non-empty body text/plain).
      b.addResponseHeadersToAdd(
          HeaderValue.newBuilder()
              .setKey(HeaderNames.CONTENT_TYPE)
              .setValue(HeaderNames.PROBLEM_JSON));
      b.setRawBody(RATE_LIMITED_PROBLEM);
    }
    if (answer.degraded() != null) {
      b.setDynamicMetadata(
          Struct.newBuilder()
              .putFields("degraded", Value.newBuilder().setStringValue(answer.degraded()).build()));
    }
    return b.build();
  }

  private static RateLimitResponse.Code code(RlsResponse.Code c) {
    return switch (c) {
      case OK -> RateLimitResponse.Code.OK;
      case OVER_LIMIT -> RateLimitResponse.Code.OVER_LIMIT;
    };
  }

  private static RateLimitResponse.RateLimit.Unit unit(RlsUnit u) {
    return switch (u) {
      case SECOND -> RateLimitResponse.RateLimit.Unit.SECOND;
      case MINUTE -> RateLimitResponse.RateLimit.Unit.MINUTE;
      case HOUR -> RateLimitResponse.RateLimit.Unit.HOUR;
      case DAY -> RateLimitResponse.RateLimit.Unit.DAY;
      case WEEK -> RateLimitResponse.RateLimit.Unit.WEEK;
      case MONTH -> RateLimitResponse.RateLimit.Unit.MONTH;
      case YEAR -> RateLimitResponse.RateLimit.Unit.YEAR;
    };
  }

  /** Envoy's {@code envoy.type.v3.RateLimitUnit} by name; {@code null} for UNKNOWN. */
  private static @Nullable RlsUnit unitOf(String name) {
    return name.equals("UNKNOWN") || name.equals("UNRECOGNIZED") ? null : RlsUnit.parse(name);
  }
}
