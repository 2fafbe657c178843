package io.portcullis.testing;

import io.grpc.Grpc;
import io.grpc.ManagedChannel;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.TlsChannelCredentials;
import io.grpc.health.v1.HealthCheckRequest;
import io.grpc.health.v1.HealthGrpc;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;

/** One gRPC health check over mTLS, on a connection of its own, answered as a status code. */
public final class TlsHealthChecks {
  private TlsHealthChecks() {}

  /**
   * Checks {@code localhost:port}'s health presenting {@code cert}/{@code key}.
   *
   * @param trustedCa the CA the server's certificate must chain to
   * @return {@code OK}, or the code the call failed with
   */
  public static Status.Code code(int port, Path trustedCa, Path cert, Path key) throws Exception {
    ManagedChannel ch =
        Grpc.newChannelBuilderForAddress(
                "localhost",
                port,
                TlsChannelCredentials.newBuilder()
                    .trustManager(trustedCa.toFile())
                    .keyManager(cert.toFile(), key.toFile())
                    .build())
            .build();
    try {
      HealthGrpc.newBlockingStub(ch)
          .withDeadlineAfter(5, TimeUnit.SECONDS)
          .check(HealthCheckRequest.getDefaultInstance());
      return Status.Code.OK;
    } catch (StatusRuntimeException e) {
      return e.getStatus().getCode();
    } finally {
      ch.shutdownNow();
    }
  }
}
