package io.portcullis.server.grpc;

import io.envoyproxy.envoy.extensions.common.ratelimit.v3.RateLimitDescriptor;
import io.envoyproxy.envoy.service.ratelimit.v3.RateLimitRequest;
import io.envoyproxy.envoy.service.ratelimit.v3.RateLimitResponse;
import io.envoyproxy.envoy.service.ratelimit.v3.RateLimitServiceGrpc;
import io.grpc.CallOptions;
import io.grpc.ManagedChannel;
import io.grpc.MethodDescriptor;
import io.grpc.Server;
import io.grpc.inprocess.InProcessChannelBuilder;
import io.grpc.inprocess.InProcessServerBuilder;
import io.grpc.protobuf.ProtoUtils;
import io.grpc.stub.ClientCalls;
import io.portcullis.limit.rls.DescriptorLimiter;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
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

  /**
   * Sends {@code message} as the serialized RateLimitRequest byte for byte: what Envoy sends, which
   * protobuf would not produce (say, entry values that are not UTF-8).
   */
  RateLimitResponse shouldRateLimitRaw(byte[] message) {
    MethodDescriptor.Marshaller<byte[]> raw =
        new MethodDescriptor.Marshaller<>() {
          @Override
          public InputStream stream(byte[] value) {
            return new ByteArrayInputStream(value);
          }

          @Override
          public byte[] parse(InputStream stream) {
            throw new UnsupportedOperationException("requests only");
          }
        };
    return ClientCalls.blockingUnaryCall(
        channel,
        RateLimitServiceGrpc.getShouldRateLimitMethod().toBuilder(
                raw, ProtoUtils.marshaller(RateLimitResponse.getDefaultInstance()))
            .build(),
        CallOptions.DEFAULT,
        message);
  }

  /**
   * {@code request} serialized, with the bytes of the (ASCII, unique) {@code placeholder} replaced
   * by {@code bytes} of the same length.
   */
  static byte[] withBytes(RateLimitRequest request, String placeholder, byte[] bytes) {
    byte[] message = request.toByteArray();
    byte[] p = placeholder.getBytes(StandardCharsets.US_ASCII);
    if (p.length != bytes.length) {
      throw new IllegalArgumentException("the placeholder and the bytes must have one length");
    }
    for (int i = 0; i + p.length <= message.length; i++) {
      if (Arrays.equals(message, i, i + p.length, p, 0, p.length)) {
        System.arraycopy(bytes, 0, message, i, bytes.length);
        return message;
      }
    }
    throw new IllegalArgumentException("placeholder not in the message");
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
