package io.portcullis.server.grpc;

import static org.assertj.core.api.Assertions.assertThat;

import com.google.rpc.Code;
import io.envoyproxy.envoy.config.core.v3.HeaderMap;
import io.envoyproxy.envoy.config.core.v3.HeaderValue;
import io.envoyproxy.envoy.service.auth.v3.AttributeContext;
import io.envoyproxy.envoy.service.auth.v3.CheckRequest;
import io.envoyproxy.envoy.service.auth.v3.CheckResponse;
import io.portcullis.decision.Decision;
import io.portcullis.testing.EnvoyChecks;
import io.portcullis.testing.InProcessCheck;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * A {@code body_schema} rule through {@code Check} with a real compiled schema: the body {@code
 * {"name":"x","note":"&is_admin=1&"}} is valid JSON for a schema that forbids other members, and
 * read as a form (what Rack and PHP do with the Content-Types below) it sets {@code is_admin=1}. So
 * it is allowed only as {@code application/json}; anything a framework can read as another media
 * type is {@code invalid_body} (400), never an allow of a body nobody validated.
 */
class BodySchemaContentTypeCheckTest {
  static final String BODY = "{\"name\":\"x\",\"note\":\"&is_admin=1&\"}";

  @TempDir Path dir;
  InProcessCheck envoy;
  List<Decision> audited;

  @BeforeEach
  void start() throws Exception {
    envoy =
        InProcessCheck.postWithSchema(
            dir,
            "profile",
            "/v1/profile",
            """
        {"type":"object","additionalProperties":false,
         "properties":{"name":{"type":"string"},"note":{"type":"string"}}}
        """);
    audited = envoy.audited();
  }

  @AfterEach
  void stop() {
    envoy.close();
  }

  private CheckResponse post(String contentType) {
    return envoy.check(
        EnvoyChecks.request("POST", "/v1/profile")
            .header("content-type", contentType)
            .body(BODY)
            .build());
  }

  @Test
  void asApplicationJson_theBodyIsValidatedAndAllowed() {
    assertThat(post("application/json; charset=utf-8").getStatus().getCode())
        .isEqualTo(Code.OK_VALUE);
  }

  @ParameterizedTest
  @ValueSource(
      strings = {
        "application/x-www-form-urlencoded, application/vnd.a+json",
        "application/x-www-form-urlencoded +json",
        "text/plain,x/+json"
      })
  void aContentTypeAFrameworkReadsAsAForm_isInvalidBody400(String contentType) {
    CheckResponse r = post(contentType);

    assertThat(r.getDeniedResponse().getStatus().getCodeValue()).isEqualTo(400);
    assertThat(r.getDeniedResponse().getBody()).contains("urn:portcullis:error:invalid_body");
    assertThat(audited)
        .singleElement()
        .isInstanceOfSatisfying(
            Decision.Deny.class,
            d -> assertThat(d.detail()).startsWith("content-type must be one JSON media type"));
  }

  /**
   * Envoy with {@code encode_raw_headers} sends each header line as its own entry, its bytes in
   * {@code raw_value}: two {@code Content-Type} lines are joined with {@code ,}, which is no single
   * media type either.
   */
  @Test
  void twoContentTypeLines_inTheHeaderMap_areInvalidBody400() {
    CheckResponse r =
        envoy.check(
            withRawHeaders(
                "content-type",
                "application/x-www-form-urlencoded",
                "content-type",
                "application/vnd.a+json"));

    assertThat(r.getDeniedResponse().getStatus().getCodeValue()).isEqualTo(400);
    assertThat(r.getDeniedResponse().getBody()).contains("urn:portcullis:error:invalid_body");
  }

  /** One JSON Content-Type line as a raw entry is read, so the body is validated and allowed. */
  @Test
  void oneContentTypeLine_asARawHeaderMapEntry_isValidatedAndAllowed() {
    CheckResponse r = envoy.check(withRawHeaders("content-type", "application/json"));

    assertThat(r.getStatus().getCode()).isEqualTo(Code.OK_VALUE);
  }

  /**
   * A POST of {@link #BODY} as Envoy sends it with {@code encode_raw_headers}: every header a
   * {@code header_map} entry with {@code raw_value} only, then {@code nameValues} as more entries.
   */
  private static CheckRequest withRawHeaders(String... nameValues) {
    CheckRequest base = EnvoyChecks.request("POST", "/v1/profile").body(BODY).build();
    HeaderMap.Builder map = HeaderMap.newBuilder();
    base.getAttributes()
        .getRequest()
        .getHttp()
        .getHeadersMap()
        .forEach((k, v) -> map.addHeaders(raw(k, v)));
    for (int i = 0; i < nameValues.length; i += 2) {
      map.addHeaders(raw(nameValues[i], nameValues[i + 1]));
    }
    AttributeContext.HttpRequest http =
        base.getAttributes().getRequest().getHttp().toBuilder()
            .clearHeaders()
            .setHeaderMap(map)
            .build();
    return base.toBuilder()
        .setAttributes(
            base.getAttributes().toBuilder()
                .setRequest(base.getAttributes().getRequest().toBuilder().setHttp(http)))
        .build();
  }

  private static HeaderValue raw(String name, String value) {
    return HeaderValue.newBuilder()
        .setKey(name)
        .setRawValue(com.google.protobuf.ByteString.copyFromUtf8(value))
        .build();
  }
}
