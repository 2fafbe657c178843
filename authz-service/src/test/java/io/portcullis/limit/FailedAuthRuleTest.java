package io.portcullis.limit;

import static org.assertj.core.api.Assertions.assertThat;

import io.portcullis.request.RequestAttributes;
import java.time.Duration;
import java.util.Map;
import org.junit.jupiter.api.Test;

class FailedAuthRuleTest {
  private static final Duration MINUTE = Duration.ofMinutes(1);

  private static String keyOf(String key, Map<String, String> headers) {
    FailedAuthRule rule = new FailedAuthRule(key, 5, MINUTE, MINUTE);
    return rule.keyOf(
        RequestAttributes.builder().method("GET").path("/v1").headers(headers).build());
  }

  @Test
  void credentialHeaderKey_isTheDigest_neverTheSecret() {
    String k = keyOf("header:x-api-key", Map.of("x-api-key", "pck_live_secret"));
    assertThat(k)
        .isEqualTo("header:x-api-key:" + LimitKey.Header.digest("pck_live_secret"))
        .doesNotContain("pck_live_secret");
    String auth = keyOf("header:Authorization", Map.of("authorization", "Bearer abc.def.ghi"));
    assertThat(auth).doesNotContain("abc.def.ghi").contains("sha256:");
  }

  @Test
  void plainHeaderKey_isTheValue_unlessItIsLong() {
    assertThat(keyOf("header:x-tenant", Map.of("x-tenant", "acme")))
        .isEqualTo("header:x-tenant:acme");
    String huge = "t".repeat(16 * 1024);
    assertThat(keyOf("header:x-tenant", Map.of("x-tenant", huge)))
        .isEqualTo("header:x-tenant:" + LimitKey.Header.digest(huge))
        .hasSizeLessThan(100);
  }

  @Test
  void absentHeader_hasNoKey() {
    assertThat(keyOf("header:x-api-key", Map.of())).isNull();
  }
}
