package io.portcullis.identity;

/**
 * Verifies the mTLS peer identity the proxy reports ({@code source.principal}, usually a SPIFFE ID
 * from the client certificate's URI SAN). Thread-safe and I/O-free: the proxy already verified the
 * certificate chain.
 */
public interface PeerVerifier {

  /** Verifies a non-empty peer principal. */
  Verification verify(String peerPrincipal);
}
