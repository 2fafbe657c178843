package io.portcullis.policy;

import inet.ipaddr.IPAddress;
import inet.ipaddr.IPAddressString;
import io.portcullis.net.CidrSet;
import io.portcullis.policy.PolicySpec.MatchSpec;
import io.portcullis.segment.PrincipalPattern;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.jspecify.annotations.Nullable;

/**
 * Finds unreachable segments: segments are tried top to bottom and the first match wins, so a
 * segment B after a segment A is unreachable when A matches every request B matches.
 *
 * <p>Design note. A match is a conjunction of conditions, so A covers B when every condition of A
 * is implied by B's conditions. The comparison is per condition and conservative: it answers {@code
 * true} only when sure, never by reasoning about glob semantics.
 *
 * <ul>
 *   <li>a condition A does not set is implied by anything;
 *   <li>list conditions (credential, client, client_type, roles_any, country): B sets it and B's
 *       list is a subset of A's (B's value is one of B's, hence one of A's; for roles_any: B's
 *       caller has one of B's roles, hence one of A's);
 *   <li>source_ip: B sets it and every B block lies inside some A block;
 *   <li>principal: B sets it and B's patterns are a subset of A's, compared as strings;
 *   <li>context: every entry of A's map is in B's map with the same value.
 * </ul>
 */
final class SegmentShadowing {
  private SegmentShadowing() {}

  /**
   * Whether {@code a} matches every request {@code b} matches (so {@code b} after {@code a} is
   * dead).
   */
  static boolean covers(MatchSpec a, MatchSpec b) {
    return listCovers(a.credentials(), b.credentials())
        && principalsCover(a.principals(), b.principals())
        && listCovers(a.clients(), b.clients())
        && listCovers(a.clientTypes(), b.clientTypes())
        && listCovers(a.rolesAny(), b.rolesAny())
        && cidrsCover(a.sourceIps(), b.sourceIps())
        && listCovers(a.countries(), b.countries())
        && contextCovers(a.context(), b.context())
        && listCovers(a.issuers(), b.issuers());
  }

  private static <T> boolean listCovers(Set<T> a, Set<T> b) {
    return a.isEmpty() || (!b.isEmpty() && a.containsAll(b));
  }

  private static boolean principalsCover(List<PrincipalPattern> a, List<PrincipalPattern> b) {
    if (a.isEmpty()) {
      return true;
    }
    if (b.isEmpty()) {
      return false;
    }
    Set<String> as = new HashSet<>();
    a.forEach(p -> as.add(p.pattern()));
    return b.stream().allMatch(p -> as.contains(p.pattern()));
  }

  private static boolean contextCovers(Map<String, String> a, Map<String, String> b) {
    return b.entrySet().containsAll(a.entrySet());
  }

  private static boolean cidrsCover(CidrSet a, CidrSet b) {
    if (a.isEmpty()) {
      return true;
    }
    if (b.isEmpty()) {
      return false;
    }
    List<IPAddress> as = a.blocks().stream().map(SegmentShadowing::block).toList();
    for (String text : b.blocks()) {
      IPAddress block = block(text);
      if (block == null || as.stream().noneMatch(x -> x != null && contains(x, block))) {
        return false;
      }
    }
    return true;
  }

  private static boolean contains(IPAddress outer, IPAddress inner) {
    return outer.getIPVersion() == inner.getIPVersion() && outer.contains(inner);
  }

  /** The block as an address range ({@code 10.0.0.0/8} is every address in it). */
  private static @Nullable IPAddress block(String text) {
    IPAddress a = new IPAddressString(text.trim()).getAddress();
    return a == null ? null : a.toPrefixBlock();
  }
}
