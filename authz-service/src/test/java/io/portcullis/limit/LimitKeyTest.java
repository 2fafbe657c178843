package io.portcullis.limit;

import static org.assertj.core.api.Assertions.assertThat;

import io.portcullis.identity.Identity;
import io.portcullis.identity.Subject;
import io.portcullis.request.HttpMethod;
import io.portcullis.request.NormalizedPath;
import io.portcullis.request.PathNormalizer;
import io.portcullis.request.RequestAttributes;
import java.util.Map;
import org.junit.jupiter.api.Test;

class LimitKeyTest {
  private static final String TOKEN = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJhbGljZSJ9.c2lnbmF0dXJl";

  private static Subject subject(Map<String, String> headers) {
    NormalizedPath path =
        switch (PathNormalizer.normalize("/v1")) {
          case PathNormalizer.Normalized(NormalizedPath p) -> p;
          case PathNormalizer.Malformed(String why) -> throw new AssertionError(why);
        };
    RequestAttributes request =
        RequestAttributes.builder().method("GET").path("/v1").headers(headers).build();
    return new Subject(request, HttpMethod.GET, path, Identity.anonymous(), null);
  }

  private static String value(String keyName, Map<String, String> headers) {
    LimitKey key = LimitKey.parse(keyName);
    assertThat(key).isNotNull();
    return key.value(subject(headers), "seg", "route");
  }

  @Test
  void plainHeader_isCountedUnderItsValue() {
    assertThat(value("header:X-Tenant", Map.of("x-tenant", "acme"))).isEqualTo("acme");
  }

  @Test
  void credentialHeaders_areCountedUnderADigest_neverTheSecretItself() {
    Map<String, String> headers =
        Map.of(
            "authorization", "Bearer " + TOKEN,
            "x-api-key", "pck_secret",
            "cookie", "session=abc",
            "x-session-id", "s-123",
            "x-auth-token", TOKEN);
    for (String name :
        new String[] {"authorization", "x-api-key", "cookie", "x-session-id", "x-auth-token"}) {
      String v = value("header:" + name, headers);
      assertThat(v).as(name).startsWith("sha256:").hasSize("sha256:".length() + 32);
      assertThat(v).as(name).doesNotContain(headers.get(name)).doesNotContain("secret");
    }
  }

  @Test
  void digest_isStablePerValue_andDistinguishesValues() {
    String a = value("header:authorization", Map.of("authorization", "Bearer " + TOKEN));
    String again = value("header:authorization", Map.of("authorization", "Bearer " + TOKEN));
    String b = value("header:authorization", Map.of("authorization", "Bearer other"));
    assertThat(a).isEqualTo(again).isNotEqualTo(b);
    assertThat(a).isEqualTo(LimitKey.Header.digest("Bearer " + TOKEN));
  }

  @Test
  void longPlainHeaderValue_isCountedUnderADigest_soKeysStaySmall() {
    String huge = "t".repeat(16 * 1024);
    String v = value("header:x-tenant", Map.of("x-tenant", huge));
    assertThat(v).isEqualTo(LimitKey.Header.digest(huge)).hasSize("sha256:".length() + 32);
    String atBound = "t".repeat(LimitKey.Header.MAX_PLAIN_VALUE);
    assertThat(value("header:x-tenant", Map.of("x-tenant", atBound))).isEqualTo(atBound);
  }

  @Test
  void absentOrEmptyHeader_hasNoValue_soTheLimitDoesNotApply() {
    assertThat(value("header:authorization", Map.of())).isNull();
    assertThat(value("header:x-tenant", Map.of("x-tenant", ""))).isNull();
  }
}
