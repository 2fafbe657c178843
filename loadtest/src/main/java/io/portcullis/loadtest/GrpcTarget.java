package io.portcullis.loadtest;

import io.envoyproxy.envoy.service.auth.v3.AuthorizationGrpc;
import io.envoyproxy.envoy.service.auth.v3.CheckRequest;
import io.envoyproxy.envoy.service.auth.v3.CheckResponse;
import io.envoyproxy.envoy.service.ratelimit.v3.RateLimitRequest;
import io.envoyproxy.envoy.service.ratelimit.v3.RateLimitResponse;
import io.envoyproxy.envoy.service.ratelimit.v3.RateLimitServiceGrpc;
import io.grpc.CallOptions;
import io.grpc.ManagedChannel;
import io.grpc.MethodDescriptor;
import io.grpc.Status;
import io.grpc.netty.shaded.io.grpc.netty.NettyChannelBuilder;
import io.grpc.stub.ClientCalls;
import io.grpc.stub.StreamObserver;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.function.Function;

/**
 * A unary gRPC method over several HTTP/2 connections (one channel each, requests spread round
 * robin, many concurrent streams per connection), called with grpc-java's async API: starting a
 * call never waits for its answer.
 */
final class GrpcTarget<Q, A> implements Target {
  private final String name;
  private final List<ManagedChannel> channels;
  private final MethodDescriptor<Q, A> method;
  private final Mix<Q> mix;
  private final Function<A, String> outcome;
  private final long deadlineMillis;

  private GrpcTarget(
      String name,
      int port,
      int connections,
      MethodDescriptor<Q, A> method,
      Mix<Q> mix,
      Function<A, String> outcome,
      long deadlineMillis) {
    this.name = name;
    this.method = method;
    this.mix = mix;
    this.outcome = outcome;
    this.deadlineMillis = deadlineMillis;
    List<ManagedChannel> cs = new ArrayList<>();
    for (int i = 0; i < connections; i++) {
      cs.add(
          NettyChannelBuilder.forAddress("127.0.0.1", port)
              .usePlaintext()
              .directExecutor()
              .build());
    }
    this.channels = List.copyOf(cs);
  }

  /** Envoy ext_authz Check: a deny's outcome is its reason code (the status message). */
  static GrpcTarget<CheckRequest, CheckResponse> check(
      String name, int port, int connections, Mix<CheckRequest> mix) {
    return new GrpcTarget<>(
        name,
        port,
        connections,
        AuthorizationGrpc.getCheckMethod(),
        mix,
        r -> r.getStatus().getCode() == 0 ? "allow" : r.getStatus().getMessage(),
        5_000);
  }

  /**
   * Envoy RLS ShouldRateLimit: the outcome is the overall code ({@code OK}, {@code OVER_LIMIT}).
   */
  static GrpcTarget<RateLimitRequest, RateLimitResponse> rls(
      String name, int port, int connections, Mix<RateLimitRequest> mix) {
    return new GrpcTarget<>(
        name,
        port,
        connections,
        RateLimitServiceGrpc.getShouldRateLimitMethod(),
        mix,
        r -> r.getOverallCode().name(),
        5_000);
  }

  /** Opens every connection (a first call on each) so that connecting is not measured. */
  GrpcTarget<Q, A> connect() {
    for (ManagedChannel c : channels) {
      c.getState(true);
    }
    return this;
  }

  /** The request that number {@code seq} sends (h2load repeats one). */
  Q request(long seq) {
    return mix.probe(seq).request();
  }

  @Override
  public void send(long seq, Completion done) {
    Mix.Probe<Q> probe = mix.probe(seq);
    ManagedChannel channel = channels.get((int) (seq % channels.size()));
    ClientCalls.asyncUnaryCall(
        channel.newCall(
            method, CallOptions.DEFAULT.withDeadlineAfter(deadlineMillis, TimeUnit.MILLISECONDS)),
        probe.request(),
        new StreamObserver<A>() {
          private boolean answered;

          @Override
          public void onNext(A value) {
            answered = true;
            String o = outcome.apply(value);
            done.complete(o, probe.accepts(o));
          }

          @Override
          public void onError(Throwable t) {
            if (!answered) {
              done.complete("error:" + Status.fromThrowable(t).getCode(), false);
            }
          }

          @Override
          public void onCompleted() {}
        });
  }

  @Override
  public String name() {
    return name;
  }

  @Override
  public void close() throws InterruptedException {
    for (ManagedChannel c : channels) {
      c.shutdownNow();
    }
    for (ManagedChannel c : channels) {
      c.awaitTermination(5, TimeUnit.SECONDS);
    }
  }
}
