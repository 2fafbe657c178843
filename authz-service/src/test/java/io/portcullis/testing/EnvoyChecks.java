package io.portcullis.testing;

import com.google.protobuf.ByteString;
import com.google.protobuf.CodedOutputStream;
import com.google.protobuf.UnknownFieldSet;
import io.envoyproxy.envoy.config.core.v3.Address;
import io.envoyproxy.envoy.config.core.v3.SocketAddress;
import io.envoyproxy.envoy.service.auth.v3.AttributeContext;
import io.envoyproxy.envoy.service.auth.v3.AuthorizationGrpc;
import io.envoyproxy.envoy.service.auth.v3.CheckRequest;
import io.envoyproxy.envoy.service.auth.v3.CheckResponse;
import io.grpc.CallOptions;
import io.grpc.Channel;
import io.grpc.MethodDescriptor;
import io.grpc.protobuf.ProtoUtils;
import io.grpc.stub.ClientCalls;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;

/**
 * Builds real {@code envoy.service.auth.v3.CheckRequest} messages the way Envoy fills them: {@code
 * EnvoyChecks.get("/v1/orders").header("x-api-key", "k").source("203.0.113.7").build()}.
 */
public final class EnvoyChecks {
  /** {@code Check} with the request as bytes, sent as they are. */
  private static final MethodDescriptor<byte[], CheckResponse> CHECK_BYTES =
      AuthorizationGrpc.getCheckMethod().toBuilder(
              new MethodDescriptor.Marshaller<byte[]>() {
                @Override
                public InputStream stream(byte[] value) {
                  return new ByteArrayInputStream(value);
                }

                @Override
                public byte[] parse(InputStream stream) {
                  throw new UnsupportedOperationException("requests only");
                }
              },
              ProtoUtils.marshaller(CheckResponse.getDefaultInstance()))
          .build();

  private final AttributeContext.HttpRequest.Builder http =
      AttributeContext.HttpRequest.newBuilder()
          .setHost("api.example.com")
          .setScheme("https")
          .setProtocol("HTTP/2");
  private final AttributeContext.Builder attrs = AttributeContext.newBuilder();
  // Bytes for HttpRequest's string fields that the message builder would refuse (not UTF-8): as
  // unknown fields they are serialized as they are, and the receiver parses them as the real field.
  private final UnknownFieldSet.Builder unchecked = UnknownFieldSet.newBuilder();
  private String source = "203.0.113.7";

  private EnvoyChecks(String method, String path) {
    http.setMethod(method)
        .setPath(path)
        .putHeaders(":method", method)
        .putHeaders(":path", path)
        .putHeaders(":authority", "api.example.com");
  }

  public static EnvoyChecks get(String path) {
    return new EnvoyChecks("GET", path);
  }

  public static EnvoyChecks request(String method, String path) {
    return new EnvoyChecks(method, path);
  }

  public EnvoyChecks header(String name, String value) {
    http.putHeaders(name, value);
    return this;
  }

  public EnvoyChecks scheme(String scheme) {
    http.setScheme(scheme);
    return this;
  }

  public EnvoyChecks source(String ip) {
    this.source = ip;
    return this;
  }

  public EnvoyChecks principal(String spiffeId) {
    attrs.getSourceBuilder().setPrincipal(spiffeId);
    return this;
  }

  public EnvoyChecks requestId(String id) {
    http.setId(id);
    return this;
  }

  public EnvoyChecks body(String body) {
    http.setBody(body);
    return this;
  }

  /**
   * The body as Envoy sends it when it ignores a per-route {@code pack_as_bytes}
   * (envoyproxy/envoy#35623): the bytes as they are, UTF-8 or not, in the string field {@code
   * body}.
   */
  public EnvoyChecks unpackedBody(byte[] bytes) {
    unchecked.mergeLengthDelimitedField(
        AttributeContext.HttpRequest.BODY_FIELD_NUMBER, ByteString.copyFrom(bytes));
    return this;
  }

  /**
   * A header value as Envoy forwards it without {@code encode_raw_headers}: the bytes as they are
   * (obs-text 0x80 to 0xFF included) in the {@code headers} map of strings.
   */
  public EnvoyChecks headerBytes(String name, byte[] value) {
    http.removeHeaders(name);
    unchecked.mergeLengthDelimitedField(
        AttributeContext.HttpRequest.HEADERS_FIELD_NUMBER,
        mapEntry(ByteString.copyFromUtf8(name), ByteString.copyFrom(value)));
    return this;
  }

  /** A path of raw bytes, UTF-8 or not, in both {@code path} and the {@code :path} header. */
  public EnvoyChecks pathBytes(byte[] path) {
    http.clearPath();
    unchecked.mergeLengthDelimitedField(
        AttributeContext.HttpRequest.PATH_FIELD_NUMBER, ByteString.copyFrom(path));
    return headerBytes(":path", path);
  }

  private static ByteString mapEntry(ByteString key, ByteString value) {
    try {
      ByteString.Output entry = ByteString.newOutput();
      CodedOutputStream out = CodedOutputStream.newInstance(entry);
      out.writeBytes(1, key);
      out.writeBytes(2, value);
      out.flush();
      return entry.toByteString();
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  public EnvoyChecks context(String key, String value) {
    attrs.putContextExtensions(key, value);
    return this;
  }

  public CheckRequest build() {
    attrs
        .getSourceBuilder()
        .setAddress(
            Address.newBuilder()
                .setSocketAddress(
                    SocketAddress.newBuilder().setAddress(source).setPortValue(50123)));
    attrs.getRequestBuilder().setHttp(http.setUnknownFields(unchecked.build()));
    return CheckRequest.newBuilder().setAttributes(attrs).build();
  }

  /**
   * Calls {@code Check} with {@code message}'s bytes, as Envoy's reach the server: the generated
   * stub would hand an in-process server the message object itself, never parsed from bytes.
   */
  public static CheckResponse send(Channel channel, CheckRequest message) {
    return send(channel, message.toByteArray());
  }

  /** Calls {@code Check} with {@code bytes} as the request, whatever they hold. */
  public static CheckResponse send(Channel channel, byte[] bytes) {
    return ClientCalls.blockingUnaryCall(channel, CHECK_BYTES, CallOptions.DEFAULT, bytes);
  }
}
