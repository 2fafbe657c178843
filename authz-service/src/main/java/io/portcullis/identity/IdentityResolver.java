package io.portcullis.identity;

import io.portcullis.request.RequestAttributes;
import java.util.Set;

/**
 * Phase 3 of the decision: finds every credential the request presents and verifies all of them. A
 * presented-but-invalid credential is a rejection, never a fallback to anonymous; a request with no
 * credential at all is anonymous. Compiled per policy; thread-safe.
 */
public interface IdentityResolver {

  /** Verifies the request's credentials; {@link Verification.Verified} carries the identity. */
  Verification resolve(RequestAttributes request);

  /**
   * As {@link #resolve(RequestAttributes)}; with {@code countUse} false (explain) a verified API
   * key is not recorded as used ({@code last_used_at}).
   */
  default Verification resolve(RequestAttributes request, boolean countUse) {
    return resolve(request);
  }

  /**
   * The lower-case names of the headers that carry credentials under this policy ({@code
   * authorization} and the API-key headers): removed before the upstream when {@code
   * strip_credentials} is on.
   */
  Set<String> credentialHeaders();
}
