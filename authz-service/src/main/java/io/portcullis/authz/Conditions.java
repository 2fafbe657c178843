package io.portcullis.authz;

import io.portcullis.identity.Identity;
import java.util.Set;
import org.jspecify.annotations.Nullable;

/**
 * An allow rule's conditions on the verified identity. Empty sets impose nothing; all non-empty
 * conditions must hold.
 *
 * @param rolesAny the caller has at least one of these roles
 * @param rolesAll the caller has every one of these roles
 * @param scopesAny the caller has at least one of these scopes
 * @param clients the caller's client is one of these
 */
public record Conditions(
    Set<String> rolesAny, Set<String> rolesAll, Set<String> scopesAny, Set<String> clients) {

  private static final Conditions NONE = new Conditions(Set.of(), Set.of(), Set.of(), Set.of());

  public Conditions {
    rolesAny = Set.copyOf(rolesAny);
    rolesAll = Set.copyOf(rolesAll);
    scopesAny = Set.copyOf(scopesAny);
    clients = Set.copyOf(clients);
  }

  public static Conditions none() {
    return NONE;
  }

  public boolean holds(Identity id) {
    return unmet(id) == null;
  }

  /**
   * The first condition {@code id} does not meet, described for traces; {@code null} if all hold.
   */
  public @Nullable String unmet(Identity id) {
    if (!rolesAny.isEmpty() && !intersects(rolesAny, id.roles())) {
      return "roles_any " + sorted(rolesAny);
    }
    if (!rolesAll.isEmpty() && !id.roles().containsAll(rolesAll)) {
      return "roles_all " + sorted(rolesAll);
    }
    if (!scopesAny.isEmpty() && !intersects(scopesAny, id.scopes())) {
      return "scopes_any " + sorted(scopesAny);
    }
    if (!clients.isEmpty() && (id.client() == null || !clients.contains(id.client()))) {
      return "clients " + sorted(clients);
    }
    return null;
  }

  public boolean isEmpty() {
    return rolesAny.isEmpty() && rolesAll.isEmpty() && scopesAny.isEmpty() && clients.isEmpty();
  }

  private static boolean intersects(Set<String> wanted, Set<String> have) {
    if (have.isEmpty()) {
      return false;
    }
    for (String w : wanted) {
      if (have.contains(w)) {
        return true;
      }
    }
    return false;
  }

  private static String sorted(Set<String> s) {
    return new java.util.TreeSet<>(s).toString();
  }
}
