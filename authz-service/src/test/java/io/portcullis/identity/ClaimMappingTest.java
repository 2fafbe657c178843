package io.portcullis.identity;

import static org.assertj.core.api.Assertions.assertThat;

import io.portcullis.authz.Conditions;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.junit.jupiter.api.Test;

class ClaimMappingTest {
  private static final Instant EXP = Instant.parse("2030-01-01T00:00:00Z");
  private final ClaimMapping keycloak =
      new ClaimMapping("sub", "azp", "realm_access.roles", "scope", "client_type");

  @Test
  void identity_nestedRolesAndScopeString() {
    Identity id =
        keycloak.identity(
            CredentialType.JWT,
            Map.of(
                "sub", "alice",
                "azp", "web",
                "client_type", "partner",
                "realm_access", Map.of("roles", List.of("a", "b")),
                "scope", " openid  orders:read "),
            EXP,
            "corp");

    assertThat(id).isNotNull();
    assertThat(id.principal()).isEqualTo("alice");
    assertThat(id.client()).isEqualTo("web");
    assertThat(id.clientType()).isEqualTo("partner");
    assertThat(id.roles()).containsExactlyInAnyOrder("a", "b");
    assertThat(id.scopes()).containsExactlyInAnyOrder("openid", "orders:read");
    assertThat(id.expiresAt()).isEqualTo(EXP);
    assertThat(id.issuer()).isEqualTo("corp");
  }

  @Test
  void identity_subjectWithALineBreak_isNoSubject_andSuchAClientIsAbsent() {
    Identity injected =
        keycloak.identity(
            CredentialType.JWT,
            Map.of("sub", "alice\r\nx-portcullis-segment: internal-services", "azp", "web"),
            EXP,
            "corp");
    Identity badClient =
        keycloak.identity(
            CredentialType.JWT,
            Map.of("sub", "alice", "azp", "web\nx-evil: 1", "client_type", "p\u0000"),
            EXP,
            "corp");

    assertThat(injected).as("a subject that would inject a header is refused").isNull();
    assertThat(badClient).isNotNull();
    assertThat(badClient.client()).isNull();
    assertThat(badClient.clientType()).isNull();
  }

  @Test
  void identity_rolesStringIsOneRole_scopeArray_nonStringsIgnored() {
    ClaimMapping m = new ClaimMapping("sub", "azp", "roles", "scp", null);

    Identity id =
        m.identity(
            CredentialType.JWT,
            Map.of("sub", "s", "roles", " x y ", "scp", List.of("r", 7, "w", "")),
            null,
            "corp");

    // spec: "roles: ... # string or array"; only scopes are a space-separated string
    assertThat(id.roles()).containsExactly(" x y ");
    assertThat(id.scopes()).containsExactlyInAnyOrder("r", "w");
    assertThat(id.clientType()).isNull();
  }

  @Test
  void identity_rolesStringWithSpaces_doesNotGrantTheWordsAsRoles() {
    ClaimMapping m = new ClaimMapping("sub", "azp", "roles", "scope", null);
    Conditions adminOnly = new Conditions(Set.of("admin"), Set.of(), Set.of(), Set.of());

    Identity id =
        m.identity(
            CredentialType.JWT,
            Map.of("sub", "s", "roles", "orders admin", "scope", "orders:read admin"),
            null,
            "corp");

    assertThat(id.roles()).containsExactly("orders admin");
    assertThat(adminOnly.holds(id)).as("roles_any [admin]").isFalse();
    // a string role is taken as it is, like an array's (not trimmed into another role); a blank
    // one is no role; a role array is unchanged
    Identity spaced =
        m.identity(CredentialType.JWT, Map.of("sub", "s", "roles", "  admin "), null, "corp");
    assertThat(spaced.roles()).containsExactly("  admin ");
    assertThat(adminOnly.holds(spaced)).isFalse();
    assertThat(
            m.identity(
                    CredentialType.JWT,
                    Map.of("sub", "s", "roles", List.of(" admin")),
                    null,
                    "corp")
                .roles())
        .containsExactly(" admin");
    assertThat(
            m.identity(CredentialType.JWT, Map.of("sub", "s", "roles", "   "), null, "corp")
                .roles())
        .isEmpty();
    assertThat(
            m.identity(
                    CredentialType.JWT,
                    Map.of("sub", "s", "roles", List.of("orders", "admin")),
                    null,
                    "corp")
                .roles())
        .containsExactlyInAnyOrder("orders", "admin");
    // scopes stay space-separated
    assertThat(id.scopes()).containsExactlyInAnyOrder("orders:read", "admin");
  }

  @Test
  void identity_clientFallsBackToClientId() {
    Identity id =
        ClaimMapping.DEFAULT.identity(
            CredentialType.INTROSPECTION, Map.of("sub", "s", "client_id", "batch"), null, "legacy");

    assertThat(id.client()).isEqualTo("batch");
    assertThat(id.credential()).isEqualTo(CredentialType.INTROSPECTION);
  }

  @Test
  void identity_missingBlankOrNonStringSubject_isNull() {
    assertThat(ClaimMapping.DEFAULT.identity(CredentialType.JWT, Map.of("azp", "x"), null, "corp"))
        .isNull();
    assertThat(ClaimMapping.DEFAULT.identity(CredentialType.JWT, Map.of("sub", " "), null, "corp"))
        .isNull();
    assertThat(ClaimMapping.DEFAULT.identity(CredentialType.JWT, Map.of("sub", 42), null, "corp"))
        .isNull();
  }

  @Test
  void resolve_namespacedClaimWithDots_isFoundByFullName() {
    Map<String, Object> claims =
        Map.of(
            "https://example.com/roles", List.of("admin"),
            "a", Map.of("b", Map.of("c", "deep")));

    assertThat(ClaimMapping.resolve(claims, "https://example.com/roles"))
        .isEqualTo(List.of("admin"));
    assertThat(ClaimMapping.resolve(claims, "a.b.c")).isEqualTo("deep");
    assertThat(ClaimMapping.resolve(claims, "a.x.c")).isNull();
    assertThat(ClaimMapping.resolve(claims, "a.b.c.d")).isNull();
  }
}
