package io.portcullis.server.grpc;

import io.envoyproxy.envoy.extensions.common.ratelimit.v3.RateLimitDescriptor;
import io.envoyproxy.envoy.service.ratelimit.v3.RateLimitRequest;
import io.envoyproxy.envoy.service.ratelimit.v3.RateLimitServiceGrpc;
import io.grpc.ManagedChannel;
import io.grpc.Server;
import io.grpc.inprocess.InProcessChannelBuilder;
import io.grpc.inprocess.InProcessServerBuilder;
import io.portcullis.limit.rls.DescriptorLimiter;
import java.io.IOException;
import java.util.concurrent.TimeUnit;

/** An in-process gRPC server running {@link EnvoyRateLimitService}, and a blocking client. */
final class RlsClient implements AutoCloseable {
  private final Server server;
  private final ManagedChannel channel;
  final RateLimitServiceGrpc.RateLimitServiceBlockingStub stub;

  /** Calls run on the caller's thread ({@code directExecutor()}). */
  RlsClient(DescriptorLimiter limiter) throws IOException {
    this(limiter, true);
  }

  private RlsClient(DescriptorLimiter limiter, boolean direct) throws IOException {
    String name = InProcessServerBuilder.generateName();
    InProcessServerBuilder sb =
        InProcessServerBuilder.forName(name).addService(new EnvoyRateLimitService(limiter));
    InProcessChannelBuilder cb = InProcessChannelBuilder.forName(name);
    if (direct) {
      sb.directExecutor();
      cb.directExecutor();
    }
    server = sb.build().start();
    channel = cb.build();
    stub = RateLimitServiceGrpc.newBlockingStub(channel);
  }

  /**
   * Calls run on the server's own threads, as on the real listener: a caller's deadline then passes
   * while the call runs (with {@code directExecutor()} the caller's thread runs the call and sees
   * its answer only after the call returns).
   */
  static RlsClient onServerThreads(DescriptorLimiter limiter) throws IOException {
    return new RlsClient(limiter, false);
  }

  /** A descriptor from key/value pairs. */
  static RateLimitDescriptor descriptor(String... keyValues) {
    RateLimitDescriptor.Builder d = RateLimitDescriptor.newBuilder();
    for (int i = 0; i < keyValues.length; i += 2) {
      d.addEntries(
          RateLimitDescriptor.Entry.newBuilder().setKey(keyValues[i]).setValue(keyValues[i + 1]));
    }
    return d.build();
  }

  static RateLimitRequest request(String domain, RateLimitDescriptor... descriptors) {
    RateLimitRequest.Builder r = RateLimitRequest.newBuilder().setDomain(domain);
    for (RateLimitDescriptor d : descriptors) {
      r.addDescriptors(d);
    }
    return r.build();
  }

  @Override
  public void close() throws InterruptedException {
    channel.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
    server.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
  }
}
