package io.portcullis.identity;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.read.ListAppender;
import com.nimbusds.jose.EncryptionMethod;
import com.nimbusds.jose.JOSEException;
import com.nimbusds.jose.JOSEObjectType;
import com.nimbusds.jose.JWEAlgorithm;
import com.nimbusds.jose.JWEHeader;
import com.nimbusds.jose.JWSAlgorithm;
import com.nimbusds.jose.JWSHeader;
import com.nimbusds.jose.JWSObject;
import com.nimbusds.jose.JWSVerifier;
import com.nimbusds.jose.Payload;
import com.nimbusds.jose.crypto.ECDSASigner;
import com.nimbusds.jose.crypto.MACSigner;
import com.nimbusds.jose.crypto.RSAEncrypter;
import com.nimbusds.jose.crypto.RSASSASigner;
import com.nimbusds.jose.jwk.Curve;
import com.nimbusds.jose.jwk.ECKey;
import com.nimbusds.jose.jwk.OctetKeyPair;
import com.nimbusds.jose.jwk.RSAKey;
import com.nimbusds.jose.jwk.gen.ECKeyGenerator;
import com.nimbusds.jose.jwk.gen.RSAKeyGenerator;
import com.nimbusds.jose.proc.JWSVerifierFactory;
import com.nimbusds.jose.util.Base64URL;
import com.nimbusds.jwt.EncryptedJWT;
import com.nimbusds.jwt.PlainJWT;
import com.nimbusds.jwt.SignedJWT;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import io.portcullis.decision.Reason;
import io.portcullis.metrics.MetricNames;
import io.portcullis.request.RequestAttributes;
import io.portcullis.testing.FakeClock;
import io.portcullis.testing.TestIssuer;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.security.Key;
import java.security.KeyPair;
import java.security.KeyPairGenerator;
import java.security.Signature;
import java.text.ParseException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.atomic.AtomicInteger;
import org.jspecify.annotations.Nullable;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.slf4j.LoggerFactory;

/**
 * {@link JwtVerifier} against a real OIDC issuer (mock-oauth2-server on loopback) and real attacks.
 * Token times and key-cache expiry run on a fake clock; the issuer stamps tokens with the same
 * clock. JWKS and discovery requests are counted at the issuer; signature checks are counted by
 * wrapping the production verifier factory.
 */
class JwtVerifierIT {
  private static final String ID = "corp";

  private final FakeClock clock = FakeClock.atWallClock();
  private final SimpleMeterRegistry meters = new SimpleMeterRegistry();
  private final AtomicInteger signatureChecks = new AtomicInteger();
  private TestIssuer idp;
  private TestIssuer attacker;
  private JwtVerifiers registry;

  @BeforeEach
  void start() {
    idp = TestIssuer.start(clock);
    attacker = TestIssuer.start(clock);
    registry = registry(JwtVerifiers.builder(meters));
  }

  @AfterEach
  void stop() {
    registry.close();
    idp.close();
    attacker.close();
  }

  private JwtVerifiers registry(JwtVerifiers.Builder builder) {
    AsymmetricJwsVerifiers real = new AsymmetricJwsVerifiers();
    JWSVerifierFactory counting =
        new JWSVerifierFactory() {
          @Override
          public JWSVerifier createJWSVerifier(JWSHeader header, Key key) throws JOSEException {
            signatureChecks.incrementAndGet();
            return real.createJWSVerifier(header, key);
          }

          @Override
          public Set<JWSAlgorithm> supportedJWSAlgorithms() {
            return real.supportedJWSAlgorithms();
          }

          @Override
          public com.nimbusds.jose.jca.JCAContext getJCAContext() {
            return real.getJCAContext();
          }
        };
    return builder.clock(clock).signatureVerifiers(counting).build();
  }

  private JwtIssuerConfig config(String id, @Nullable URI jwksUri, String... algorithms) {
    return new JwtIssuerConfig(
        "corp",
        idp.issuer(id),
        jwksUri,
        List.of("orders-api", "billing-api"),
        algorithms.length == 0 ? Set.of("RS256") : Set.of(algorithms),
        Duration.ofSeconds(30),
        ClaimMapping.DEFAULT);
  }

  private JwtVerifier verifier() {
    return registry.forIssuers(List.of(config(ID, null)));
  }

  private static Identity identity(@Nullable Verification v) {
    assertThat(v).isInstanceOf(Verification.Verified.class);
    return ((Verification.Verified) v).identity();
  }

  private static void assertRejected(@Nullable Verification v, Reason reason) {
    assertThat(v).isInstanceOf(Verification.Rejected.class);
    assertThat(((Verification.Rejected) v).reason()).isEqualTo(reason);
  }

  private double refreshes(String result) {
    var counter =
        meters
            .find(MetricNames.JWKS_REFRESH)
            .tag(MetricNames.TAG_ISSUER, idp.issuer(ID).toString())
            .tag(MetricNames.TAG_RESULT, result)
            .counter();
    return counter == null ? 0 : counter.count();
  }

  // ---- happy paths ----

  @Test
  void verify_tokenMintedByIssuer_viaDiscovery_returnsJwtIdentity() {
    SignedJWT minted =
        idp.server()
            .issueToken(
                ID, "alice", "orders-api", Map.of("scope", "orders:read orders:write"), 600);

    Identity id = identity(verifier().verify(minted.serialize()));

    assertThat(id.credential()).isEqualTo(CredentialType.JWT);
    assertThat(id.principal()).isEqualTo("alice");
    assertThat(id.scopes()).containsExactlyInAnyOrder("orders:read", "orders:write");
    assertThat(id.expiresAt()).isEqualTo(clock.instant().plusSeconds(600));
    assertThat(idp.discoveryRequests(ID)).isEqualTo(1);
    assertThat(idp.jwksRequests(ID)).isEqualTo(1);
    assertThat(refreshes("success")).isEqualTo(1);
  }

  @Test
  void prefetchKeys_fetchesEachIssuersKeysBeforeTheFirstToken_whichThenNeedsNoFetch() {
    JwtVerifier verifier = registry.forIssuers(List.of(config(ID, idp.jwksUri(ID))));
    assertThat(idp.jwksRequests(ID)).as("key sources are lazy until prefetched").isZero();

    assertThat(registry.prefetchKeys(Duration.ofSeconds(30))).isEqualTo(1); // returns when done
    assertThat(idp.jwksRequests(ID)).isEqualTo(1);

    assertThat(identity(verifier.verify(idp.token(ID).sign())).principal()).isEqualTo("alice");
    assertThat(idp.jwksRequests(ID)).isEqualTo(1);
  }

  @Test
  void prefetchKeys_issuerDown_reportsNoKeysAndTheFirstTokenStillFetchesOnceItIsBack() {
    JwtVerifier verifier = registry.forIssuers(List.of(config(ID, idp.jwksUri(ID))));
    idp.failing(true);

    assertThat(registry.prefetchKeys(Duration.ofSeconds(5))).isZero();

    idp.failing(false);
    clock.advance(Duration.ofMinutes(1)); // past the fetch rate limit
    assertThat(identity(verifier.verify(idp.token(ID).sign())).principal()).isEqualTo("alice");
  }

  @Test
  void issuerOutage_isLoggedWhenItBeginsAndWhenItEnds() {
    Logger logger = (Logger) LoggerFactory.getLogger(JwksFetcher.class);
    ListAppender<ILoggingEvent> logs = new ListAppender<>();
    logs.start();
    logger.addAppender(logs);
    try {
      JwtVerifier verifier = registry.forIssuers(List.of(config(ID, idp.jwksUri(ID))));
      idp.failing(true);
      assertThat(registry.prefetchKeys(Duration.ofSeconds(5))).isZero();
      idp.failing(false);
      clock.advance(Duration.ofMinutes(1)); // past the fetch rate limit

      assertThat(identity(verifier.verify(idp.token(ID).sign())).principal()).isEqualTo("alice");

      assertThat(logs.list)
          .extracting(e -> e.getLevel() + " " + e.getFormattedMessage())
          .anySatisfy(m -> assertThat(m).startsWith("WARN cannot fetch the signing keys"))
          .anySatisfy(
              m ->
                  assertThat(m)
                      .isEqualTo(
                          "INFO fetched the signing keys of issuer "
                              + idp.issuer(ID)
                              + " again (1 keys)"));
    } finally {
      logger.detachAppender(logs);
    }
  }

  @Test
  void verify_explicitJwksUri_fetchesKeysWithoutDiscovery() {
    JwtVerifier verifier = registry.forIssuers(List.of(config(ID, idp.jwksUri(ID))));

    assertThat(identity(verifier.verify(idp.token(ID).sign())).principal()).isEqualTo("alice");
    assertThat(idp.discoveryRequests(ID)).isZero();
    assertThat(idp.jwksRequests(ID)).isEqualTo(1);
  }

  @Test
  void verify_mapsNestedRolesScopeStringAndClientType() {
    JwtIssuerConfig keycloakLike =
        new JwtIssuerConfig(
            "kc",
            idp.issuer(ID),
            null,
            List.of("orders-api"),
            Set.of("RS256"),
            Duration.ofSeconds(30),
            new ClaimMapping("sub", "azp", "realm_access.roles", "scope", "client_type"));
    String token =
        idp.token(ID)
            .claim("realm_access", Map.of("roles", List.of("orders.read", "orders.write")))
            .claim("scope", "openid orders:write")
            .claim("client_type", "partner")
            .sign();

    Identity id = identity(registry.forIssuers(List.of(keycloakLike)).verify(token));

    assertThat(id.roles()).containsExactlyInAnyOrder("orders.read", "orders.write");
    assertThat(id.scopes()).containsExactlyInAnyOrder("openid", "orders:write");
    assertThat(id.client()).isEqualTo("web-app");
    assertThat(id.clientType()).isEqualTo("partner");
  }

  @Test
  void verify_scopeArrayAndClientIdFallback() {
    JwtIssuerConfig entraLike =
        new JwtIssuerConfig(
            "entra",
            idp.issuer(ID),
            null,
            List.of("orders-api"),
            Set.of("RS256"),
            Duration.ofSeconds(30),
            new ClaimMapping("sub", "azp", "roles", "scp", null));
    String token =
        idp.token(ID)
            .without("azp")
            .claim("client_id", "batch-job")
            .claim("scp", List.of("orders:read", "orders:export"))
            .claim("roles", "auditor")
            .sign();

    Identity id = identity(registry.forIssuers(List.of(entraLike)).verify(token));

    assertThat(id.client()).isEqualTo("batch-job");
    assertThat(id.scopes()).containsExactlyInAnyOrder("orders:read", "orders:export");
    assertThat(id.roles()).containsExactly("auditor");
  }

  @Test
  void verify_audienceArrayContainingAnAcceptedAudience_verifies() {
    String token = idp.token(ID).claim("aud", List.of("other-api", "billing-api")).sign();

    assertThat(identity(verifier().verify(token)).principal()).isEqualTo("alice");
  }

  @Test
  void verify_es256TokenWithIssuerEcKey_verifies() throws Exception {
    ECKey ec = new ECKeyGenerator(Curve.P_256).keyID("ec-1").generate();
    idp.publishJwk(ID, ec);
    SignedJWT jwt =
        new SignedJWT(
            new JWSHeader.Builder(JWSAlgorithm.ES256).keyID("ec-1").build(),
            idp.token(ID).claims());
    jwt.sign(new ECDSASigner(ec));

    JwtVerifier verifier = registry.forIssuers(List.of(config(ID, null, "ES256")));

    assertThat(identity(verifier.verify(jwt.serialize())).principal()).isEqualTo("alice");
  }

  @Test
  void verify_edDsaTokenWithIssuerEd25519Key_verifiesAndRejectsForgery() throws Exception {
    KeyPair pair = KeyPairGenerator.getInstance("Ed25519").generateKeyPair();
    byte[] spki = pair.getPublic().getEncoded();
    byte[] x = Arrays.copyOfRange(spki, spki.length - 32, spki.length);
    idp.publishJwk(
        ID, new OctetKeyPair.Builder(Curve.Ed25519, Base64URL.encode(x)).keyID("ed-1").build());
    String header =
        Base64URL.encode("{\"alg\":\"EdDSA\",\"kid\":\"ed-1\",\"typ\":\"JWT\"}").toString();
    String payload = Base64URL.encode(idp.token(ID).claims().toString()).toString();
    Signature signer = Signature.getInstance("Ed25519");
    signer.initSign(pair.getPrivate());
    signer.update((header + "." + payload).getBytes(StandardCharsets.US_ASCII));
    String token = header + "." + payload + "." + Base64URL.encode(signer.sign());
    JwtVerifier verifier = registry.forIssuers(List.of(config(ID, null, "EdDSA")));

    assertThat(identity(verifier.verify(token)).principal()).isEqualTo("alice");
    assertRejected(verifier.verify(flipSignature(token)), Reason.INVALID_TOKEN);
  }

  // ---- attacks ----

  @Test
  void verify_unsecuredAlgNone_isInvalid() {
    String token = new PlainJWT(idp.token(ID).claims()).serialize();

    Verification v = verifier().verify(token);

    assertRejected(v, Reason.INVALID_TOKEN);
    assertThat(((Verification.Rejected) v).detail()).contains("alg none");
  }

  @Test
  void verify_hs256SignedWithIssuersRsaPublicKey_isInvalid() throws Exception {
    JwtVerifier verifier = verifier();
    verifier.verify(idp.token(ID).sign()); // keys cached, the attacker knows them too
    RSAKey publicKey = idp.rsaKey(ID).toPublicJWK();
    SignedJWT forged =
        new SignedJWT(
            new JWSHeader.Builder(JWSAlgorithm.HS256).keyID(ID).build(), idp.token(ID).claims());
    forged.sign(new MACSigner(publicKey.toRSAPublicKey().getEncoded()));
    int checksBefore = signatureChecks.get();

    assertRejected(verifier.verify(forged.serialize()), Reason.INVALID_TOKEN);
    assertThat(signatureChecks.get()).isEqualTo(checksBefore);
  }

  @Test
  void forIssuers_hmacOrNoneInAllowList_isRefused() {
    for (String alg : List.of("HS256", "HS512", "none", "ES256K")) {
      org.assertj.core.api.Assertions.assertThatIllegalArgumentException()
          .isThrownBy(() -> registry.forIssuers(List.of(config(ID, null, "RS256", alg))))
          .withMessageContaining(alg);
    }
  }

  @Test
  void verify_algorithmNotInIssuersAllowList_isInvalid() throws Exception {
    RSAKey anyAlg = new RSAKeyGenerator(2048).keyID("ps-1").generate(); // JWK without "alg"
    idp.publishJwk(ID, anyAlg);
    SignedJWT ps =
        new SignedJWT(
            new JWSHeader.Builder(JWSAlgorithm.PS256).keyID("ps-1").build(),
            idp.token(ID).claims());
    ps.sign(new RSASSASigner(anyAlg));

    assertRejected(verifier().verify(ps.serialize()), Reason.INVALID_TOKEN);
    assertThat(
            identity(registry.forIssuers(List.of(config(ID, null, "PS256"))).verify(ps.serialize()))
                .principal())
        .isEqualTo("alice");
  }

  @Test
  void verify_keyDeclaringAnotherAlgorithm_isNotUsed() throws Exception {
    // the issuer's own key says "alg": "RS256" (RFC 7517 §4.4): it must not verify PS256
    SignedJWT ps =
        new SignedJWT(
            new JWSHeader.Builder(JWSAlgorithm.PS256).keyID(ID).build(), idp.token(ID).claims());
    ps.sign(new RSASSASigner(idp.rsaKey(ID)));

    JwtVerifier verifier = registry.forIssuers(List.of(config(ID, null, "RS256", "PS256")));

    assertRejected(verifier.verify(ps.serialize()), Reason.INVALID_TOKEN);
  }

  @Test
  void verify_tokenOfIssuerNotConfigured_isNotMine() {
    String token = idp.token("other").sign();

    assertThat(verifier().verify(token)).isNull();
    assertThat(idp.jwksRequests("other")).isZero();
  }

  @Test
  void verify_tokenWithoutIss_isNotMine_notAMalformedToken() {
    // {"alg":"RS256","typ":"JWT"} . {"sub":"x"} . a signature of nothing
    String token = "eyJhbGciOiJSUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiJ4In0.AAAA";

    assertThat(verifier().verify(token)).isNull();
    assertThat(idp.jwksRequests(ID)).isZero();
  }

  @Test
  void verify_issAlteredToATrustedIssuer_failsSignature() {
    // signed by "other"'s key, claiming to be "corp": routing by the unverified iss must not help
    String token = idp.token(ID).signedWith("other").claim("iss", idp.issuer(ID).toString()).sign();

    assertRejected(verifier().verify(token), Reason.INVALID_TOKEN);
  }

  @Test
  void verify_nullAudience_isAnAudienceNotAccepted_notAnException() {
    // {"aud":[null,"shop-api"]}: Nimbus keeps the null element
    String token = idp.token(ID).claim("aud", java.util.Arrays.asList(null, "shop-api")).sign();

    assertThat(verifier().verify(token))
        .isEqualTo(
            new Verification.Rejected(
                Reason.INVALID_TOKEN, "token audience is not accepted by issuer 'corp'"));
  }

  @Test
  void verify_wrongAudience_isInvalid() {
    assertRejected(
        verifier().verify(idp.token(ID).claim("aud", "someone-else").sign()), Reason.INVALID_TOKEN);
    assertRejected(verifier().verify(idp.token(ID).without("aud").sign()), Reason.INVALID_TOKEN);
  }

  @Test
  void verify_expiredBeyondSkew_isExpiredToken() {
    String token = idp.token(ID).expiresAt(clock.instant().minusSeconds(31)).sign();

    assertRejected(verifier().verify(token), Reason.EXPIRED_TOKEN);
  }

  @Test
  void verify_expiredWithinSkew_isAccepted() {
    String token = idp.token(ID).expiresAt(clock.instant().minusSeconds(29)).sign();

    assertThat(identity(verifier().verify(token)).principal()).isEqualTo("alice");
  }

  @Test
  void verify_missingExp_isInvalid() {
    assertRejected(verifier().verify(idp.token(ID).without("exp").sign()), Reason.INVALID_TOKEN);
  }

  @Test
  void verify_notYetValidBeyondSkew_isInvalidButWithinSkewAccepted() {
    JwtVerifier verifier = verifier();
    String early = idp.token(ID).notBefore(clock.instant().plusSeconds(31)).sign();
    String slightlyEarly = idp.token(ID).notBefore(clock.instant().plusSeconds(29)).sign();

    assertRejected(verifier.verify(early), Reason.INVALID_TOKEN);
    assertThat(identity(verifier.verify(slightlyEarly)).principal()).isEqualTo("alice");
    // not-yet-valid is not remembered as a rejection: once nbf passes, the same token verifies
    clock.advance(Duration.ofSeconds(2));
    assertThat(identity(verifier.verify(early)).principal()).isEqualTo("alice");
  }

  @Test
  void verify_issuedInTheFuture_isInvalid() {
    String token = idp.token(ID).claim("iat", clock.instant().plusSeconds(3600)).sign();

    assertRejected(verifier().verify(token), Reason.INVALID_TOKEN);
  }

  @Test
  void verify_missingSubject_isInvalid() {
    assertRejected(verifier().verify(idp.token(ID).without("sub").sign()), Reason.INVALID_TOKEN);
  }

  @Test
  void verify_unknownKid_isInvalidToken() {
    JwtVerifier verifier = verifier();
    verifier.verify(idp.token(ID).sign());

    assertRejected(verifier.verify(idp.token(ID).signedWith("ghost").sign()), Reason.INVALID_TOKEN);
  }

  @Test
  void verify_floodOfRandomKids_fetchesJwksAtMostTwicePerInterval() {
    JwtVerifier verifier = verifier();
    verifier.verify(idp.token(ID).sign());
    String payload = Base64URL.encode(idp.token(ID).claims().toString()).toString();
    String signature = Base64URL.encode(new byte[256]).toString();

    for (int round = 0; round < 2; round++) {
      for (int i = 0; i < 1000; i++) {
        String header =
            Base64URL.encode("{\"alg\":\"RS256\",\"kid\":\"" + UUID.randomUUID() + "\"}")
                .toString();
        assertRejected(
            verifier.verify(header + "." + payload + "." + signature), Reason.INVALID_TOKEN);
      }
      assertThat(idp.jwksRequests(ID)).isLessThanOrEqualTo(2 * (round + 1));
      clock.advance(Duration.ofSeconds(10));
    }
    assertThat(identity(verifier.verify(idp.token(ID).sign())).principal()).isEqualTo("alice");
    assertThat(signatureChecks.get()).isEqualTo(2);
  }

  @Test
  void verify_tamperedPayload_isInvalid() {
    String[] parts = idp.token(ID).sign().split("\\.");
    String admin =
        Base64URL.encode(idp.token(ID).claim("sub", "admin").claims().toString()).toString();

    assertRejected(
        verifier().verify(parts[0] + "." + admin + "." + parts[2]), Reason.INVALID_TOKEN);
  }

  @Test
  void verify_tamperedSignature_isInvalid() {
    assertRejected(verifier().verify(flipSignature(idp.token(ID).sign())), Reason.INVALID_TOKEN);
  }

  @Test
  void verify_jkuPointingAtAttackerJwks_isIgnored() throws Exception {
    RSAKey evil = attacker.rsaKey("evil");
    for (String kid : List.of("evil", ID)) {
      SignedJWT forged =
          new SignedJWT(
              new JWSHeader.Builder(JWSAlgorithm.RS256)
                  .keyID(kid)
                  .jwkURL(attacker.jwksUri("evil"))
                  .build(),
              idp.token(ID).claims());
      forged.sign(new RSASSASigner(evil));

      assertRejected(verifier().verify(forged.serialize()), Reason.INVALID_TOKEN);
    }
    assertThat(attacker.jwksRequests("evil")).isZero();
  }

  @Test
  void verify_x5uPointingAtAttacker_isIgnored() throws Exception {
    SignedJWT forged =
        new SignedJWT(
            new JWSHeader.Builder(JWSAlgorithm.RS256)
                .keyID(ID)
                .x509CertURL(attacker.jwksUri("evil"))
                .build(),
            idp.token(ID).claims());
    forged.sign(new RSASSASigner(attacker.rsaKey("evil")));

    assertRejected(verifier().verify(forged.serialize()), Reason.INVALID_TOKEN);
    assertThat(attacker.jwksRequests("evil")).isZero();
  }

  @Test
  void verify_embeddedJwkOfAttacker_isIgnored() throws Exception {
    RSAKey evil = attacker.rsaKey("evil");
    for (String kid : Arrays.asList(ID, "evil", null)) {
      SignedJWT forged =
          new SignedJWT(
              new JWSHeader.Builder(JWSAlgorithm.RS256).keyID(kid).jwk(evil.toPublicJWK()).build(),
              idp.token(ID).claims());
      forged.sign(new RSASSASigner(evil));

      assertRejected(verifier().verify(forged.serialize()), Reason.INVALID_TOKEN);
    }
  }

  @Test
  void verify_unknownCriticalHeader_isInvalid() {
    String token = idp.token(ID).header("crit", Set.of("urn:x")).header("urn:x", true).sign();

    Verification v = verifier().verify(token);

    assertRejected(v, Reason.INVALID_TOKEN);
    assertThat(((Verification.Rejected) v).detail()).contains("critical");
  }

  @Test
  void verify_tokenTypedAsAnotherKindOfJwt_isInvalid_butAtJwtAndUntypedAreAccepted() {
    for (String typ : List.of("logout+jwt", "application/secevent+jwt", "DPoP+JWT")) {
      String token = idp.token(ID).header("typ", typ).sign();

      Verification v = verifier().verify(token);

      assertRejected(v, Reason.INVALID_TOKEN);
      assertThat(((Verification.Rejected) v).detail()).as(typ).contains("another kind of JWT");
    }
    assertThat(verifier().verify(idp.token(ID).header("typ", "at+jwt").sign()))
        .isInstanceOf(Verification.Verified.class);
    assertThat(verifier().verify(idp.token(ID).header("typ", "JWT").sign()))
        .isInstanceOf(Verification.Verified.class);
  }

  // ---- token_types: access tokens only (RFC 9068) ----

  /** The issuer as an OIDC provider is often set up: a client id among the audiences. */
  private JwtVerifier verifierAccepting(String... tokenTypes) {
    return registry.forIssuers(
        List.of(
            new JwtIssuerConfig(
                "corp",
                idp.issuer(ID),
                null,
                List.of("orders-api", "web-app"),
                Set.of("RS256"),
                Set.of(tokenTypes),
                Duration.ofSeconds(30),
                ClaimMapping.DEFAULT)));
  }

  @Test
  void verify_idTokenOfAnAcceptedClient_isRefusedUnderTokenTypesAtJwt_namingItsTyp()
      throws ParseException {
    String idToken = idp.idToken(ID, "web-app");
    SignedJWT parsed = SignedJWT.parse(idToken);
    assertThat(parsed.getHeader().getType()).isEqualTo(JOSEObjectType.JWT);
    assertThat(parsed.getJWTClaimsSet().getAudience()).containsExactly("web-app");
    assertThat(verifierAccepting().verify(idToken))
        .as("without token_types an ID token passes as an access token (the default, unchanged)")
        .isInstanceOf(Verification.Verified.class);

    Verification v = verifierAccepting("at+jwt").verify(idToken);

    assertRejected(v, Reason.INVALID_TOKEN);
    assertThat(((Verification.Rejected) v).detail())
        .isEqualTo("token of issuer 'corp' is typed 'JWT'; the issuer's token_types are at+jwt")
        .doesNotContain(idToken);
  }

  @Test
  void verify_accessTokenTypedAtJwt_isAcceptedUnderTokenTypes_withOrWithoutApplicationPrefix() {
    JwtVerifier verifier = verifierAccepting("at+jwt");
    for (String typ : List.of("at+jwt", "application/at+jwt", "AT+JWT")) {
      String token = idp.accessToken(ID, "web-app", "orders-api", typ);

      assertThat(identity(verifier.verify(token)).principal()).as(typ).isEqualTo("web-app");
    }
  }

  @Test
  void verify_untypedOrOtherwiseTypedToken_isRefusedUnderTokenTypes() {
    JwtVerifier verifier = verifierAccepting("at+jwt");

    Verification untyped = verifier.verify(idp.token(ID).withoutType().sign());
    Verification odd = verifier.verify(idp.token(ID).header("typ", "at+jwt\n<script>").sign());

    assertRejected(untyped, Reason.INVALID_TOKEN);
    assertThat(((Verification.Rejected) untyped).detail())
        .isEqualTo("token of issuer 'corp' has no typ; the issuer's token_types are at+jwt");
    assertRejected(odd, Reason.INVALID_TOKEN);
    assertThat(((Verification.Rejected) odd).detail())
        .as("a typ that is no media type is not echoed")
        .isEqualTo(
            "token of issuer 'corp' has a typ that is not a media type; the issuer's"
                + " token_types are at+jwt");
  }

  @Test
  void verify_garbageShapedLikeJws_isLeftToOtherVerifiers_andInvalidWithoutThem() {
    JwtVerifier verifier = verifier();
    CredentialChain jwtOnly = CredentialChain.builder().bearer(verifier).build();
    for (String garbage : List.of("abc.def.ghi", "..", "eyJhbGciOiJSUzI1NiJ9..", "a.b.c")) {
      assertThat(verifier.verify(garbage)).as(garbage).isNull();
      assertThat(verifier.verify(garbage)).as("cached: " + garbage).isNull();
      assertRejected(jwtOnly.resolve(bearer(garbage)), Reason.INVALID_TOKEN);
    }
  }

  @Test
  void opaqueTokensWithDots_reachIntrospection_butTokensOfATrustedIssuerNever()
      throws JOSEException {
    List<String> introspected = new ArrayList<>();
    CredentialChain chain =
        CredentialChain.builder()
            .bearer(verifier())
            .introspection(
                token -> {
                  introspected.add(token);
                  return Verification.verified(
                      Identity.builder(CredentialType.INTROSPECTION, "bob").build());
                })
            .build();

    for (String opaque : List.of("abc.def.ghi", "a1b2.c3d4.e5f6.g7h8.i9j0")) {
      assertThat(identity(chain.resolve(bearer(opaque))).principal()).as(opaque).isEqualTo("bob");
    }
    assertThat(introspected).containsExactly("abc.def.ghi", "a1b2.c3d4.e5f6.g7h8.i9j0");

    introspected.clear();
    String badSignature = flipSignature(idp.token(ID).sign());
    String unsecured = new PlainJWT(idp.token(ID).claims()).serialize();
    String malformedClaims = signedPayload("{\"iss\":\"" + idp.issuer(ID) + "\",\"exp\":\"soon\"}");
    for (String ours : List.of(badSignature, unsecured, malformedClaims)) {
      assertRejected(chain.resolve(bearer(ours)), Reason.INVALID_TOKEN);
    }
    assertThat(introspected).as("a trusted issuer's tokens are decided here").isEmpty();
  }

  /** A JWS of {@code payload} as is, signed with the issuer's key (for claims no builder makes). */
  private String signedPayload(String payload) throws JOSEException {
    RSAKey key = idp.rsaKey(ID);
    JWSObject jws =
        new JWSObject(
            new JWSHeader.Builder(JWSAlgorithm.RS256).keyID(key.getKeyID()).build(),
            new Payload(payload));
    jws.sign(new RSASSASigner(key));
    return jws.serialize();
  }

  private static RequestAttributes bearer(String token) {
    return RequestAttributes.builder().header("Authorization", "Bearer " + token).build();
  }

  @Test
  void verify_notJoseShaped_isLeftToOtherVerifiers() {
    JwtVerifier verifier = verifier();
    for (String opaque : List.of("", "2YotnFZFEjr1zCsicMWpAA", "a.b", "a.b.c.d")) {
      assertThat(verifier.verify(opaque)).as(opaque).isNull();
    }
    CredentialChain chain = CredentialChain.builder().bearer(verifier).build();
    assertRejected(
        chain.resolve(
            RequestAttributes.builder()
                .header("Authorization", "Bearer 2YotnFZFEjr1zCsicMWpAA")
                .build()),
        Reason.INVALID_TOKEN);
  }

  @Test
  void verify_encryptedJwe_isLeftToOtherVerifiers_andInvalidWithoutThem() throws Exception {
    EncryptedJWT jwe =
        new EncryptedJWT(
            new JWEHeader(JWEAlgorithm.RSA_OAEP_256, EncryptionMethod.A256GCM),
            idp.token(ID).claims());
    jwe.encrypt(new RSAEncrypter(idp.rsaKey(ID).toRSAPublicKey()));

    JwtVerifier verifier = verifier();
    assertThat(verifier.verify(jwe.serialize())).isNull();
    assertRejected(
        CredentialChain.builder().bearer(verifier).build().resolve(bearer(jwe.serialize())),
        Reason.INVALID_TOKEN);
  }

  @Test
  void verify_tooLargeToken_isInvalidWithoutParsing() {
    String huge = "a.".repeat(20_000) + "b";

    assertRejected(verifier().verify(huge), Reason.INVALID_TOKEN);
  }

  @Test
  void verify_discoveryNamingAnotherIssuer_isUnavailable() {
    idp.advertiseIssuer(ID, "https://evil.example");

    assertRejected(verifier().verify(idp.token(ID).sign()), Reason.IDENTITY_UNAVAILABLE);
    assertThat(idp.jwksRequests(ID)).isZero();
  }

  // ---- key rotation ----

  @Test
  void verify_rotation_newKeyVerifiesOnFirstUseAndOldKeyWhilePublished() {
    JwtVerifier verifier = verifier();
    assertThat(identity(verifier.verify(idp.token(ID).sign())).principal()).isEqualTo("alice");

    idp.publish(ID, "corp-next");
    clock.advance(Duration.ofSeconds(1));
    assertThat(identity(verifier.verify(idp.token(ID).signedWith("corp-next").sign())).principal())
        .isEqualTo("alice");
    assertThat(identity(verifier.verify(idp.token(ID).claim("sub", "bob").sign())).principal())
        .isEqualTo("bob");
    assertThat(idp.jwksRequests(ID)).isEqualTo(2);

    // once the old key is withdrawn and the cache refreshed, old-key tokens stop verifying
    idp.retract(ID, ID);
    clock.advance(Duration.ofMinutes(6));
    assertRejected(
        verifier.verify(idp.token(ID).claim("sub", "carol").sign()), Reason.INVALID_TOKEN);
    assertThat(
            identity(
                    verifier.verify(
                        idp.token(ID).signedWith("corp-next").claim("sub", "dave").sign()))
                .principal())
        .isEqualTo("dave");
  }

  @Test
  void verify_rotationWithoutKid_aTokenOfTheNewKeyRefreshesTheKeysOnce_andVerifies() {
    JwtVerifier verifier = verifier();
    assertThat(identity(verifier.verify(idp.token(ID).withoutKeyId().sign())).principal())
        .isEqualTo("alice");
    assertThat(idp.jwksRequests(ID)).isEqualTo(1);

    idp.publish(ID, "corp-next");
    clock.advance(Duration.ofSeconds(10)); // a fresh refresh window
    String next = idp.token(ID).signedWith("corp-next").withoutKeyId().claim("sub", "bob").sign();

    assertThat(identity(verifier.verify(next)).principal()).isEqualTo("bob");
    assertThat(idp.jwksRequests(ID)).isEqualTo(2);

    // a forged kid-less token: refused after one refresh, then from the cache without another
    String forged = idp.token(ID).withoutKeyId().claim("sub", "mallory").sign();
    String tampered = forged.substring(0, forged.lastIndexOf('.') + 1) + "AAAA";
    clock.advance(Duration.ofSeconds(10));
    assertRejected(verifier.verify(tampered), Reason.INVALID_TOKEN);
    assertRejected(verifier.verify(tampered), Reason.INVALID_TOKEN);
    assertThat(idp.jwksRequests(ID)).isEqualTo(3);
  }

  @Test
  void verify_concurrentMissesOnNewKey_coalesceIntoOneFetch() throws Exception {
    JwtVerifier verifier = verifier();
    verifier.verify(idp.token(ID).sign());
    idp.publish(ID, "corp-next");
    clock.advance(Duration.ofSeconds(10)); // fresh rate-limit window: two fetches would be allowed
    List<String> tokens = new ArrayList<>();
    for (int i = 0; i < 16; i++) {
      tokens.add(idp.token(ID).signedWith("corp-next").claim("jti", "t" + i).sign());
    }
    CountDownLatch go = new CountDownLatch(1);
    ExecutorService pool = Executors.newFixedThreadPool(16);
    try {
      List<Future<Verification>> results = new ArrayList<>();
      for (String t : tokens) {
        results.add(
            pool.submit(
                () -> {
                  go.await();
                  return verifier.verify(t);
                }));
      }
      go.countDown();
      for (Future<Verification> f : results) {
        assertThat(identity(f.get()).principal()).isEqualTo("alice");
      }
    } finally {
      pool.shutdownNow();
    }
    assertThat(idp.jwksRequests(ID)).isEqualTo(2);
  }

  @Test
  void reload_sameIssuer_reusesCachedKeys() {
    registry.forIssuers(List.of(config(ID, null))).verify(idp.token(ID).sign());

    JwtVerifier reloaded = registry.forIssuers(List.of(config(ID, null)));

    assertThat(identity(reloaded.verify(idp.token(ID).sign())).principal()).isEqualTo("alice");
    assertThat(idp.jwksRequests(ID)).isEqualTo(1);
    assertThat(idp.discoveryRequests(ID)).isEqualTo(1);
  }

  @Test
  void retainOnly_dropsKeySourcesOfIssuersNoLongerConfigured() {
    registry.forIssuers(List.of(config(ID, null))).verify(idp.token(ID).sign());

    registry.retainOnly(List.of(config(ID, null)));
    registry.forIssuers(List.of(config(ID, null))).verify(idp.token(ID).sign());
    assertThat(idp.jwksRequests(ID)).isEqualTo(1);

    registry.retainOnly(List.of());
    assertThat(
            identity(registry.forIssuers(List.of(config(ID, null))).verify(idp.token(ID).sign()))
                .principal())
        .isEqualTo("alice");
    assertThat(idp.jwksRequests(ID)).isEqualTo(2);
  }

  @Test
  void background_refreshesKeysWithoutRequests() {
    JwtVerifiers fast =
        JwtVerifiers.builder(meters)
            .jwksCacheTtl(Duration.ofMillis(1500))
            .jwksRefreshAhead(Duration.ofMillis(200))
            .jwksRefreshTimeout(Duration.ofMillis(300))
            .jwksMinRefreshInterval(Duration.ofMillis(100))
            .build(); // system clock: Nimbus schedules on wall-clock delays
    try {
      TestIssuer live = TestIssuer.start(java.time.InstantSource.system());
      try {
        JwtIssuerConfig cfg =
            new JwtIssuerConfig(
                "live",
                live.issuer(ID),
                null,
                List.of("orders-api"),
                Set.of("RS256"),
                Duration.ofSeconds(30),
                ClaimMapping.DEFAULT);
        assertThat(
                identity(fast.forIssuers(List.of(cfg)).verify(live.token(ID).sign())).principal())
            .isEqualTo("alice");
        assertThat(live.jwksRequests(ID)).isEqualTo(1);

        await().atMost(Duration.ofSeconds(10)).until(() -> live.jwksRequests(ID) >= 3);
      } finally {
        live.close();
      }
    } finally {
      fast.close();
    }
  }

  // ---- issuer outages ----

  @Test
  void verify_issuerDownBeforeFirstFetch_isUnavailable() {
    JwtVerifier verifier = verifier();
    String token = idp.token(ID).sign();
    idp.stop();

    assertRejected(verifier.verify(token), Reason.IDENTITY_UNAVAILABLE);
    assertRejected(verifier.verify(token), Reason.IDENTITY_UNAVAILABLE);
    assertThat(refreshes("error")).isGreaterThanOrEqualTo(1);
  }

  @Test
  void verify_issuerAnswering503_isUnavailableThenRecovers() {
    JwtVerifier verifier = verifier();
    idp.failing(true);
    assertRejected(verifier.verify(idp.token(ID).sign()), Reason.IDENTITY_UNAVAILABLE);
    assertRejected(verifier.verify(idp.token(ID).sign()), Reason.IDENTITY_UNAVAILABLE);

    idp.failing(false);
    clock.advance(Duration.ofSeconds(10));

    assertThat(identity(verifier.verify(idp.token(ID).sign())).principal()).isEqualTo("alice");
  }

  @Test
  void verify_issuerDownAfterKeysCached_keepsVerifying() {
    JwtVerifier verifier = verifier();
    verifier.verify(idp.token(ID).sign());
    String later =
        idp.token(ID)
            .claim("sub", "bob")
            .expiresAt(clock.instant().plus(Duration.ofHours(2)))
            .sign();
    String newKey =
        idp.token(ID)
            .signedWith("corp-next")
            .expiresAt(clock.instant().plus(Duration.ofHours(2)))
            .sign();
    idp.stop();

    clock.advance(Duration.ofMinutes(6)); // past the JWKS cache TTL: a refetch is due and fails

    assertThat(identity(verifier.verify(later)).principal()).isEqualTo("bob");
    assertRejected(verifier.verify(newKey), Reason.IDENTITY_UNAVAILABLE);
    assertThat(refreshes("error")).isGreaterThanOrEqualTo(1);
  }

  // ---- caches ----

  @Test
  void verify_sameTokenTwice_checksSignatureOnce() {
    JwtVerifier verifier = verifier();
    String token = idp.token(ID).sign();

    Verification first = verifier.verify(token);
    Verification second = verifier.verify(token);

    assertThat(second).isEqualTo(first);
    assertThat(signatureChecks.get()).isEqualTo(1);
    assertThat(hits(MetricNames.CACHE_JWT_VERIFIED)).isEqualTo(1);
  }

  @Test
  void verify_cachedTokenAfterExpiry_isExpiredWithoutSignatureCheck() {
    JwtVerifier verifier = verifier();
    String token = idp.token(ID).expiresAt(clock.instant().plusSeconds(60)).sign();
    identity(verifier.verify(token));

    clock.advance(Duration.ofSeconds(60 + 30)); // exp + skew

    assertRejected(verifier.verify(token), Reason.EXPIRED_TOKEN);
    assertThat(signatureChecks.get()).isEqualTo(1);
  }

  @Test
  void verify_cachedTokenOlderThanMaxAge_isVerifiedAgain() {
    JwtVerifier verifier = verifier();
    String token = idp.token(ID).sign();
    verifier.verify(token);

    clock.advance(Duration.ofMinutes(5).plusSeconds(1));

    assertThat(identity(verifier.verify(token)).principal()).isEqualTo("alice");
    assertThat(signatureChecks.get()).isEqualTo(2);
  }

  @Test
  void verify_sameForgedTokenRepeatedly_checksSignatureOnce() {
    JwtVerifier verifier = verifier();
    String forged = flipSignature(idp.token(ID).sign());

    for (int i = 0; i < 50; i++) {
      assertRejected(verifier.verify(forged), Reason.INVALID_TOKEN);
    }

    assertThat(signatureChecks.get()).isEqualTo(1);
  }

  @Test
  void verify_verifiedTokenCache_isBounded() {
    SimpleMeterRegistry own = new SimpleMeterRegistry();
    registry.close();
    registry = registry(JwtVerifiers.builder(own).verifiedTokenCacheSize(10));
    JwtVerifier verifier = verifier();

    for (int i = 0; i < 60; i++) {
      identity(verifier.verify(idp.token(ID).claim("jti", "t" + i).sign()));
    }

    await()
        .atMost(Duration.ofSeconds(5))
        .until(() -> cacheSize(own, MetricNames.CACHE_JWT_VERIFIED) <= 10);
    assertThat(signatureChecks.get()).isEqualTo(60);
  }

  @Test
  void verify_tokenOfOneVerifier_isNotServedFromCacheToAnotherPolicy() {
    String token = idp.token(ID).claim("aud", "billing-api").sign();
    identity(verifier().verify(token));

    JwtIssuerConfig ordersOnly =
        new JwtIssuerConfig(
            "corp",
            idp.issuer(ID),
            null,
            List.of("orders-api"),
            Set.of("RS256"),
            Duration.ofSeconds(30),
            ClaimMapping.DEFAULT);

    assertRejected(registry.forIssuers(List.of(ordersOnly)).verify(token), Reason.INVALID_TOKEN);
  }

  private double hits(String cache) {
    var c = meters.find("cache.gets").tag("cache", cache).tag("result", "hit").counter();
    return c == null ? 0 : c.count();
  }

  private static double cacheSize(SimpleMeterRegistry meters, String cache) {
    Gauge g = meters.find("cache.size").tag("cache", cache).gauge();
    return g == null ? Double.NaN : g.value();
  }

  static String flipSignature(String token) {
    int dot = token.lastIndexOf('.');
    char[] chars = token.toCharArray();
    int i = dot + 10;
    chars[i] = chars[i] == 'A' ? 'B' : 'A';
    return new String(chars);
  }
}
