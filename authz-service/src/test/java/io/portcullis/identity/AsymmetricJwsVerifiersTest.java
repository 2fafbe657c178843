package io.portcullis.identity;

import static org.assertj.core.api.Assertions.assertThat;

import com.nimbusds.jose.jwk.Curve;
import com.nimbusds.jose.jwk.ECKey;
import com.nimbusds.jose.jwk.JWK;
import com.nimbusds.jose.jwk.RSAKey;
import com.nimbusds.jose.jwk.gen.ECKeyGenerator;
import com.nimbusds.jose.jwk.gen.RSAKeyGenerator;
import java.security.PublicKey;
import org.junit.jupiter.api.Test;

class AsymmetricJwsVerifiersTest {
  @Test
  void publicKey_ofOneJwkInstance_isBuiltOnceAndReused() throws Exception {
    RSAKey rsa = new RSAKeyGenerator(2048).keyID("r").generate().toPublicJWK();
    ECKey ec = new ECKeyGenerator(Curve.P_256).keyID("e").generate().toPublicJWK();

    PublicKey rsaKey = AsymmetricJwsVerifiers.publicKey(rsa);
    PublicKey ecKey = AsymmetricJwsVerifiers.publicKey(ec);

    assertThat(rsaKey).isNotNull().isEqualTo(rsa.toRSAPublicKey());
    assertThat(ecKey).isNotNull().isEqualTo(ec.toECPublicKey());
    // the same object again, not a new key decoded from the JWK
    assertThat(AsymmetricJwsVerifiers.publicKey(rsa)).isSameAs(rsaKey);
    assertThat(AsymmetricJwsVerifiers.publicKey(ec)).isSameAs(ecKey);
  }

  @Test
  void publicKey_ofAnEqualJwkFromARefreshedSet_isTheSameKey() throws Exception {
    RSAKey rsa = new RSAKeyGenerator(2048).keyID("r").generate().toPublicJWK();
    JWK refreshed = JWK.parse(rsa.toJSONString());

    assertThat(refreshed).isNotSameAs(rsa);
    assertThat(AsymmetricJwsVerifiers.publicKey(refreshed))
        .isEqualTo(AsymmetricJwsVerifiers.publicKey(rsa))
        // looked up by JWK instance, not by kid or equals: a rotated key under the same kid (next
        // test) can never be answered with an earlier key
        .isNotSameAs(AsymmetricJwsVerifiers.publicKey(rsa));
  }

  @Test
  void publicKey_ofANewKeyUnderAnOldKid_isTheNewKey() throws Exception {
    RSAKey old = new RSAKeyGenerator(2048).keyID("same").generate().toPublicJWK();
    RSAKey rotated = new RSAKeyGenerator(2048).keyID("same").generate().toPublicJWK();

    assertThat(AsymmetricJwsVerifiers.publicKey(old)).isEqualTo(old.toRSAPublicKey());
    assertThat(AsymmetricJwsVerifiers.publicKey(rotated))
        .isEqualTo(rotated.toRSAPublicKey())
        .isNotEqualTo(old.toRSAPublicKey());
  }

  @Test
  void publicKey_ofAnUnusableJwk_isNullEveryTime() throws Exception {
    // X25519 is a key-agreement curve: no signing key, however often it is asked for
    JWK x25519 =
        JWK.parse(
            "{\"kty\":\"OKP\",\"crv\":\"X25519\","
                + "\"x\":\"hSDwCYkwp1R0i33ctD73Wg2_Og0mOBr066SpjqqbTmo\"}");

    assertThat(AsymmetricJwsVerifiers.publicKey(x25519)).isNull();
    assertThat(AsymmetricJwsVerifiers.publicKey(x25519)).isNull();
  }
}
