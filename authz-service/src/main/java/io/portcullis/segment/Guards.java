package io.portcullis.segment;

import io.portcullis.decision.Reason;
import io.portcullis.identity.Subject;
import io.portcullis.net.CidrSet;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;
import org.jspecify.annotations.Nullable;

/**
 * A segment's guards (spec step 5), checked in this order: {@code require_tls}, {@code network}
 * (deny list, then allow list), {@code geo} (deny list, then allow list). An unknown source address
 * fails both network lists (a deny list cannot be evaded by hiding the source); an unknown country
 * is in no country list, so a geo allow list denies it and a geo deny list lets it pass.
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

  /**
   * What each configured guard finds for this request, in the order {@link #check} applies them,
   * for explain. Not on the hot path.
   */
  public List<String> describe(Subject s) {
    List<String> out = new ArrayList<>();
    String source = s.request().sourceIp() == null ? "unknown" : s.request().sourceIpText();
    if (requireTls) {
      out.add(
          s.request().tls()
              ? "require_tls: the request is https: passes"
              : "require_tls: the request is not https: tls_required");
    }
    if (!networkDeny.isEmpty()) {
      out.add(
          "network.deny "
              + networkDeny
              + ": source "
              + source
              + (s.request().sourceIp() == null
                  ? ": an unknown source fails a deny list: ip_denied"
                  : networkDeny.contains(s.request().sourceIp())
                      ? " is in it: ip_denied"
                      : " is not in it: passes"));
    }
    if (!networkAllow.isEmpty()) {
      out.add(
          "network.allow "
              + networkAllow
              + ": source "
              + source
              + (networkAllow.contains(s.request().sourceIp())
                  ? " is in it: passes"
                  : " is not in it: ip_denied"));
    }
    String country = s.country() == null ? "unknown" : s.country();
    if (!geoDeny.isEmpty()) {
      out.add(
          "geo.deny "
              + new TreeSet<>(geoDeny)
              + ": country "
              + country
              + (s.country() != null && geoDeny.contains(s.country())
                  ? " is in it: geo_denied"
                  : " is not in it: passes"));
    }
    if (!geoAllow.isEmpty()) {
      out.add(
          "geo.allow "
              + new TreeSet<>(geoAllow)
              + ": country "
              + country
              + (s.country() != null && geoAllow.contains(s.country())
                  ? " is in it: passes"
                  : " is not in it: geo_denied"));
    }
    if (out.isEmpty()) {
      out.add("no guards");
    }
    return out;
  }

  /** The reason the first failing guard denies for, or {@code null} if all pass. */
  public @Nullable Reason check(Subject s) {
    if (requireTls && !s.request().tls()) {
      return Reason.TLS_REQUIRED;
    }
    if (!networkDeny.isEmpty()
        && (s.request().sourceIp() == null || networkDeny.contains(s.request().sourceIp()))) {
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
