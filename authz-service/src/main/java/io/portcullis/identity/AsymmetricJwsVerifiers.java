package io.portcullis.identity;

import com.github.benmanes.caffeine.cache.Cache;
import com.github.benmanes.caffeine.cache.Caffeine;
import com.nimbusds.jose.JOSEException;
import com.nimbusds.jose.JWSAlgorithm;
import com.nimbusds.jose.JWSHeader;
import com.nimbusds.jose.JWSVerifier;
import com.nimbusds.jose.crypto.ECDSAVerifier;
import com.nimbusds.jose.crypto.RSASSAVerifier;
import com.nimbusds.jose.crypto.impl.BaseJWSProvider;
import com.nimbusds.jose.jca.JCAContext;
import com.nimbusds.jose.jwk.Curve;
import com.nimbusds.jose.jwk.ECKey;
import com.nimbusds.jose.jwk.JWK;
import com.nimbusds.jose.jwk.OctetKeyPair;
import com.nimbusds.jose.jwk.RSAKey;
import com.nimbusds.jose.proc.JWSVerifierFactory;
import com.nimbusds.jose.util.Base64URL;
import java.security.GeneralSecurityException;
import java.security.Key;
import java.security.KeyFactory;
import java.security.PublicKey;
import java.security.Signature;
import java.security.interfaces.ECPublicKey;
import java.security.interfaces.EdECPublicKey;
import java.security.interfaces.RSAPublicKey;
import java.security.spec.X509EncodedKeySpec;
import java.util.LinkedHashSet;
import java.util.Optional;
import java.util.Set;
import org.jspecify.annotations.Nullable;

/**
 * Creates JWS signature verifiers for the asymmetric algorithms Portcullis accepts, and only those:
 * RSASSA-PKCS1-v1_5 and RSASSA-PSS (Nimbus {@link RSASSAVerifier}), ECDSA (Nimbus {@link
 * ECDSAVerifier}) and EdDSA over Ed25519 (the JDK's {@code Ed25519} signature, so that no Tink
 * dependency is needed). HMAC and {@code none} are refused here as well as by the verifier's
 * allow-list: a MAC "verified" with an issuer's public key is the classic key-confusion attack.
 *
 * <p>The verifiers reject any header with {@code crit} parameters they do not understand (all of
 * them: Portcullis defers none). Thread-safe and stateless.
 */
final class AsymmetricJwsVerifiers implements JWSVerifierFactory {

  /** Every algorithm a policy may allow. */
  static final Set<JWSAlgorithm> SUPPORTED;

  static {
    Set<JWSAlgorithm> s = new LinkedHashSet<>();
    s.addAll(JWSAlgorithm.Family.RSA);
    s.add(JWSAlgorithm.ES256);
    s.add(JWSAlgorithm.ES384);
    s.add(JWSAlgorithm.ES512);
    s.add(JWSAlgorithm.EdDSA);
    s.add(JWSAlgorithm.Ed25519);
    SUPPORTED = Set.copyOf(s);
  }

  private final JCAContext jca = new JCAContext();

  @Override
  public JWSVerifier createJWSVerifier(JWSHeader header, Key key) throws JOSEException {
    JWSAlgorithm alg = header.getAlgorithm();
    if (!SUPPORTED.contains(alg)) {
      throw new JOSEException("algorithm not supported");
    }
    if (JWSAlgorithm.Family.RSA.contains(alg) && key instanceof RSAPublicKey rsa) {
      return new RSASSAVerifier(rsa);
    }
    if (JWSAlgorithm.Family.EC.contains(alg) && key instanceof ECPublicKey ec) {
      return new ECDSAVerifier(ec);
    }
    if (isEdDsa(alg) && key instanceof EdECPublicKey ed) {
      return new JdkEd25519Verifier(ed);
    }
    throw new JOSEException("key type does not fit the algorithm");
  }

  @Override
  public Set<JWSAlgorithm> supportedJWSAlgorithms() {
    return SUPPORTED;
  }

  @Override
  public JCAContext getJCAContext() {
    return jca;
  }

  static boolean isEdDsa(JWSAlgorithm alg) {
    return JWSAlgorithm.EdDSA.equals(alg) || JWSAlgorithm.Ed25519.equals(alg);
  }

  /**
   * Public keys by JWK instance (identity, weakly held): a JWK is immutable, and building its key
   * (big-integer or curve-point decoding, a KeyFactory) on every signature check was 4% of a
   * forged-token flood's CPU. A refreshed JWK set brings new instances, and the old ones' entries
   * go with them.
   */
  private static final Cache<JWK, Optional<PublicKey>> PUBLIC_KEYS =
      Caffeine.newBuilder().weakKeys().maximumSize(4_096).build();

  /**
   * The public key of an issuer's JWK, or {@code null} if the JWK is not a usable asymmetric
   * signing key (unsupported curve, malformed).
   */
  static @Nullable PublicKey publicKey(JWK jwk) {
    return PUBLIC_KEYS.get(jwk, k -> Optional.ofNullable(buildPublicKey(k))).orElse(null);
  }

  private static @Nullable PublicKey buildPublicKey(JWK jwk) {
    try {
      if (jwk instanceof RSAKey rsa) {
        return rsa.toRSAPublicKey();
      }
      if (jwk instanceof ECKey ec) {
        return ec.toECPublicKey();
      }
      if (jwk instanceof OctetKeyPair okp && Curve.Ed25519.equals(okp.getCurve())) {
        return ed25519PublicKey(okp.getX().decode());
      }
    } catch (JOSEException | GeneralSecurityException | RuntimeException e) {
      return null;
    }
    return null;
  }

  /**
   * RFC 8410 SubjectPublicKeyInfo prefix of an Ed25519 key: SEQUENCE { id-Ed25519, BIT STRING }.
   */
  private static final byte[] ED25519_SPKI_PREFIX = {
    0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x03, 0x21, 0x00
  };

  private static PublicKey ed25519PublicKey(byte[] x) throws GeneralSecurityException {
    if (x.length != 32) {
      throw new GeneralSecurityException("Ed25519 public key must be 32 bytes");
    }
    byte[] der = new byte[ED25519_SPKI_PREFIX.length + x.length];
    System.arraycopy(ED25519_SPKI_PREFIX, 0, der, 0, ED25519_SPKI_PREFIX.length);
    System.arraycopy(x, 0, der, ED25519_SPKI_PREFIX.length, x.length);
    return KeyFactory.getInstance("Ed25519").generatePublic(new X509EncodedKeySpec(der));
  }

  /** EdDSA (RFC 8037) over Ed25519 with the JDK's own implementation (JEP 339). */
  static final class JdkEd25519Verifier extends BaseJWSProvider implements JWSVerifier {
    private final PublicKey key;

    JdkEd25519Verifier(PublicKey key) {
      super(Set.of(JWSAlgorithm.EdDSA, JWSAlgorithm.Ed25519));
      this.key = key;
    }

    @Override
    public boolean verify(JWSHeader header, byte[] signingInput, Base64URL signature) {
      if (!isEdDsa(header.getAlgorithm())) {
        return false;
      }
      Set<String> crit = header.getCriticalParams();
      if (crit != null && !crit.isEmpty()) {
        return false;
      }
      byte[] sig = signature.decode();
      if (sig.length != 64) {
        return false;
      }
      try {
        Signature verifier = Signature.getInstance("Ed25519");
        verifier.initVerify(key);
        verifier.update(signingInput);
        return verifier.verify(sig);
      } catch (GeneralSecurityException e) {
        return false;
      }
    }
  }
}
