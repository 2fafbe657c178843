package io.portcullis.identity;

import io.portcullis.decision.Reason;
import java.util.Set;

/**
 * Accepts mTLS peers whose SPIFFE ID ({@code spiffe://<trust-domain>/<path>}) belongs to one of the
 * policy's trust domains. The proxy has verified the certificate; this checks that its identity is
 * one the policy trusts. Principals that are not SPIFFE IDs as the SPIFFE-ID specification defines
 * them (github.com/spiffe/spiffe, standards/SPIFFE-ID.md: a lower-case trust domain without port or
 * user info; a non-empty path of non-empty segments without {@code .}/{@code ..}, percent-encoding,
 * query or fragment; at most 2048 bytes) are rejected as {@code untrusted_principal}.
 */
public final class SpiffePeerVerifier implements PeerVerifier {
  private static final String SCHEME = "spiffe://";
  private static final int MAX_LENGTH = 2048;

  private final Set<String> trustDomains;

  public SpiffePeerVerifier(Set<String> trustDomains) {
    this.trustDomains = Set.copyOf(trustDomains);
  }

  @Override
  public Verification verify(String peerPrincipal) {
    if (!peerPrincipal.startsWith(SCHEME)) {
      return Verification.rejected(Reason.UNTRUSTED_PRINCIPAL, "peer principal is not a SPIFFE ID");
    }
    if (peerPrincipal.length() > MAX_LENGTH) {
      return Verification.rejected(Reason.UNTRUSTED_PRINCIPAL, "malformed SPIFFE ID");
    }
    int slash = peerPrincipal.indexOf('/', SCHEME.length());
    if (slash < 0 || slash == peerPrincipal.length() - 1) {
      return Verification.rejected(Reason.UNTRUSTED_PRINCIPAL, "SPIFFE ID without a path");
    }
    String domain = peerPrincipal.substring(SCHEME.length(), slash);
    if (!validTrustDomain(domain) || !validPath(peerPrincipal.substring(slash))) {
      return Verification.rejected(Reason.UNTRUSTED_PRINCIPAL, "malformed SPIFFE ID");
    }
    if (!trustDomains.contains(domain)) {
      return Verification.rejected(
          Reason.UNTRUSTED_PRINCIPAL, "trust domain '" + domain + "' is not trusted");
    }
    return Verification.verified(Identity.builder(CredentialType.MTLS, peerPrincipal).build());
  }

  /** SPIFFE-ID §2.1: lower-case letters, digits, {@code .}, {@code -} and {@code _}; no port. */
  private static boolean validTrustDomain(String domain) {
    if (domain.isEmpty()) {
      return false;
    }
    for (int i = 0; i < domain.length(); i++) {
      char c = domain.charAt(i);
      boolean ok =
          (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '-' || c == '_';
      if (!ok) {
        return false;
      }
    }
    return true;
  }

  /**
   * SPIFFE-ID §2.2: {@code /}-separated non-empty segments of letters, digits, {@code .}, {@code -}
   * and {@code _}; no {@code .} or {@code ..} segment, no trailing {@code /}. Rejecting these keeps
   * a principal pattern's {@code *} (one segment) meaning one real segment.
   */
  private static boolean validPath(String path) {
    for (String segment : path.substring(1).split("/", -1)) {
      if (segment.isEmpty() || segment.equals(".") || segment.equals("..")) {
        return false;
      }
      for (int i = 0; i < segment.length(); i++) {
        char c = segment.charAt(i);
        boolean ok =
            (c >= 'a' && c <= 'z')
                || (c >= 'A' && c <= 'Z')
                || (c >= '0' && c <= '9')
                || c == '.'
                || c == '-'
                || c == '_';
        if (!ok) {
          return false;
        }
      }
    }
    return true;
  }
}
