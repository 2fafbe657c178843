package io.portcullis.server.http;

import io.portcullis.request.Headers;
import java.io.IOException;
import java.io.InputStream;
import java.nio.ByteBuffer;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.eclipse.jetty.http.HttpField;
import org.eclipse.jetty.http.HttpHeader;
import org.eclipse.jetty.server.Request;
import org.eclipse.jetty.server.Response;
import org.eclipse.jetty.util.Callback;
import org.eclipse.jetty.util.Fields;

/**
 * Reading Jetty requests into plain values and writing plain responses back: the one place that
 * knows Jetty.
 */
final class JettyExchange {
  private JettyExchange() {}

  /** Thrown when a body exceeds the allowed size. */
  static final class BodyTooLarge extends IOException {
    BodyTooLarge() {
      super("request body too large");
    }
  }

  static Headers headers(Request request) {
    Headers.Builder b = Headers.builder();
    for (HttpField f : request.getHeaders()) {
      b.add(f.getName(), f.getValue());
    }
    return b.build();
  }

  static Map<String, List<String>> query(Request request) {
    Fields fields = Request.extractQueryParameters(request);
    Map<String, List<String>> out = new LinkedHashMap<>();
    for (Fields.Field f : fields) {
      out.put(f.getName(), List.copyOf(f.getValues()));
    }
    return out;
  }

  /** Reads at most {@code max} bytes; more is {@link BodyTooLarge}. */
  static byte[] body(Request request, int max) throws IOException {
    try (InputStream in = Request.asInputStream(request)) {
      byte[] bytes = in.readNBytes(max + 1);
      if (bytes.length > max) {
        throw new BodyTooLarge();
      }
      return bytes;
    }
  }

  static void write(Response response, Callback callback, AdminResponse r) {
    response.setStatus(r.status());
    response.getHeaders().put(HttpHeader.CONTENT_TYPE, r.contentType());
    response.getHeaders().put(HttpHeader.CACHE_CONTROL, "no-store");
    response.getHeaders().put("X-Content-Type-Options", "nosniff");
    r.headers().forEach((k, v) -> response.getHeaders().put(k, v));
    response.write(true, ByteBuffer.wrap(r.body()), callback);
  }
}
