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
import io.portcullis.identity.CredentialChain;
import io.portcullis.payload.JsonBodySchema;
import io.portcullis.policy.Policy;
import io.portcullis.request.HttpMethod;
import io.portcullis.server.grpc.EnvoyAuthorizationService;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
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

  /**
   * Starts serving a policy of one anonymous segment, {@code public}, whose only rule {@code rule}
   * allows POST {@code path} with the body schema {@code schemaJson}, written to {@code
   * dir/<rule>.json}.
   */
  public static InProcessCheck postWithSchema(
      Path dir, String rule, String path, String schemaJson) {
    try {
      Files.writeString(dir.resolve(rule + ".json"), schemaJson);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
    JsonBodySchema schema =
        ((JsonBodySchema.Outcome.Compiled) JsonBodySchema.compile(dir, rule + ".json")).schema();
    Policy policy =
        TestPolicies.policy(
            CredentialChain.builder().build(),
            TestPolicies.segment("public")
                .rule(TestPolicies.allow(rule, path).methods(HttpMethod.POST).bodySchema(schema))
                .build());
    return start(policy, FakeClock.at("2026-11-22T10:00:00Z"));
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
