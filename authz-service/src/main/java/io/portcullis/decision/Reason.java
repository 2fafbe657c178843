package io.portcullis.decision;

import org.jspecify.annotations.Nullable;

/**
 * Why a request was denied: the reason codes of the spec's decision order, each with its HTTP
 * status and the step that produces it. Codes are part of the user-facing contract (audit records,
 * problem+json {@code type}, metrics labels, policy tests) and never change meaning.
 */
public enum Reason {
  MALFORMED_REQUEST("malformed_request", 400, 1, "Malformed request"),
  BLOCKED("blocked", 403, 2, "Source temporarily blocked"),
  INVALID_TOKEN("invalid_token", 401, 3, "Invalid credential"),
  EXPIRED_TOKEN("expired_token", 401, 3, "Expired token"),
  UNKNOWN_KEY("unknown_key", 401, 3, "Unknown API key"),
  REVOKED_KEY("revoked_key", 401, 3, "Revoked API key"),
  EXPIRED_KEY("expired_key", 401, 3, "Expired API key"),
  INACTIVE_TOKEN("inactive_token", 401, 3, "Inactive token"),
  UNTRUSTED_PRINCIPAL("untrusted_principal", 401, 3, "Untrusted peer identity"),
  /**
   * Not in the spec's table: a credential could not be checked because the service that verifies it
   * (JWKS or introspection endpoint) is unreachable. Fails closed with 503 so clients retry rather
   * than discard a good token.
   */
  IDENTITY_UNAVAILABLE("identity_unavailable", 503, 3, "Identity provider unavailable"),
  NO_SEGMENT("no_segment", 403, 4, "Forbidden"),
  TLS_REQUIRED("tls_required", 403, 5, "TLS required"),
  IP_DENIED("ip_denied", 403, 5, "Forbidden"),
  GEO_DENIED("geo_denied", 403, 5, "Forbidden"),
  DENIED_BY_RULE("denied_by_rule", 403, 6, "Forbidden"),
  NO_MATCHING_RULE("no_matching_rule", 403, 6, "Forbidden"),
  INSUFFICIENT_PERMISSIONS("insufficient_permissions", 403, 6, "Insufficient permissions"),
  INVALID_BODY("invalid_body", 400, 7, "Invalid request body"),
  BODY_TOO_LARGE("body_too_large", 413, 7, "Request body too large"),
  RATE_LIMITED("rate_limited", 429, 8, "Too many requests"),
  QUOTA_EXCEEDED("quota_exceeded", 429, 8, "Quota exceeded");

  private final String code;
  private final int status;
  private final int step;
  private final String title;

  Reason(String code, int status, int step, String title) {
    this.code = code;
    this.status = status;
    this.step = step;
    this.title = title;
  }

  /** The wire code, e.g. {@code invalid_token}. */
  public String code() {
    return code;
  }

  /** The HTTP status the client receives. */
  public int status() {
    return status;
  }

  /** The step of the decision order that produces this reason (1-8). */
  public int step() {
    return step;
  }

  /** A short human title for problem+json; never request-specific. */
  public String title() {
    return title;
  }

  /** The problem+json {@code type} URI. */
  public String typeUri() {
    return "urn:portcullis:error:" + code;
  }

  /** Parses a wire code; {@code null} if unknown. */
  public static @Nullable Reason parse(String code) {
    for (Reason r : values()) {
      if (r.code.equals(code)) {
        return r;
      }
    }
    return null;
  }

  @Override
  public String toString() {
    return code;
  }
}
