package io.portcullis.identity;

import io.portcullis.decision.Reason;
import java.util.Set;

/**
 * Accepts mTLS peers whose SPIFFE ID ({@code spiffe://<trust-domain>/<path>}) belongs to one of the
 * policy's trust domains. The proxy has verified the certificate; this checks that its identity is
 * one the policy trusts. Principals that are not SPIFFE IDs, or have an empty path, a port, user
 * info, a query or a fragment, are rejected as {@code untrusted_principal}.
 */
public final class SpiffePeerVerifier implements PeerVerifier {
  private static final String SCHEME = "spiffe://";

  private final Set<String> trustDomains;

  public SpiffePeerVerifier(Set<String> trustDomains) {
    this.trustDomains = Set.copyOf(trustDomains);
  }

  @Override
  public Verification verify(String peerPrincipal) {
    if (!peerPrincipal.startsWith(SCHEME)) {
      return Verification.rejected(Reason.UNTRUSTED_PRINCIPAL, "peer principal is not a SPIFFE ID");
    }
    int slash = peerPrincipal.indexOf('/', SCHEME.length());
    if (slash < 0 || slash == peerPrincipal.length() - 1) {
      return Verification.rejected(Reason.UNTRUSTED_PRINCIPAL, "SPIFFE ID without a path");
    }
    String domain = peerPrincipal.substring(SCHEME.length(), slash);
    for (int i = 0; i < peerPrincipal.length(); i++) {
      char c = peerPrincipal.charAt(i);
      if (c == '?' || c == '#' || c == '@' || c == '%' || c <= 0x20 || c >= 0x7f) {
        return Verification.rejected(Reason.UNTRUSTED_PRINCIPAL, "malformed SPIFFE ID");
      }
    }
    if (domain.indexOf(':') >= 0 || !trustDomains.contains(domain)) {
      return Verification.rejected(
          Reason.UNTRUSTED_PRINCIPAL, "trust domain '" + domain + "' is not trusted");
    }
    return Verification.verified(Identity.builder(CredentialType.MTLS, peerPrincipal).build());
  }
}
