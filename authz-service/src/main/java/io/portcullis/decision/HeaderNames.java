package io.portcullis.decision;

import java.util.List;

/** Header names Portcullis reads or writes, defined once. All lower-case (HTTP/2 form). */
public final class HeaderNames {
  private HeaderNames() {}

  /** Prefix of every header Portcullis sets for the upstream; client-sent ones are removed. */
  public static final String PORTCULLIS_PREFIX = "x-portcullis-";

  public static final String PRINCIPAL = "x-portcullis-principal";
  public static final String SEGMENT = "x-portcullis-segment";
  public static final String CLIENT = "x-portcullis-client";
  public static final String CREDENTIAL = "x-portcullis-credential";
  public static final String DECISION_ID = "x-portcullis-decision-id";

  /** The headers Portcullis sets upstream on an allow; a client's copies never reach it. */
  public static final List<String> UPSTREAM_IDENTITY =
      List.of(PRINCIPAL, SEGMENT, CLIENT, CREDENTIAL, DECISION_ID);

  public static final String REQUEST_ID = "x-request-id";
  public static final String AUTHORIZATION = "authorization";
  public static final String CONTENT_TYPE = "content-type";
  public static final String WWW_AUTHENTICATE = "www-authenticate";
  public static final String RETRY_AFTER = "retry-after";

  /** IETF draft-ietf-httpapi-ratelimit-headers. */
  public static final String RATELIMIT = "ratelimit";

  public static final String RATELIMIT_POLICY = "ratelimit-policy";

  /** Envoy sets this when {@code with_request_body} truncated the body. */
  public static final String ENVOY_PARTIAL_BODY = "x-envoy-auth-partial-body";

  /**
   * Envoy's ext_authz HTTP mode reads this response header of a 200 as the comma-separated names of
   * request headers to remove before the upstream: the HTTP form of {@code headers_to_remove}.
   */
  public static final String ENVOY_AUTH_HEADERS_TO_REMOVE = "x-envoy-auth-headers-to-remove";

  public static final String PROBLEM_JSON = "application/problem+json";

  /**
   * Method-override headers some frameworks honour (Rails, Laravel, ASP.NET, Express
   * method-override): a POST that Portcullis authorized would run as DELETE upstream. Removed
   * before the upstream on every allow.
   */
  public static final java.util.List<String> METHOD_OVERRIDES =
      java.util.List.of("x-http-method-override", "x-http-method", "x-method-override");
}
