package io.portcullis.identity;

import static org.assertj.core.api.Assertions.assertThat;

import io.portcullis.decision.Reason;
import java.util.Set;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

class SpiffePeerVerifierTest {
  private final SpiffePeerVerifier verifier =
      new SpiffePeerVerifier(Set.of("prod.example.com", "staging.example.com"));

  @ParameterizedTest
  @ValueSource(
      strings = {
        "spiffe://prod.example.com/ns/orders/sa/api",
        "spiffe://staging.example.com/workload",
        "spiffe://prod.example.com/a.b-c_D9"
      })
  void verify_trustedDomain_isMtlsIdentity(String id) {
    Verification v = verifier.verify(id);

    assertThat(v).isInstanceOf(Verification.Verified.class);
    Identity identity = ((Verification.Verified) v).identity();
    assertThat(identity.credential()).isEqualTo(CredentialType.MTLS);
    assertThat(identity.principal()).isEqualTo(id);
  }

  @ParameterizedTest
  @ValueSource(
      strings = {
        "spiffe://evil.example.com/ns/orders/sa/api",
        "spiffe://example.com/ns/orders/sa/api",
        "spiffe://prod.example.com.evil.net/ns/orders"
      })
  void verify_untrustedDomain_isUntrusted(String id) {
    assertUntrusted(id, "not trusted");
  }

  @ParameterizedTest
  @ValueSource(
      strings = {
        "CN=orders,O=Example",
        "https://prod.example.com/ns/orders",
        "SPIFFE://prod.example.com/ns/orders",
        "prod.example.com/ns/orders"
      })
  void verify_notSpiffe_isUntrusted(String id) {
    assertUntrusted(id, "not a SPIFFE ID");
  }

  @ParameterizedTest
  @ValueSource(
      strings = {
        "spiffe://prod.example.com",
        "spiffe://prod.example.com/",
        "spiffe://prod.example.com/ns/",
        "spiffe://prod.example.com//ns",
        "spiffe://prod.example.com/ns/../admin",
        "spiffe://prod.example.com/./ns",
        "spiffe://prod.example.com:443/ns",
        "spiffe://user@prod.example.com/ns",
        "spiffe://prod.example.com/ns?x=1",
        "spiffe://prod.example.com/ns#frag",
        "spiffe://prod.example.com/n%2Fs",
        "spiffe://prod.example.com/n s",
        "spiffe://PROD.example.com/ns",
        "spiffe:///ns"
      })
  void verify_malformed_isUntrusted(String id) {
    Verification v = verifier.verify(id);

    assertThat(v).isInstanceOf(Verification.Rejected.class);
    assertThat(((Verification.Rejected) v).reason()).isEqualTo(Reason.UNTRUSTED_PRINCIPAL);
  }

  @org.junit.jupiter.api.Test
  void verify_overlongId_isUntrusted() {
    assertUntrusted("spiffe://prod.example.com/" + "a".repeat(2100), "malformed");
  }

  private void assertUntrusted(String id, String detail) {
    Verification v = verifier.verify(id);

    assertThat(v).isInstanceOf(Verification.Rejected.class);
    Verification.Rejected r = (Verification.Rejected) v;
    assertThat(r.reason()).isEqualTo(Reason.UNTRUSTED_PRINCIPAL);
    assertThat(r.detail()).contains(detail);
  }
}
