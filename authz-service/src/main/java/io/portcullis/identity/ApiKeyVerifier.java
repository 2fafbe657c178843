package io.portcullis.identity;

/**
 * Verifies presented API keys against the key store: unknown, revoked, expired and rotated-out keys
 * are rejected with their reason codes. Thread-safe; verified and unknown keys are cached so that a
 * flood of random keys costs no store query per request.
 */
public interface ApiKeyVerifier {

  /**
   * Verifies a presented key.
   *
   * @param presentedKey the key from an API-key header or {@code Authorization: ApiKey}; never
   *     logged
   */
  Verification verify(String presentedKey);
}
