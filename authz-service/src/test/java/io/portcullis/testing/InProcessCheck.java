package io.portcullis.testing;

import io.envoyproxy.envoy.service.auth.v3.AuthorizationGrpc;
import io.envoyproxy.envoy.service.auth.v3.CheckRequest;
import io.envoyproxy.envoy.service.auth.v3.CheckResponse;
import io.grpc.ManagedChannel;
import io.grpc.Server;
import io.grpc.inprocess.InProcessChannelBuilder;
import io.grpc.inprocess.InProcessServerBuilder;
import io.portcullis.decision.Decision;
import io.portcullis.decision.DecisionPipeline;
import io.portcullis.policy.Policy;
import io.portcullis.server.grpc.EnvoyAuthorizationService;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.util.ArrayList;
import java.util.List;

/**
 * Envoy's {@code Check} on one fixed policy, served in process ({@code directExecutor()}), with
 * every decision recorded in {@link #audited()}. Close it after the test.
 */
public final class InProcessCheck implements AutoCloseable {
  private final List<Decision> audited = new ArrayList<>();
  private final Server server;
  private final ManagedChannel channel;
  private final AuthorizationGrpc.AuthorizationBlockingStub stub;

  private InProcessCheck(Policy policy, FakeClock clock) {
    DecisionPipeline pipeline =
        DecisionPipeline.builder().policy(() -> policy).clock(clock).audit(audited::add).build();
    String name = InProcessServerBuilder.generateName();
    try {
      server =
          InProcessServerBuilder.forName(name)
              .directExecutor()
              .addService(new EnvoyAuthorizationService(pipeline, clock))
              .build()
              .start();
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
    channel = InProcessChannelBuilder.forName(name).directExecutor().build();
    stub = AuthorizationGrpc.newBlockingStub(channel);
  }

  /** Starts serving {@code policy}, deciding at {@code clock}'s time. */
  public static InProcessCheck start(Policy policy, FakeClock clock) {
    return new InProcessCheck(policy, clock);
  }

  public CheckResponse check(CheckRequest request) {
    return stub.check(request);
  }

  /** The decisions so far, oldest first. */
  public List<Decision> audited() {
    return audited;
  }

  @Override
  public void close() {
    channel.shutdownNow();
    server.shutdownNow();
  }
}
