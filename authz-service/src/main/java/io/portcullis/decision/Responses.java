package io.portcullis.decision;

import io.portcullis.identity.CredentialChain;
import io.portcullis.identity.Identity;
import io.portcullis.limit.LimitStatus;
import io.portcullis.request.Headers;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import org.jspecify.annotations.Nullable;
import tools.jackson.core.io.JsonStringEncoder;

/**
 * Builds the wire-neutral {@link ResponsePlan} of a decision (interfaces.md "Envoy ext_authz").
 *
 * <p>RateLimit headers follow draft-ietf-httpapi-ratelimit-headers-10 (structured fields): {@code
 * RateLimit-Policy: "<limit>";q=<quota>;w=<window seconds>} and {@code RateLimit:
 * "<limit>";r=<remaining>;t=<seconds to reset>}, for the tightest limit only.
 */
public final class Responses {
  static final String WWW_AUTHENTICATE_VALUE = "Bearer error=\"invalid_token\"";

  private Responses() {}

  /** The plan of an allow. */
  public static ResponsePlan allow(
      String decisionId,
      @Nullable Identity identity,
      String segment,
      Headers requestHeaders,
      ResponseOptions options,
      Set<String> credentialHeaders,
      @Nullable LimitStatus limit) {
    List<ResponseHeader> upstream = new ArrayList<>(5);
    if (options.upstreamHeaders() && identity != null) {
      upstream.add(new ResponseHeader(HeaderNames.PRINCIPAL, headerValue(identity.principal())));
      upstream.add(new ResponseHeader(HeaderNames.SEGMENT, segment));
      if (identity.client() != null) {
        upstream.add(new ResponseHeader(HeaderNames.CLIENT, headerValue(identity.client())));
      }
      upstream.add(new ResponseHeader(HeaderNames.CREDENTIAL, identity.credential().wireName()));
      upstream.add(new ResponseHeader(HeaderNames.DECISION_ID, decisionId));
    }
    List<String> remove = new ArrayList<>(2);
    for (String name : requestHeaders.names()) {
      if (name.startsWith(HeaderNames.PORTCULLIS_PREFIX) && !isSet(upstream, name)) {
        remove.add(name);
      }
    }
    // Also the ones Portcullis did not see: a proxy that sends it only some headers (Envoy's
    // allowed_headers) would otherwise pass a client's x-portcullis-client on an anonymous allow.
    for (String name : HeaderNames.UPSTREAM_IDENTITY) {
      if (!isSet(upstream, name) && !remove.contains(name)) {
        remove.add(name);
      }
    }
    for (String h : HeaderNames.METHOD_OVERRIDES) {
      if (requestHeaders.contains(h)) {
        remove.add(h);
      }
    }
    if (options.stripCredentials()) {
      for (String h : credentialHeaders) {
        String v = requestHeaders.get(h);
        if (v != null
            && (!h.equals(HeaderNames.AUTHORIZATION)
                || CredentialChain.isPortcullisCredential(v))) {
          remove.add(h);
        }
      }
    }
    List<ResponseHeader> client = new ArrayList<>(3);
    client.add(new ResponseHeader(HeaderNames.DECISION_ID, decisionId));
    if (limit != null) {
      addRateLimitHeaders(client, limit);
    }
    return new ResponsePlan(200, upstream, remove, client, "");
  }

  /**
   * {@code value} as an upstream header value that names exactly one identity: {@code %}, bytes
   * outside printable ASCII (as UTF-8) and a space at either end are percent-encoded. A header
   * carries no non-ASCII text (Jetty wrote such characters as spaces, HPACK refused them) and
   * parsers strip surrounding whitespace (RFC 9110 5.5), so raw, {@code " admin"} and {@code
   * "用户admin"} would both have reached the upstream as {@code admin}. ASCII values without {@code
   * %} or edge spaces, nearly all, are returned as they are.
   */
  static String headerValue(String value) {
    int n = value.length();
    boolean plain = n == 0 || (value.charAt(0) != ' ' && value.charAt(n - 1) != ' ');
    for (int i = 0; plain && i < n; i++) {
      char c = value.charAt(i);
      plain = c >= 0x20 && c < 0x7f && c != '%';
    }
    if (plain) {
      return value;
    }
    byte[] utf8 = value.getBytes(java.nio.charset.StandardCharsets.UTF_8);
    StringBuilder b = new StringBuilder(utf8.length + 16);
    for (int i = 0; i < utf8.length; i++) {
      int c = utf8[i] & 0xff;
      boolean edgeSpace = c == ' ' && (i == 0 || i == utf8.length - 1);
      if (c < 0x20 || c >= 0x7f || c == '%' || edgeSpace) {
        b.append('%').append(HEX[c >> 4]).append(HEX[c & 0xf]);
      } else {
        b.append((char) c);
      }
    }
    return b.toString();
  }

  private static final char[] HEX = "0123456789ABCDEF".toCharArray();

  /** The plan of a deny. */
  public static ResponsePlan deny(
      String decisionId,
      Reason reason,
      @Nullable LimitStatus limit,
      @Nullable Duration retryAfter) {
    List<ResponseHeader> client = new ArrayList<>(5);
    client.add(new ResponseHeader(HeaderNames.CONTENT_TYPE, HeaderNames.PROBLEM_JSON));
    client.add(new ResponseHeader(HeaderNames.DECISION_ID, decisionId));
    if (reason.status() == 401) {
      client.add(new ResponseHeader(HeaderNames.WWW_AUTHENTICATE, WWW_AUTHENTICATE_VALUE));
    }
    if (retryAfter != null) {
      client.add(
          new ResponseHeader(HeaderNames.RETRY_AFTER, Long.toString(ceilSeconds(retryAfter))));
    }
    if (limit != null) {
      addRateLimitHeaders(client, limit);
    }
    return new ResponsePlan(
        reason.status(), List.of(), List.of(), client, problem(reason, decisionId));
  }

  /**
   * The fail-closed plan when deciding itself failed unexpectedly (a bug, never an expected
   * outcome): 500 with a problem document of type {@code urn:portcullis:error:internal_error}.
   */
  public static ResponsePlan internalError(String decisionId) {
    String body =
        "{\"type\":\"urn:portcullis:error:internal_error\",\"title\":\"Internal error\","
            + "\"status\":500,\"decision_id\":\""
            + jsonEscape(decisionId)
            + "\"}";
    return new ResponsePlan(
        500,
        List.of(),
        List.of(),
        List.of(
            new ResponseHeader(HeaderNames.CONTENT_TYPE, HeaderNames.PROBLEM_JSON),
            new ResponseHeader(HeaderNames.DECISION_ID, decisionId)),
        body);
  }

  /**
   * The RFC 9457 problem document of a deny. It never echoes anything from the request but the
   * decision id, which {@link DecisionIds} restricted to {@code [A-Za-z0-9._:-]}.
   */
  public static String problem(Reason reason, String decisionId) {
    return "{\"type\":\""
        + reason.typeUri()
        + "\",\"title\":\""
        + reason.title()
        + "\",\"status\":"
        + reason.status()
        + ",\"decision_id\":\""
        + jsonEscape(decisionId)
        + "\"}";
  }

  static void addRateLimitHeaders(List<ResponseHeader> out, LimitStatus s) {
    String name = sfString(s.limit().name());
    out.add(
        new ResponseHeader(
            HeaderNames.RATELIMIT_POLICY,
            name + ";q=" + s.quota() + ";w=" + Math.max(1, ceilSeconds(s.window()))));
    out.add(
        new ResponseHeader(
            HeaderNames.RATELIMIT,
            name + ";r=" + Math.max(0, s.remaining()) + ";t=" + ceilSeconds(s.reset())));
  }

  private static boolean isSet(List<ResponseHeader> headers, String name) {
    for (ResponseHeader h : headers) {
      if (h.name().equals(name)) {
        return true;
      }
    }
    return false;
  }

  static long ceilSeconds(Duration d) {
    long s = d.getSeconds();
    return d.getNano() > 0 ? s + 1 : s;
  }

  /** An RFC 8941 sf-string. */
  private static String sfString(String s) {
    StringBuilder b = new StringBuilder(s.length() + 2).append('"');
    for (int i = 0; i < s.length(); i++) {
      char c = s.charAt(i);
      if (c == '"' || c == '\\') {
        b.append('\\');
      }
      b.append(c >= 0x20 && c < 0x7f ? c : '?');
    }
    return b.append('"').toString();
  }

  static String jsonEscape(String s) {
    StringBuilder b = new StringBuilder(s.length() + 8);
    JsonStringEncoder.getInstance().quoteAsString(s, b);
    return b.toString();
  }
}
