package io.portcullis.identity;

import static org.assertj.core.api.Assertions.assertThat;

import io.portcullis.decision.Reason;
import io.portcullis.keys.KeyFormat;
import io.portcullis.request.RequestAttributes;
import java.security.SecureRandom;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.jspecify.annotations.Nullable;
import org.junit.jupiter.api.Test;

class CredentialChainTest {
  private static final String GOOD_JWT = "good.jwt.token";
  private static final String OPAQUE = "opaque-token";
  private static final String KEY = "pk_live_1";
  private static final String OTHER_KEY = "pk_live_2";
  private static final String PEER = "spiffe://prod.example.com/ns/orders/sa/api";

  private final List<String> bearerCalls = new ArrayList<>();
  private final List<String> keyCalls = new ArrayList<>();

  /** Verifies GOOD_JWT, says "not mine" to anything without dots, rejects the rest. */
  private final BearerTokenVerifier jwt =
      token -> {
        bearerCalls.add("jwt");
        if (token.equals(GOOD_JWT)) {
          return Verification.verified(
              Identity.builder(CredentialType.JWT, "alice").roles(Set.of("orders.read")).build());
        }
        return token.contains(".")
            ? Verification.rejected(Reason.INVALID_TOKEN, "bad signature")
            : null;
      };

  private final BearerTokenVerifier introspection =
      token -> {
        bearerCalls.add("introspection");
        return token.equals(OPAQUE)
            ? Verification.verified(Identity.builder(CredentialType.INTROSPECTION, "bob").build())
            : Verification.rejected(Reason.INACTIVE_TOKEN, "inactive");
      };

  private final ApiKeyVerifier apiKeys =
      key -> {
        keyCalls.add("key");
        return switch (key) {
          case KEY, OTHER_KEY ->
              Verification.verified(
                  Identity.builder(CredentialType.API_KEY, "key_" + key)
                      .apiKeyId("key_" + key)
                      .build());
          case "revoked" -> Verification.rejected(Reason.REVOKED_KEY, "revoked");
          default -> Verification.rejected(Reason.UNKNOWN_KEY, "unknown");
        };
      };

  private final CredentialChain chain =
      CredentialChain.builder()
          .bearer(jwt)
          .introspection(introspection)
          .apiKeys(apiKeys, List.of("X-Api-Key"))
          .peers(new SpiffePeerVerifier(Set.of("prod.example.com")))
          .build();

  private static RequestAttributes request(Map<String, String> headers, String peer) {
    return RequestAttributes.builder().headers(headers).sourcePrincipal(peer).build();
  }

  private static RequestAttributes request(Map<String, String> headers) {
    return request(headers, "");
  }

  private static Identity verified(Verification v) {
    assertThat(v).isInstanceOf(Verification.Verified.class);
    return ((Verification.Verified) v).identity();
  }

  private static void assertRejected(@Nullable Verification v, Reason reason) {
    assertThat(v).isInstanceOf(Verification.Rejected.class);
    assertThat(((Verification.Rejected) v).reason()).isEqualTo(reason);
  }

  @Test
  void resolve_noCredential_isAnonymous() {
    assertThat(verified(chain.resolve(request(Map.of())))).isEqualTo(Identity.anonymous());
  }

  @Test
  void resolve_bearerApiKeyAndMtls_allVerify_principalFromJwt() {
    Identity id =
        verified(
            chain.resolve(
                request(Map.of("authorization", "Bearer " + GOOD_JWT, "x-api-key", KEY), PEER)));

    assertThat(id.credential()).isEqualTo(CredentialType.JWT);
    assertThat(id.principal()).isEqualTo("alice");
    assertThat(keyCalls).hasSize(1);
  }

  @Test
  void resolve_bearerAndApiKey_principalFromToken_keepsTheVerifiedKeysIdOnly() {
    Identity jwtAndKey =
        verified(
            chain.resolve(
                request(Map.of("authorization", "Bearer " + GOOD_JWT, "x-api-key", KEY))));
    Identity introspectedAndKey =
        verified(
            chain.resolve(request(Map.of("authorization", "Bearer " + OPAQUE, "x-api-key", KEY))));

    // a limit keyed on api_key must still count the key when a token also came along
    assertThat(jwtAndKey.apiKeyId()).isEqualTo("key_" + KEY);
    // everything else stays the token's: principal, credential type, roles
    assertThat(jwtAndKey)
        .isEqualTo(
            Identity.builder(CredentialType.JWT, "alice")
                .roles(Set.of("orders.read"))
                .apiKeyId("key_" + KEY)
                .build());
    assertThat(introspectedAndKey)
        .isEqualTo(
            Identity.builder(CredentialType.INTROSPECTION, "bob").apiKeyId("key_" + KEY).build());
  }

  @Test
  void resolve_bearerWithoutApiKey_hasNoApiKeyId() {
    Identity id =
        verified(chain.resolve(request(Map.of("authorization", "Bearer " + GOOD_JWT), PEER)));

    assertThat(id.credential()).isEqualTo(CredentialType.JWT);
    assertThat(id.apiKeyId()).isNull();
  }

  @Test
  void resolve_apiKeyAndMtls_principalFromApiKey() {
    Identity id = verified(chain.resolve(request(Map.of("x-api-key", KEY), PEER)));

    assertThat(id.credential()).isEqualTo(CredentialType.API_KEY);
  }

  @Test
  void resolve_mtlsOnly_principalIsSpiffeId() {
    Identity id = verified(chain.resolve(request(Map.of(), PEER)));

    assertThat(id.credential()).isEqualTo(CredentialType.MTLS);
    assertThat(id.principal()).isEqualTo(PEER);
  }

  @Test
  void resolve_opaqueToken_jwtVerifierPassesToIntrospection() {
    Identity id = verified(chain.resolve(request(Map.of("authorization", "Bearer " + OPAQUE))));

    assertThat(id.credential()).isEqualTo(CredentialType.INTROSPECTION);
    assertThat(bearerCalls).containsExactly("jwt", "introspection");
  }

  @Test
  void resolve_validBearerButRevokedApiKey_isRejectedWithKeysReason() {
    assertRejected(
        chain.resolve(
            request(Map.of("authorization", "Bearer " + GOOD_JWT, "x-api-key", "revoked"))),
        Reason.REVOKED_KEY);
  }

  @Test
  void resolve_invalidBearerWithValidApiKey_isRejectedNeverFallsBack() {
    assertRejected(
        chain.resolve(request(Map.of("authorization", "Bearer bad.jwt.token", "x-api-key", KEY))),
        Reason.INVALID_TOKEN);
  }

  @Test
  void resolve_validBearerFromUntrustedPeer_isUntrustedPrincipal() {
    assertRejected(
        chain.resolve(
            request(
                Map.of("authorization", "Bearer " + GOOD_JWT),
                "spiffe://evil.example.com/ns/x/sa/y")),
        Reason.UNTRUSTED_PRINCIPAL);
  }

  @Test
  void resolve_invalidBearerAlone_isRejectedNotAnonymous() {
    assertRejected(
        chain.resolve(request(Map.of("authorization", "Bearer bad.jwt.token"))),
        Reason.INVALID_TOKEN);
    assertRejected(
        chain.resolve(request(Map.of("authorization", "Bearer   "))), Reason.INVALID_TOKEN);
    assertRejected(chain.resolve(request(Map.of("authorization", "Bearer"))), Reason.INVALID_TOKEN);
  }

  @Test
  void resolve_schemeAnyCaseAndCredentialTrimmed_verifiesTheBareToken() {
    for (String value :
        List.of(
            "Bearer " + GOOD_JWT,
            "bearer " + GOOD_JWT,
            "BEARER\t" + GOOD_JWT,
            "Bearer  " + GOOD_JWT + " \t ",
            "  Bearer " + GOOD_JWT)) {
      // A leading space too: the token is verified, never passed on as an anonymous request's.
      Verification v = chain.resolve(request(Map.of("authorization", value)));
      assertThat(verified(v).principal()).as(value).isEqualTo("alice");
    }
    assertRejected(
        chain.resolve(request(Map.of("authorization", " \tBearer bad.jwt.token"))),
        Reason.INVALID_TOKEN);
    // Schemes that merely start with "Bearer" or "ApiKey" are other schemes, not credentials.
    assertThat(verified(chain.resolve(request(Map.of("authorization", "Bearers " + GOOD_JWT)))))
        .isEqualTo(Identity.anonymous());
    assertThat(
            verified(chain.resolve(request(Map.of("authorization", "apikey " + KEY)))).principal())
        .isEqualTo("key_" + KEY);
    assertThat(verified(chain.resolve(request(Map.of("authorization", "ApiKeys " + KEY)))))
        .isEqualTo(Identity.anonymous());
  }

  @Test
  void isPortcullisCredential_recognisesWhatResolveVerifies_andNothingElse() {
    for (String ours :
        List.of("Bearer x.y.z", "  bearer\tx.y.z ", "APIKEY pk_live_1", "Bearer", "Bearer   ")) {
      assertThat(CredentialChain.isPortcullisCredential(ours)).as(ours).isTrue();
    }
    for (String theirs :
        List.of(
            "Basic YWxpY2U6cHc=", "Bearers x.y.z", "ApiKeys k", "Digest realm=\"a\"", "", "  ")) {
      assertThat(CredentialChain.isPortcullisCredential(theirs)).as(theirs).isFalse();
    }
  }

  @Test
  void resolve_bearerNoVerifierHandles_isInvalidToken() {
    CredentialChain jwtOnly = CredentialChain.builder().bearer(jwt).build();
    CredentialChain none = CredentialChain.builder().build();

    assertRejected(
        jwtOnly.resolve(request(Map.of("authorization", "Bearer " + OPAQUE))),
        Reason.INVALID_TOKEN);
    assertRejected(
        none.resolve(request(Map.of("authorization", "Bearer " + GOOD_JWT))), Reason.INVALID_TOKEN);
  }

  @Test
  void resolve_apiKeySentAsBearer_isInvalidToken_andNeverReachesIntrospection() {
    String key = KeyFormat.generate(new SecureRandom());
    CredentialChain withoutApiKeys =
        CredentialChain.builder().bearer(jwt).introspection(introspection).build();

    for (CredentialChain c : List.of(chain, withoutApiKeys)) {
      Verification v = c.resolve(request(Map.of("authorization", "Bearer " + key)));

      assertRejected(v, Reason.INVALID_TOKEN);
      assertThat(((Verification.Rejected) v).detail()).contains("ApiKey").doesNotContain(key);
    }
    assertThat(bearerCalls).as("the key is given to no token verifier").isEmpty();
    assertThat(keyCalls).isEmpty();
  }

  @Test
  void resolve_introspectionEndpoints_askedInOrderUntilOneVouches() {
    List<String> asked = new ArrayList<>();
    BearerTokenVerifier down =
        endpoint(asked, "down", Verification.rejected(Reason.IDENTITY_UNAVAILABLE, "down"));
    BearerTokenVerifier a =
        endpoint(asked, "a", Verification.rejected(Reason.INACTIVE_TOKEN, "inactive at a"));
    BearerTokenVerifier b =
        endpoint(
            asked,
            "b",
            Verification.verified(Identity.builder(CredentialType.INTROSPECTION, "bob").build()));
    BearerTokenVerifier c =
        endpoint(asked, "c", Verification.rejected(Reason.INACTIVE_TOKEN, "inactive at c"));
    RequestAttributes opaque = request(Map.of("authorization", "Bearer " + OPAQUE));

    assertThat(verified(chainOf(a, b, c).resolve(opaque)).principal()).isEqualTo("bob");
    assertThat(asked).as("a voucher ends the search").containsExactly("a", "b");

    Verification none = chainOf(a, c).resolve(opaque);
    assertRejected(none, Reason.INACTIVE_TOKEN);
    assertThat(((Verification.Rejected) none).detail())
        .as("the last endpoint's answer decides")
        .isEqualTo("inactive at c");

    asked.clear();
    assertRejected(chainOf(a, down, b).resolve(opaque), Reason.IDENTITY_UNAVAILABLE);
    assertThat(asked)
        .as("a live token of an endpoint that is down is not sent on to the next one")
        .containsExactly("a", "down");
  }

  @Test
  void resolve_aTokenCachedAsVerifiedByALaterEndpoint_isNotHeldUpByAnEarlierOneThatIsDown() {
    List<String> asked = new ArrayList<>();
    BearerTokenVerifier down =
        endpoint(asked, "down", Verification.rejected(Reason.IDENTITY_UNAVAILABLE, "down"));
    Verification.Verified bob =
        (Verification.Verified)
            Verification.verified(Identity.builder(CredentialType.INTROSPECTION, "bob").build());
    BearerTokenVerifier cachedAtB =
        new BearerTokenVerifier() {
          @Override
          public Verification verify(String token) {
            asked.add("b");
            return bob;
          }

          @Override
          public Verification.Verified cachedVerified(String token) {
            return bob;
          }
        };
    RequestAttributes opaque = request(Map.of("authorization", "Bearer " + OPAQUE));

    assertThat(verified(chainOf(down, cachedAtB).resolve(opaque)).principal()).isEqualTo("bob");
    assertThat(asked).as("answered from b's cache: no endpoint called").isEmpty();
  }

  private static BearerTokenVerifier endpoint(
      List<String> asked, String name, Verification answer) {
    return token -> {
      asked.add(name);
      return answer;
    };
  }

  private CredentialChain chainOf(BearerTokenVerifier... endpoints) {
    CredentialChain.Builder b = CredentialChain.builder().bearer(jwt);
    for (BearerTokenVerifier e : endpoints) {
      b.introspection(e);
    }
    return b.build();
  }

  @Test
  void resolve_basicOrDigestAuthorization_isNotACredential() {
    assertThat(verified(chain.resolve(request(Map.of("authorization", "Basic YWxpY2U6cHc=")))))
        .isEqualTo(Identity.anonymous());
    assertThat(
            verified(
                chain.resolve(
                    request(
                        Map.of(
                            "authorization",
                            "Digest username=\"alice\", realm=\"api\", nonce=\"n\"")))))
        .isEqualTo(Identity.anonymous());
    assertThat(bearerCalls).isEmpty();
  }

  @Test
  void resolve_bearerSmuggledInRepeatedAuthorizationHeader_isRejected() {
    RequestAttributes twice =
        RequestAttributes.builder()
            .header("Authorization", "Basic YWxpY2U6cHc=")
            .header("Authorization", "Bearer bad.jwt.token")
            .build();

    assertRejected(chain.resolve(twice), Reason.INVALID_TOKEN);
    assertRejected(
        chain.resolve(request(Map.of("authorization", "Bearer " + GOOD_JWT + ", Bearer x.y.z"))),
        Reason.INVALID_TOKEN);
    assertThat(bearerCalls).isEmpty();
  }

  @Test
  void resolve_tokenInQueryString_isIgnored() {
    RequestAttributes r =
        RequestAttributes.builder().path("/v1/orders?access_token=" + GOOD_JWT).build();

    assertThat(verified(chain.resolve(r))).isEqualTo(Identity.anonymous());
    assertThat(bearerCalls).isEmpty();
  }

  @Test
  void resolve_differentApiKeysInHeaderAndAuthorization_isRejected() {
    assertRejected(
        chain.resolve(request(Map.of("authorization", "ApiKey " + KEY, "x-api-key", OTHER_KEY))),
        Reason.INVALID_TOKEN);
    assertThat(keyCalls).isEmpty();
  }

  @Test
  void resolve_repeatedApiKeyHeaderWithDifferentKeys_isRejected() {
    RequestAttributes twice =
        RequestAttributes.builder().header("X-Api-Key", KEY).header("X-Api-Key", OTHER_KEY).build();

    assertRejected(chain.resolve(twice), Reason.INVALID_TOKEN);
    assertThat(keyCalls).isEmpty();
  }

  @Test
  void resolve_sameApiKeyTwice_verifiesOnce() {
    RequestAttributes twice =
        RequestAttributes.builder()
            .header("X-Api-Key", KEY)
            .header("Authorization", "apikey " + KEY)
            .build();

    assertThat(verified(chain.resolve(twice)).credential()).isEqualTo(CredentialType.API_KEY);
    assertThat(keyCalls).hasSize(1);
  }

  @Test
  void resolve_emptyApiKey_isRejected() {
    assertRejected(chain.resolve(request(Map.of("x-api-key", "  "))), Reason.INVALID_TOKEN);
    assertRejected(
        chain.resolve(request(Map.of("authorization", "ApiKey "))), Reason.INVALID_TOKEN);
  }

  @Test
  void resolve_apiKeySchemeWithoutApiKeysConfigured_isRejected() {
    CredentialChain bearerOnly = CredentialChain.builder().bearer(jwt).build();

    assertRejected(
        bearerOnly.resolve(request(Map.of("authorization", "ApiKey " + KEY))),
        Reason.INVALID_TOKEN);
  }

  @Test
  void resolve_peerWithoutMtlsConfigured_isNotACredential() {
    CredentialChain bearerOnly = CredentialChain.builder().bearer(jwt).build();

    assertThat(verified(bearerOnly.resolve(request(Map.of(), "spiffe://evil.example.com/x"))))
        .isEqualTo(Identity.anonymous());
  }

  @Test
  void credentialHeaders_areAuthorizationAndApiKeyHeadersInLowerCase() {
    assertThat(chain.credentialHeaders()).containsExactlyInAnyOrder("authorization", "x-api-key");
  }
}
