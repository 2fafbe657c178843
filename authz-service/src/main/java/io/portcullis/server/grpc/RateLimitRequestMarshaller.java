package io.portcullis.server.grpc;

import com.google.protobuf.ByteString;
import com.google.protobuf.CodedInputStream;
import com.google.protobuf.CodedOutputStream;
import com.google.protobuf.InvalidProtocolBufferException;
import com.google.protobuf.WireFormat;
import io.envoyproxy.envoy.extensions.common.ratelimit.v3.RateLimitDescriptor;
import io.envoyproxy.envoy.service.ratelimit.v3.RateLimitRequest;
import io.grpc.MethodDescriptor;
import io.grpc.Status;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.ByteBuffer;
import java.nio.CharBuffer;
import java.nio.charset.CharsetDecoder;
import java.nio.charset.CoderResult;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;

/**
 * The request marshaller of {@code ShouldRateLimit}: parses a {@code RateLimitRequest} as
 * grpc-java's own marshaller would, and one whose descriptor entry values are not UTF-8 as well.
 *
 * <h2>Design note</h2>
 *
 * <p>Envoy copies a header's value into a descriptor entry's {@code value}, a proto3 {@code
 * string}, without checking it for UTF-8, and HTTP allows obs-text bytes (0x80 to 0xFF) in header
 * values. protobuf refuses to parse such a message, so the call used to end with a gRPC error
 * before anything was counted: Envoy then applied its {@code failure_mode_deny}, which is {@code
 * false} by default, and a client could skip every descriptor of the request (its per-IP limit too)
 * by adding one such byte to a header that one descriptor reads. envoyproxy/ratelimit refuses these
 * messages the same way.
 *
 * <p>When the normal parse fails, each entry value that is not UTF-8 is read as its bytes: valid
 * UTF-8 sequences as their characters, each other byte {@code b} (always 0x80 or above) as the lone
 * surrogate U+DC00+{@code b} ("surrogateescape"), which no UTF-8 text contains. So distinct byte
 * strings stay distinct values (counted apart, never equal to a configured value, matched by a
 * wildcard on their valid prefix); the counter key spells such a character as {@code %XX}. A
 * message that still does not parse (a domain or key that is not UTF-8, garbage) fails as with
 * grpc-java's marshaller. Costs nothing on the normal path. Stateless.
 */
final class RateLimitRequestMarshaller implements MethodDescriptor.Marshaller<RateLimitRequest> {
  static final RateLimitRequestMarshaller INSTANCE = new RateLimitRequestMarshaller();

  private static final int LENGTH_DELIMITED = WireFormat.WIRETYPE_LENGTH_DELIMITED;

  private RateLimitRequestMarshaller() {}

  /** An entry value that was not UTF-8, as read: where it goes and its characters. */
  private record Escaped(int descriptor, int entry, String value) {}

  @Override
  public InputStream stream(RateLimitRequest value) {
    return value.toByteString().newInput();
  }

  @Override
  public RateLimitRequest parse(InputStream stream) {
    byte[] message;
    try {
      message = stream.readAllBytes();
    } catch (IOException e) {
      throw Status.INTERNAL
          .withDescription("cannot read the RateLimitRequest")
          .withCause(e)
          .asRuntimeException();
    }
    try {
      return RateLimitRequest.parseFrom(message);
    } catch (InvalidProtocolBufferException notAsSent) {
      try {
        return withEscapedValues(message);
      } catch (IOException e) {
        throw Status.INTERNAL
            .withDescription("Invalid protobuf byte sequence")
            .withCause(e)
            .asRuntimeException();
      }
    }
  }

  /**
   * Parses {@code message} with every entry value that is not UTF-8 emptied, then puts the value
   * back as read by {@link #decodeEscaping}.
   */
  private static RateLimitRequest withEscapedValues(byte[] message) throws IOException {
    List<Escaped> escaped = new ArrayList<>();
    CodedInputStream in = CodedInputStream.newInstance(message);
    ByteArrayOutputStream buffer = new ByteArrayOutputStream(message.length);
    CodedOutputStream out = CodedOutputStream.newInstance(buffer);
    int descriptor = 0;
    while (true) {
      int start = in.getTotalBytesRead();
      int tag = in.readTag();
      if (tag == 0) {
        break;
      }
      if (tag == lengthDelimited(RateLimitRequest.DESCRIPTORS_FIELD_NUMBER)) {
        out.writeByteArray(
            RateLimitRequest.DESCRIPTORS_FIELD_NUMBER,
            descriptor(in.readByteArray(), descriptor++, escaped));
      } else {
        copy(in, tag, message, start, out);
      }
    }
    out.flush();
    RateLimitRequest.Builder request = RateLimitRequest.parseFrom(buffer.toByteArray()).toBuilder();
    for (Escaped e : escaped) {
      request
          .getDescriptorsBuilder(e.descriptor())
          .getEntriesBuilder(e.entry())
          .setValue(e.value());
    }
    return request.build();
  }

  private static byte[] descriptor(byte[] message, int index, List<Escaped> escaped)
      throws IOException {
    CodedInputStream in = CodedInputStream.newInstance(message);
    ByteArrayOutputStream buffer = new ByteArrayOutputStream(message.length);
    CodedOutputStream out = CodedOutputStream.newInstance(buffer);
    int entry = 0;
    while (true) {
      int start = in.getTotalBytesRead();
      int tag = in.readTag();
      if (tag == 0) {
        break;
      }
      if (tag == lengthDelimited(RateLimitDescriptor.ENTRIES_FIELD_NUMBER)) {
        out.writeByteArray(
            RateLimitDescriptor.ENTRIES_FIELD_NUMBER,
            entry(in.readByteArray(), index, entry++, escaped));
      } else {
        copy(in, tag, message, start, out);
      }
    }
    out.flush();
    return buffer.toByteArray();
  }

  private static byte[] entry(byte[] message, int descriptor, int entry, List<Escaped> escaped)
      throws IOException {
    CodedInputStream in = CodedInputStream.newInstance(message);
    ByteArrayOutputStream buffer = new ByteArrayOutputStream(message.length);
    CodedOutputStream out = CodedOutputStream.newInstance(buffer);
    while (true) {
      int start = in.getTotalBytesRead();
      int tag = in.readTag();
      if (tag == 0) {
        break;
      }
      if (tag == lengthDelimited(RateLimitDescriptor.Entry.VALUE_FIELD_NUMBER)) {
        ByteString value = in.readBytes();
        if (value.isValidUtf8()) {
          out.writeBytes(RateLimitDescriptor.Entry.VALUE_FIELD_NUMBER, value);
        } else {
          escaped.add(new Escaped(descriptor, entry, decodeEscaping(value.toByteArray())));
        }
      } else {
        copy(in, tag, message, start, out);
      }
    }
    out.flush();
    return buffer.toByteArray();
  }

  /**
   * {@code bytes} as text: UTF-8 sequences as their characters, every other byte {@code b} as the
   * lone surrogate U+DC00+{@code b}.
   */
  static String decodeEscaping(byte[] bytes) {
    CharsetDecoder decoder =
        StandardCharsets.UTF_8
            .newDecoder()
            .onMalformedInput(CodingErrorAction.REPORT)
            .onUnmappableCharacter(CodingErrorAction.REPORT);
    ByteBuffer in = ByteBuffer.wrap(bytes);
    CharBuffer out = CharBuffer.allocate(bytes.length); // never more characters than bytes
    while (true) {
      CoderResult r = decoder.decode(in, out, true);
      if (!r.isError()) {
        break;
      }
      for (int i = 0; i < r.length(); i++) {
        out.put((char) (0xDC00 | (in.get() & 0xFF)));
      }
    }
    decoder.flush(out);
    return out.flip().toString();
  }

  private static int lengthDelimited(int field) {
    return field << 3 | LENGTH_DELIMITED;
  }

  /** Skips the field whose tag was just read and copies it, tag included, unchanged. */
  private static void copy(
      CodedInputStream in, int tag, byte[] message, int start, CodedOutputStream out)
      throws IOException {
    if (!in.skipField(tag)) {
      throw new InvalidProtocolBufferException("an end-group tag outside a group");
    }
    out.writeRawBytes(message, start, in.getTotalBytesRead() - start);
  }
}
