package io.portcullis.server.grpc;

import io.grpc.Metadata;
import io.grpc.ServerCall;
import io.grpc.ServerCallHandler;
import io.grpc.ServerInterceptor;
import io.grpc.Status;
import io.portcullis.identity.Secret;
import java.util.Objects;
import org.jspecify.annotations.Nullable;

/**
 * Admits a gRPC call only with the admin token in its metadata ({@code authorization: Bearer
 * <token>}, compared in constant time by {@link Secret#matches}); any other call is closed with
 * {@code UNAUTHENTICATED} before the service sees it. The token is never logged or echoed.
 * Thread-safe.
 */
public final class AdminTokenInterceptor implements ServerInterceptor {
  static final Metadata.Key<String> AUTHORIZATION =
      Metadata.Key.of("authorization", Metadata.ASCII_STRING_MARSHALLER);
  private static final String BEARER = "Bearer ";

  private final Secret token;

  public AdminTokenInterceptor(Secret token) {
    this.token = Objects.requireNonNull(token, "token");
    if (token.isEmpty()) {
      throw new IllegalArgumentException("the admin token must not be empty");
    }
  }

  @Override
  public <Q, A> ServerCall.Listener<Q> interceptCall(
      ServerCall<Q, A> call, Metadata headers, ServerCallHandler<Q, A> next) {
    if (!authorized(headers.get(AUTHORIZATION))) {
      call.close(
          Status.UNAUTHENTICATED.withDescription("the admin token is required"), new Metadata());
      return new ServerCall.Listener<>() {};
    }
    return next.startCall(call, headers);
  }

  private boolean authorized(@Nullable String header) {
    if (header == null
        || header.length() <= BEARER.length()
        || !header.regionMatches(true, 0, BEARER, 0, BEARER.length())) {
      return false;
    }
    return token.matches(header.substring(BEARER.length()).trim());
  }

  @Override
  public String toString() {
    return "AdminTokenInterceptor[token=redacted]";
  }
}
