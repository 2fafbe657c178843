package io.portcullis.server.grpc;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.google.protobuf.ByteString;
import com.google.protobuf.InvalidProtocolBufferException;
import io.envoyproxy.envoy.config.core.v3.HeaderValue;
import io.envoyproxy.envoy.service.auth.v3.AttributeContext;
import io.envoyproxy.envoy.service.auth.v3.CheckRequest;
import io.portcullis.testing.EnvoyChecks;
import java.util.Map;
import java.util.stream.Collectors;
import org.junit.jupiter.api.Test;

class CheckRequestTranscoderTest {
  static final byte[] BINARY = {(byte) 0x89, 'P', 'N', 'G', (byte) 0xFF, 0, 1};

  @Test
  void bodyInTheStringField_movesToRawBody_byteForByte() throws Exception {
    CheckRequest sent =
        EnvoyChecks.request("POST", "/v1/orders").requestId("r1").unpackedBody(BINARY).build();
    assertThatThrownBy(() -> CheckRequest.parseFrom(sent.toByteArray()))
        .isInstanceOf(InvalidProtocolBufferException.class);

    CheckRequestTranscoder.Result r = CheckRequestTranscoder.transcode(sent.toByteArray());

    AttributeContext.HttpRequest http = http(r);
    assertThat(http.getRawBody().toByteArray()).isEqualTo(BINARY);
    assertThat(http.getBody()).isEmpty();
    assertThat(http.getPath()).isEqualTo("/v1/orders");
    assertThat(http.getId()).isEqualTo("r1");
    assertThat(CheckRequest.parseFrom(r.message()).getAttributes().getSource())
        .isEqualTo(sent.getAttributes().getSource());
    assertThat(r.refusal()).isNull();
  }

  @Test
  void rawBodyAlreadyPresent_winsOverTheStringField() throws Exception {
    CheckRequest sent = EnvoyChecks.request("POST", "/v1/orders").unpackedBody(BINARY).build();
    CheckRequest withRaw =
        sent.toBuilder()
            .setAttributes(
                sent.getAttributes().toBuilder()
                    .setRequest(
                        sent.getAttributes().getRequest().toBuilder()
                            .setHttp(
                                sent.getAttributes().getRequest().getHttp().toBuilder()
                                    .setRawBody(ByteString.copyFromUtf8("raw")))))
            .build();

    AttributeContext.HttpRequest http =
        http(CheckRequestTranscoder.transcode(withRaw.toByteArray()));

    assertThat(http.getRawBody().toStringUtf8()).isEqualTo("raw");
    assertThat(http.getBody()).isEmpty();
  }

  @Test
  void headersMap_becomesHeaderMapWithRawValues() throws Exception {
    byte[] obsText = {'c', 'a', 'f', (byte) 0xE9};
    CheckRequest sent =
        EnvoyChecks.get("/v1/status")
            .header("x-api-key", "pk_acme")
            .headerBytes("x-note", obsText)
            .build();

    CheckRequestTranscoder.Result r = CheckRequestTranscoder.transcode(sent.toByteArray());

    AttributeContext.HttpRequest http = http(r);
    assertThat(http.getHeadersMap()).isEmpty();
    Map<String, ByteString> headers =
        http.getHeaderMap().getHeadersList().stream()
            .collect(Collectors.toMap(HeaderValue::getKey, HeaderValue::getRawValue));
    assertThat(headers)
        .containsEntry("x-api-key", ByteString.copyFromUtf8("pk_acme"))
        .containsEntry("x-note", ByteString.copyFrom(obsText))
        .containsEntry(":path", ByteString.copyFromUtf8("/v1/status"));
    assertThat(r.refusal()).isNull();
  }

  @Test
  void pathNotUtf8_isDroppedAndNamedInTheRefusal() throws Exception {
    CheckRequest sent =
        EnvoyChecks.get("/").requestId("r2").pathBytes(new byte[] {'/', (byte) 0xC3, '('}).build();

    CheckRequestTranscoder.Result r = CheckRequestTranscoder.transcode(sent.toByteArray());

    assertThat(http(r).getPath()).isEmpty();
    assertThat(http(r).getId()).isEqualTo("r2");
    assertThat(r.refusal()).isEqualTo("not UTF-8: path");
  }

  @Test
  void garbage_isNotTranscoded() {
    assertThatThrownBy(
            () -> CheckRequestTranscoder.transcode(new byte[] {(byte) 0xFF, (byte) 0xFF, 0x0F}))
        .isInstanceOf(InvalidProtocolBufferException.class);
  }

  private static AttributeContext.HttpRequest http(CheckRequestTranscoder.Result r)
      throws InvalidProtocolBufferException {
    return CheckRequest.parseFrom(r.message()).getAttributes().getRequest().getHttp();
  }
}
