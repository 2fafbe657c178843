package io.portcullis.server.http;

import org.eclipse.jetty.http.HttpStatus;
import org.eclipse.jetty.server.Request;
import org.eclipse.jetty.server.Response;
import org.eclipse.jetty.server.handler.ErrorHandler;
import org.eclipse.jetty.util.Callback;

/**
 * Answers the requests Jetty refuses itself, before any handler sees them (a control character in a
 * header, headers over the size limit, both {@code Content-Length} and {@code Transfer-Encoding}),
 * and anything a handler throws, with a fixed problem+json body: the status Jetty chose and its
 * standard reason phrase. Jetty's own error page is HTML that quotes the request URI, query string
 * included, and the exception's message: {@code /check/v1/status?access_token=...} came back in a
 * {@code <td>}, and interfaces.md promises deny bodies that never echo tokens.
 *
 * <p>Such a refusal is not a decision (no policy was evaluated) and is not audited.
 */
final class ProblemErrorHandler extends ErrorHandler {

  @Override
  public boolean handle(Request request, Response response, Callback callback) {
    int status =
        request.getAttribute(ERROR_STATUS) instanceof Integer s && s >= 400
            ? s
            : response.getStatus() >= 400 ? response.getStatus() : 500;
    JettyExchange.write(response, callback, problem(status));
    return true;
  }

  /** The body for {@code status}: nothing from the request, no message, no stack. */
  static AdminResponse problem(int status) {
    String type = status >= 500 ? "internal_error" : "unreadable_request";
    String title = HttpStatus.getMessage(status);
    return AdminResponse.problem(status, type, title, "");
  }
}
