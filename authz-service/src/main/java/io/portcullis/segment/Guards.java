package io.portcullis.segment;

import io.portcullis.decision.Reason;
import io.portcullis.identity.Subject;
import io.portcullis.net.CidrSet;
import java.util.Set;
import org.jspecify.annotations.Nullable;

/**
 * A segment's guards (spec step 5), checked in this order: {@code require_tls}, {@code network}
 * (deny list, then allow list), {@code geo} (deny list, then allow list). An unknown source address
 * is in no CIDR block and an unknown country in no country list, so an allow list denies both.
 *
 * @param requireTls deny unless the downstream request was https
 * @param networkAllow when non-empty, the source must be in one of these blocks
 * @param networkDeny the source must not be in any of these blocks
 * @param geoAllow when non-empty, the country must be one of these
 * @param geoDeny the country must not be one of these
 */
public record Guards(
    boolean requireTls,
    CidrSet networkAllow,
    CidrSet networkDeny,
    Set<String> geoAllow,
    Set<String> geoDeny) {

  private static final Guards NONE =
      new Guards(false, CidrSet.empty(), CidrSet.empty(), Set.of(), Set.of());

  public Guards {
    geoAllow = Set.copyOf(geoAllow);
    geoDeny = Set.copyOf(geoDeny);
  }

  public static Guards none() {
    return NONE;
  }

  /** The reason the first failing guard denies for, or {@code null} if all pass. */
  public @Nullable Reason check(Subject s) {
    if (requireTls && !s.request().tls()) {
      return Reason.TLS_REQUIRED;
    }
    if (!networkDeny.isEmpty() && networkDeny.contains(s.request().sourceIp())) {
      return Reason.IP_DENIED;
    }
    if (!networkAllow.isEmpty() && !networkAllow.contains(s.request().sourceIp())) {
      return Reason.IP_DENIED;
    }
    String country = s.country();
    if (!geoDeny.isEmpty() && country != null && geoDeny.contains(country)) {
      return Reason.GEO_DENIED;
    }
    if (!geoAllow.isEmpty() && (country == null || !geoAllow.contains(country))) {
      return Reason.GEO_DENIED;
    }
    return null;
  }
}
