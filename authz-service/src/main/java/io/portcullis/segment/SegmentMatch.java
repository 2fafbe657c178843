package io.portcullis.segment;

import io.portcullis.identity.CredentialType;
import io.portcullis.identity.Identity;
import io.portcullis.identity.Subject;
import io.portcullis.net.CidrSet;
import java.util.EnumSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.jspecify.annotations.Nullable;

/**
 * A segment's compiled {@code match}: a conjunction of conditions, each imposing nothing when
 * empty. An empty match matches every request.
 *
 * @param credentials the caller's credential type is one of these
 * @param principals the principal matches one of these globs
 * @param clients the client is one of these
 * @param clientTypes the client type is one of these
 * @param rolesAny the caller has at least one of these roles
 * @param sourceIps the source address is in one of these blocks
 * @param countries the country is one of these (unknown matches none)
 * @param context every entry equals the request's context extension of that name
 * @param issuers the identity was vouched for by one of these issuers (JWT issuer or introspection
 *     endpoint names of the policy)
 */
public record SegmentMatch(
    Set<CredentialType> credentials,
    List<PrincipalPattern> principals,
    Set<String> clients,
    Set<String> clientTypes,
    Set<String> rolesAny,
    CidrSet sourceIps,
    Set<String> countries,
    Map<String, String> context,
    Set<String> issuers) {

  public SegmentMatch {
    credentials =
        credentials.isEmpty()
            ? Set.of()
            : java.util.Collections.unmodifiableSet(EnumSet.copyOf(credentials));
    principals = List.copyOf(principals);
    clients = Set.copyOf(clients);
    clientTypes = Set.copyOf(clientTypes);
    rolesAny = Set.copyOf(rolesAny);
    countries = Set.copyOf(countries);
    context = Map.copyOf(context);
    issuers = Set.copyOf(issuers);
  }

  /** Matches every request. */
  public static SegmentMatch any() {
    return new SegmentMatch(
        Set.of(),
        List.of(),
        Set.of(),
        Set.of(),
        Set.of(),
        CidrSet.empty(),
        Set.of(),
        Map.of(),
        Set.of());
  }

  /**
   * Whether every condition holds. The hot path: allocates nothing and builds no text; {@link
   * #mismatch} says which condition failed, for traces.
   */
  public boolean matches(Subject s) {
    return firstFailing(s) == Condition.NONE;
  }

  /** The first condition that does not hold, described for traces; {@code null} if it matches. */
  public @Nullable String mismatch(Subject s) {
    Identity id = s.identity();
    return switch (firstFailing(s)) {
      case NONE -> null;
      case ISSUER ->
          "issuer " + (id.issuer() == null ? "absent" : id.issuer()) + ", not one of " + issuers;
      case CREDENTIAL -> "credential is " + id.credential() + ", not one of " + credentials;
      case PRINCIPAL -> "principal matches none of " + principals;
      case CLIENT -> "client is not one of " + clients;
      case CLIENT_TYPE ->
          "client_type "
              + (id.clientType() == null ? "absent" : id.clientType())
              + ", not one of "
              + clientTypes;
      case ROLES -> "no role in " + rolesAny;
      case SOURCE_IP -> "source_ip not in " + sourceIps;
      case COUNTRY ->
          "country "
              + (s.country() == null ? "unknown" : s.country())
              + ", not one of "
              + countries;
      case CONTEXT -> {
        for (Map.Entry<String, String> e : context.entrySet()) {
          if (!e.getValue().equals(s.request().context().get(e.getKey()))) {
            yield "context " + e.getKey() + " is not '" + e.getValue() + "'";
          }
        }
        throw new IllegalStateException("context condition failed and then held");
      }
    };
  }

  private enum Condition {
    NONE,
    ISSUER,
    CREDENTIAL,
    PRINCIPAL,
    CLIENT,
    CLIENT_TYPE,
    ROLES,
    SOURCE_IP,
    COUNTRY,
    CONTEXT
  }

  private Condition firstFailing(Subject s) {
    Identity id = s.identity();
    if (!issuers.isEmpty() && (id.issuer() == null || !issuers.contains(id.issuer()))) {
      return Condition.ISSUER;
    }
    if (!credentials.isEmpty() && !credentials.contains(id.credential())) {
      return Condition.CREDENTIAL;
    }
    if (!principals.isEmpty() && !anyPrincipal(id.principal())) {
      return Condition.PRINCIPAL;
    }
    if (!clients.isEmpty() && (id.client() == null || !clients.contains(id.client()))) {
      return Condition.CLIENT;
    }
    if (!clientTypes.isEmpty()
        && (id.clientType() == null || !clientTypes.contains(id.clientType()))) {
      return Condition.CLIENT_TYPE;
    }
    if (!rolesAny.isEmpty() && !anyRole(id.roles())) {
      return Condition.ROLES;
    }
    if (!sourceIps.isEmpty() && !sourceIps.contains(s.request().sourceIp())) {
      return Condition.SOURCE_IP;
    }
    if (!countries.isEmpty() && (s.country() == null || !countries.contains(s.country()))) {
      return Condition.COUNTRY;
    }
    if (!context.isEmpty()) {
      Map<String, String> have = s.request().context();
      for (Map.Entry<String, String> e : context.entrySet()) {
        if (!e.getValue().equals(have.get(e.getKey()))) {
          return Condition.CONTEXT;
        }
      }
    }
    return Condition.NONE;
  }

  private boolean anyRole(Iterable<String> roles) {
    for (String role : roles) {
      if (rolesAny.contains(role)) {
        return true;
      }
    }
    return false;
  }

  private boolean anyPrincipal(String principal) {
    for (PrincipalPattern p : principals) {
      if (p.matches(principal)) {
        return true;
      }
    }
    return false;
  }

  /** Whether no condition is set (the segment matches every request). */
  public boolean isEmpty() {
    return credentials.isEmpty()
        && principals.isEmpty()
        && clients.isEmpty()
        && clientTypes.isEmpty()
        && rolesAny.isEmpty()
        && sourceIps.isEmpty()
        && countries.isEmpty()
        && context.isEmpty()
        && issuers.isEmpty();
  }
}
