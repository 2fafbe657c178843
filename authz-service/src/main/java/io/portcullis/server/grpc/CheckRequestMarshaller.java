package io.portcullis.server.grpc;

import com.google.protobuf.InvalidProtocolBufferException;
import io.envoyproxy.envoy.service.auth.v3.CheckRequest;
import io.grpc.KnownLength;
import io.grpc.MethodDescriptor;
import io.grpc.Status;
import java.io.IOException;
import java.io.InputStream;
import org.jspecify.annotations.Nullable;

/**
 * The request marshaller of {@code Check}: parses a {@code CheckRequest} that protobuf accepts as
 * grpc-java's own marshaller would, and turns the rest into a request the pipeline can still
 * decide, so that no CheckRequest ends as a gRPC error that Envoy answers on its own (503 with
 * {@code status_on_error}, or an allow with {@code failure_mode_allow}) and nothing audits.
 *
 * <ul>
 *   <li>Parses once, from the message's bytes; on the normal path that is all.
 *   <li>If that fails, {@link CheckRequestTranscoder} moves the bytes Envoy put in {@code string}
 *       fields without checking them for UTF-8 (a binary body, obs-text header values) to the
 *       matching {@code bytes} fields, and the result is parsed once more.
 *   <li>What still does not parse (a truncated or garbage message, bytes that are not UTF-8
 *       elsewhere) is an empty request with a {@link Inbound#refusal() refusal}: the pipeline
 *       denies it with {@code malformed_request} and audits it.
 * </ul>
 *
 * <p>The listener's maximum message size is enforced before this runs. A failure to read the stream
 * itself (the transport, not the message) stays a gRPC error. Stateless.
 */
final class CheckRequestMarshaller
    implements MethodDescriptor.Marshaller<CheckRequestMarshaller.Inbound> {
  /**
   * A CheckRequest as received.
   *
   * @param request the parsed request; empty when nothing could be parsed
   * @param refusal why the request is {@code malformed_request} (what could not be read), or {@code
   *     null}
   */
  record Inbound(CheckRequest request, @Nullable String refusal) {}

  static final CheckRequestMarshaller INSTANCE = new CheckRequestMarshaller();

  private CheckRequestMarshaller() {}

  @Override
  public InputStream stream(Inbound value) {
    return value.request().toByteString().newInput();
  }

  @Override
  public Inbound parse(InputStream stream) {
    byte[] message;
    try {
      message = readAll(stream);
    } catch (IOException e) {
      throw Status.INTERNAL
          .withDescription("cannot read the CheckRequest")
          .withCause(e)
          .asRuntimeException();
    }
    try {
      return new Inbound(CheckRequest.parseFrom(message), null);
    } catch (InvalidProtocolBufferException notAsSent) {
      return transcoded(message);
    }
  }

  private static Inbound transcoded(byte[] message) {
    try {
      CheckRequestTranscoder.Result r = CheckRequestTranscoder.transcode(message);
      return new Inbound(CheckRequest.parseFrom(r.message()), r.refusal());
    } catch (InvalidProtocolBufferException e) {
      // Only the kind of failure, never the message's bytes: they may hold credentials.
      return new Inbound(CheckRequest.getDefaultInstance(), "unreadable CheckRequest: " + kind(e));
    }
  }

  private static String kind(InvalidProtocolBufferException e) {
    String m = e.getMessage();
    return m != null && m.contains("UTF-8") ? "a string field is not UTF-8" : "not protobuf";
  }

  private static byte[] readAll(InputStream stream) throws IOException {
    if (stream instanceof KnownLength) {
      int size = stream.available();
      byte[] message = new byte[size];
      if (stream.readNBytes(message, 0, size) == size && stream.read() == -1) {
        return message;
      }
      throw new IOException("the stream did not hold the " + size + " bytes it announced");
    }
    return stream.readAllBytes();
  }
}
