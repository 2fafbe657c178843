package io.portcullis.decision;

import java.util.List;

/**
 * What the proxy must do with the request, independent of the wire: the gRPC and forward-auth
 * adapters translate it into a {@code CheckResponse} or an HTTP response.
 *
 * @param status the HTTP status for the client (200 for an allow)
 * @param upstreamHeaders headers to set on the request before the upstream (allow only)
 * @param upstreamHeadersToRemove request headers to remove before the upstream (allow only):
 *     client-sent {@code x-portcullis-*} headers Portcullis did not set, and credential headers
 *     when {@code strip_credentials} is on
 * @param clientHeaders headers for the client's response: {@code x-portcullis-decision-id} always,
 *     RateLimit headers, and on a deny {@code content-type}, {@code WWW-Authenticate}, {@code
 *     Retry-After}
 * @param body the response body of a deny ({@code application/problem+json}); empty for an allow
 */
public record ResponsePlan(
    int status,
    List<ResponseHeader> upstreamHeaders,
    List<String> upstreamHeadersToRemove,
    List<ResponseHeader> clientHeaders,
    String body) {

  public ResponsePlan {
    upstreamHeaders = List.copyOf(upstreamHeaders);
    upstreamHeadersToRemove = List.copyOf(upstreamHeadersToRemove);
    clientHeaders = List.copyOf(clientHeaders);
  }
}
