package io.portcullis.identity;

/**
 * Verifies presented API keys against the key store: unknown, revoked, expired and rotated-out keys
 * are rejected with their reason codes. Thread-safe; verified and unknown keys are cached so that a
 * flood of random keys costs no store query per request.
 */
public interface ApiKeyVerifier {

  /**
   * The prefix of every Portcullis API key ({@code io.portcullis.keys.KeyFormat} defines the rest).
   * A bearer token that starts with it is an API key sent under the wrong scheme: {@link
   * CredentialChain} rejects it and never passes it to a token verifier, so the secret never
   * reaches an introspection endpoint.
   */
  String KEY_PREFIX = "pck_";

  /**
   * Verifies a presented key.
   *
   * @param presentedKey the key from an API-key header or {@code Authorization: ApiKey}; never
   *     logged
   */
  Verification verify(String presentedKey);

  /**
   * As {@link #verify(String)}; with {@code countUse} false a verified key is not recorded as used
   * ({@code last_used_at}): explain looks at a request without acting on it.
   */
  default Verification verify(String presentedKey, boolean countUse) {
    return verify(presentedKey);
  }
}
