package io.portcullis.server.grpc;

import com.google.protobuf.ByteString;
import com.google.protobuf.CodedInputStream;
import com.google.protobuf.CodedOutputStream;
import com.google.protobuf.InvalidProtocolBufferException;
import com.google.protobuf.WireFormat;
import io.envoyproxy.envoy.config.core.v3.HeaderMap;
import io.envoyproxy.envoy.config.core.v3.HeaderValue;
import io.envoyproxy.envoy.service.auth.v3.AttributeContext;
import io.envoyproxy.envoy.service.auth.v3.CheckRequest;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import org.jspecify.annotations.Nullable;

/**
 * Rewrites, on the wire, a serialized {@code CheckRequest} whose {@code HttpRequest} carries bytes
 * that are not UTF-8 in proto3 {@code string} fields, which protobuf refuses to parse, into one
 * that parses and means the same. Used only after a normal parse failed ({@link
 * CheckRequestMarshaller}).
 *
 * <h2>Design note</h2>
 *
 * <p>Envoy puts bytes it never checked for UTF-8 into {@code string} fields in two real cases:
 *
 * <ul>
 *   <li>the body, in {@code body} (field 11), when the route asked for {@code pack_as_bytes} but
 *       Envoy ignored it: Envoy reads {@code pack_as_bytes} from the filter only, never from {@code
 *       ExtAuthzPerRoute} (envoyproxy/envoy#35623). A binary upload then cannot be parsed;
 *   <li>header values with obs-text bytes (0x80 to 0xFF, which HTTP allows) in the {@code headers}
 *       map (field 3), unless the filter sets {@code encode_raw_headers}.
 * </ul>
 *
 * <p>The walk follows {@code CheckRequest.attributes} (1) → {@code AttributeContext.request} (4) →
 * {@code Request.http} (2) → {@code HttpRequest} and copies every other field byte for byte. In
 * {@code HttpRequest}:
 *
 * <ul>
 *   <li>{@code body} moves to {@code raw_body} (12), unless a {@code raw_body} is present, which
 *       {@link CheckRequests} would prefer anyway;
 *   <li>the {@code headers} map becomes {@code header_map} (13) entries with the value in {@code
 *       raw_value} (3), which {@link CheckRequests} already reads, so the decision sees the bytes
 *       as Envoy forwarded them; a later key replaces an earlier one, as in the map;
 *   <li>a header name, {@code method}, {@code path}, {@code host} or {@code scheme} that is not
 *       UTF-8 has no faithful reading: it is dropped and named in {@link Result#refusal()}, so the
 *       request is still decided, as {@code malformed_request}, with its source and the fields that
 *       could be read in the audit record;
 *   <li>{@code id}, {@code query}, {@code fragment} or {@code protocol} that is not UTF-8 is
 *       dropped: the decision mints its own id and reads none of the others.
 * </ul>
 *
 * <p>Costs a few copies of the message on this path only, nothing on the normal path. The output is
 * at most a few bytes larger than the input, whose size the listener's maximum message size already
 * bounded. Stateless.
 */
final class CheckRequestTranscoder {
  private static final int LENGTH_DELIMITED = WireFormat.WIRETYPE_LENGTH_DELIMITED;

  /**
   * The {@code HttpRequest} string fields the decision reads, by name: one that is not UTF-8 is
   * dropped and makes the request malformed.
   */
  private static final Map<Integer, String> DECIDED_STRINGS =
      Map.of(
          AttributeContext.HttpRequest.METHOD_FIELD_NUMBER, "method",
          AttributeContext.HttpRequest.PATH_FIELD_NUMBER, "path",
          AttributeContext.HttpRequest.HOST_FIELD_NUMBER, "host",
          AttributeContext.HttpRequest.SCHEME_FIELD_NUMBER, "scheme");

  /**
   * The other {@code HttpRequest} string fields: {@code id} (without it the decision mints its own
   * id) and {@code query}, {@code fragment}, {@code protocol} (never read). One that is not UTF-8
   * is dropped and costs the decision nothing.
   */
  private static final Set<Integer> OTHER_STRINGS =
      Set.of(
          AttributeContext.HttpRequest.ID_FIELD_NUMBER,
          AttributeContext.HttpRequest.QUERY_FIELD_NUMBER,
          AttributeContext.HttpRequest.FRAGMENT_FIELD_NUMBER,
          AttributeContext.HttpRequest.PROTOCOL_FIELD_NUMBER);

  /** The fields of a {@code headers} map entry (protobuf's map encoding). */
  private static final int MAP_KEY = 1;

  private static final int MAP_VALUE = 2;

  /**
   * @param message the rewritten {@code CheckRequest}
   * @param refusal what had to be dropped, for {@code malformed_request}; {@code null} when the
   *     rewrite lost nothing
   */
  record Result(byte[] message, @Nullable String refusal) {}

  private CheckRequestTranscoder() {}

  /**
   * Rewrites {@code message}.
   *
   * @throws InvalidProtocolBufferException when the walked messages are not protobuf (truncated,
   *     bad tags); the caller treats the request as unreadable
   */
  static Result transcode(byte[] message) throws InvalidProtocolBufferException {
    Set<String> dropped = new TreeSet<>();
    try {
      byte[] out =
          rewrite(
              message,
              CheckRequest.ATTRIBUTES_FIELD_NUMBER,
              attributes ->
                  rewrite(
                      attributes,
                      AttributeContext.REQUEST_FIELD_NUMBER,
                      request ->
                          rewrite(
                              request,
                              AttributeContext.Request.HTTP_FIELD_NUMBER,
                              http -> httpRequest(http, dropped))));
      return new Result(out, dropped.isEmpty() ? null : "not UTF-8: " + String.join(", ", dropped));
    } catch (InvalidProtocolBufferException e) {
      throw e;
    } catch (IOException e) { // writing to memory does not fail; reading is the case above
      throw new InvalidProtocolBufferException(e);
    }
  }

  @FunctionalInterface
  private interface Rewrite {
    byte[] apply(byte[] content) throws IOException;
  }

  /**
   * Copies {@code message}, with each length-delimited {@code field} passed through {@code inner}.
   */
  private static byte[] rewrite(byte[] message, int field, Rewrite inner) throws IOException {
    CodedInputStream in = CodedInputStream.newInstance(message);
    ByteArrayOutputStream buffer = new ByteArrayOutputStream(message.length + 16);
    CodedOutputStream out = CodedOutputStream.newInstance(buffer);
    int wanted = lengthDelimited(field);
    while (true) {
      int start = in.getTotalBytesRead();
      int tag = in.readTag();
      if (tag == 0) {
        break;
      }
      if (tag == wanted) {
        out.writeByteArray(field, inner.apply(in.readByteArray()));
      } else {
        copy(in, tag, message, start, out);
      }
    }
    out.flush();
    return buffer.toByteArray();
  }

  private static byte[] httpRequest(byte[] message, Set<String> dropped) throws IOException {
    CodedInputStream in = CodedInputStream.newInstance(message);
    ByteArrayOutputStream buffer = new ByteArrayOutputStream(message.length + 64);
    CodedOutputStream out = CodedOutputStream.newInstance(buffer);
    byte @Nullable [] body = null;
    boolean rawBody = false;
    Map<ByteString, ByteString> headers = new LinkedHashMap<>();
    while (true) {
      int start = in.getTotalBytesRead();
      int tag = in.readTag();
      if (tag == 0) {
        break;
      }
      int number = WireFormat.getTagFieldNumber(tag);
      if (WireFormat.getTagWireType(tag) != LENGTH_DELIMITED) {
        copy(in, tag, message, start, out);
      } else if (number == AttributeContext.HttpRequest.BODY_FIELD_NUMBER) {
        body = in.readByteArray();
      } else if (number == AttributeContext.HttpRequest.HEADERS_FIELD_NUMBER) {
        headerEntry(in.readByteArray(), headers, dropped);
      } else if (DECIDED_STRINGS.containsKey(number) || OTHER_STRINGS.contains(number)) {
        ByteString value = in.readBytes();
        if (value.isValidUtf8()) {
          out.writeBytes(number, value);
        } else if (DECIDED_STRINGS.containsKey(number)) {
          dropped.add(DECIDED_STRINGS.get(number));
        }
      } else {
        rawBody |= number == AttributeContext.HttpRequest.RAW_BODY_FIELD_NUMBER;
        copy(in, tag, message, start, out);
      }
    }
    if (body != null && !rawBody) {
      out.writeByteArray(AttributeContext.HttpRequest.RAW_BODY_FIELD_NUMBER, body);
    }
    if (!headers.isEmpty()) {
      // A second header_map occurrence merges into one Envoy sent, as protobuf merges messages.
      ByteArrayOutputStream map = new ByteArrayOutputStream();
      CodedOutputStream entries = CodedOutputStream.newInstance(map);
      for (Map.Entry<ByteString, ByteString> h : headers.entrySet()) {
        entries.writeByteArray(
            HeaderMap.HEADERS_FIELD_NUMBER, headerValue(h.getKey(), h.getValue()));
      }
      entries.flush();
      out.writeByteArray(AttributeContext.HttpRequest.HEADER_MAP_FIELD_NUMBER, map.toByteArray());
    }
    out.flush();
    return buffer.toByteArray();
  }

  /**
   * Reads one {@code headers} map entry into {@code headers}; a name that is not UTF-8 is dropped.
   */
  private static void headerEntry(
      byte[] entry, Map<ByteString, ByteString> headers, Set<String> dropped) throws IOException {
    CodedInputStream in = CodedInputStream.newInstance(entry);
    ByteString key = ByteString.EMPTY;
    ByteString value = ByteString.EMPTY;
    while (true) {
      int tag = in.readTag();
      if (tag == 0) {
        break;
      }
      if (tag == lengthDelimited(MAP_KEY)) {
        key = in.readBytes();
      } else if (tag == lengthDelimited(MAP_VALUE)) {
        value = in.readBytes();
      } else {
        skip(in, tag);
      }
    }
    if (key.isValidUtf8()) {
      headers.put(key, value);
    } else {
      dropped.add("header name");
    }
  }

  private static byte[] headerValue(ByteString key, ByteString rawValue) throws IOException {
    ByteArrayOutputStream buffer = new ByteArrayOutputStream(key.size() + rawValue.size() + 8);
    CodedOutputStream out = CodedOutputStream.newInstance(buffer);
    out.writeBytes(HeaderValue.KEY_FIELD_NUMBER, key);
    out.writeBytes(HeaderValue.RAW_VALUE_FIELD_NUMBER, rawValue);
    out.flush();
    return buffer.toByteArray();
  }

  /** The tag of length-delimited {@code field}. */
  private static int lengthDelimited(int field) {
    return field << 3 | LENGTH_DELIMITED;
  }

  private static void skip(CodedInputStream in, int tag) throws IOException {
    if (!in.skipField(tag)) {
      throw new InvalidProtocolBufferException("an end-group tag outside a group");
    }
  }

  /** Skips the field whose tag was just read and copies it, tag included, unchanged. */
  private static void copy(
      CodedInputStream in, int tag, byte[] message, int start, CodedOutputStream out)
      throws IOException {
    skip(in, tag);
    out.writeRawBytes(message, start, in.getTotalBytesRead() - start);
  }
}
