package io.portcullis.testing;

import java.io.ByteArrayOutputStream;
import java.io.DataInputStream;
import java.io.EOFException;
import java.io.IOException;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.Socket;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.HashMap;
import java.util.Map;
import org.eclipse.jetty.http.HttpFields;
import org.eclipse.jetty.http.HttpURI;
import org.eclipse.jetty.http.HttpVersion;
import org.eclipse.jetty.http.MetaData;
import org.eclipse.jetty.http2.hpack.HpackDecoder;
import org.eclipse.jetty.http2.hpack.HpackEncoder;
import org.jspecify.annotations.Nullable;

/**
 * One HTTP/2 cleartext connection with prior knowledge (RFC 9113 §3.3), frames written by hand, so
 * a test can put several streams on the same connection and send header blocks no client library
 * sends (larger than the server's advertised {@code SETTINGS_MAX_HEADER_LIST_SIZE}). Jetty's HPACK
 * coder does the header compression. Single-threaded: send, then {@link #await} each stream.
 */
public final class H2cConnection implements AutoCloseable {
  private static final byte[] PREFACE =
      "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n".getBytes(StandardCharsets.ISO_8859_1);
  private static final int DATA = 0;
  private static final int HEADERS = 1;
  private static final int RST_STREAM = 3;
  private static final int SETTINGS = 4;
  private static final int PING = 6;
  private static final int GOAWAY = 7;
  private static final int CONTINUATION = 9;
  private static final int END_STREAM = 0x1;
  private static final int ACK = 0x1;
  private static final int END_HEADERS = 0x4;
  private static final int MAX_FRAME = 16_384;

  /** A stream's response. */
  public record Response(int status, HttpFields headers, String body) {}

  /** The connection or stream was failed instead of answered. */
  public static final class StreamFailed extends IOException {
    StreamFailed(String message) {
      super(message);
    }
  }

  private final Socket socket;
  private final DataInputStream in;
  private final OutputStream out;
  private final HpackEncoder encoder = new HpackEncoder();
  private final HpackDecoder decoder = new HpackDecoder(1 << 20, System::nanoTime);
  private final Map<Integer, Partial> streams = new HashMap<>();
  private final Map<Integer, Long> serverSettings = new HashMap<>();
  private final int port;
  private int nextStreamId = 1;

  private static final class Partial {
    final ByteArrayOutputStream headerBlock = new ByteArrayOutputStream();
    final ByteArrayOutputStream body = new ByteArrayOutputStream();
    MetaData.@Nullable Response head;
    boolean done;
  }

  private H2cConnection(int port) throws IOException {
    this.port = port;
    this.socket = new Socket(InetAddress.getLoopbackAddress(), port);
    socket.setSoTimeout(10_000);
    this.in = new DataInputStream(socket.getInputStream());
    this.out = socket.getOutputStream();
    encoder.setMaxHeaderListSize(1 << 24);
    out.write(PREFACE);
    writeFrame(SETTINGS, 0, 0, new byte[0]);
  }

  public static H2cConnection open(int port) throws IOException {
    return new H2cConnection(port);
  }

  /**
   * Sends a request without a body on a new stream.
   *
   * @param headers name, value, name, value...
   * @return the stream id
   */
  public int send(String method, String path, String... headers) throws Exception {
    HttpFields.Mutable fields = HttpFields.build();
    for (int i = 0; i < headers.length; i += 2) {
      fields.add(headers[i], headers[i + 1]);
    }
    MetaData.Request request =
        new MetaData.Request(
            method, HttpURI.from("http://127.0.0.1:" + port + path), HttpVersion.HTTP_2, fields);
    ByteBuffer block = ByteBuffer.allocate(1 << 22);
    encoder.encode(block, request);
    block.flip();
    byte[] bytes = new byte[block.remaining()];
    block.get(bytes);
    int stream = nextStreamId;
    nextStreamId += 2;
    streams.put(stream, new Partial());
    int offset = 0;
    boolean first = true;
    do {
      int n = Math.min(MAX_FRAME, bytes.length - offset);
      boolean last = offset + n == bytes.length;
      byte[] chunk = java.util.Arrays.copyOfRange(bytes, offset, offset + n);
      writeFrame(
          first ? HEADERS : CONTINUATION,
          (first ? END_STREAM : 0) | (last ? END_HEADERS : 0),
          stream,
          chunk);
      offset += n;
      first = false;
    } while (offset < bytes.length);
    out.flush();
    return stream;
  }

  /** Reads frames until {@code stream} has its whole response; fails on GOAWAY or RST_STREAM. */
  public Response await(int stream) throws Exception {
    Partial p = streams.get(stream);
    if (p == null) {
      throw new IllegalArgumentException("no stream " + stream);
    }
    while (!p.done) {
      readFrame();
    }
    MetaData.@Nullable Response head = p.head;
    if (head == null) {
      throw new StreamFailed("stream " + stream + " ended without headers");
    }
    return new Response(
        head.getStatus(), head.getHttpFields(), p.body.toString(StandardCharsets.UTF_8));
  }

  private void readFrame() throws Exception {
    int length;
    try {
      length = (in.readUnsignedShort() << 8) | in.readUnsignedByte();
    } catch (EOFException e) {
      throw new StreamFailed("connection closed");
    }
    int type = in.readUnsignedByte();
    int flags = in.readUnsignedByte();
    int stream = in.readInt() & 0x7fffffff;
    byte[] payload = in.readNBytes(length);
    switch (type) {
      case SETTINGS -> {
        if ((flags & ACK) == 0) {
          ByteBuffer settings = ByteBuffer.wrap(payload);
          while (settings.remaining() >= 6) {
            serverSettings.put(settings.getShort() & 0xffff, settings.getInt() & 0xffffffffL);
          }
          writeFrame(SETTINGS, ACK, 0, new byte[0]);
          out.flush();
        }
      }
      case PING -> {
        if ((flags & ACK) == 0) {
          writeFrame(PING, ACK, 0, payload);
          out.flush();
        }
      }
      case GOAWAY -> {
        int error = ByteBuffer.wrap(payload, 4, 4).getInt();
        throw new StreamFailed("GOAWAY with error code " + error);
      }
      case RST_STREAM ->
          throw new StreamFailed(
              "RST_STREAM on stream " + stream + ": " + ByteBuffer.wrap(payload).getInt());
      case HEADERS, CONTINUATION -> {
        Partial p = streamOf(stream);
        p.headerBlock.write(payload);
        if ((flags & END_HEADERS) != 0) {
          p.head = (MetaData.Response) decoder.decode(ByteBuffer.wrap(p.headerBlock.toByteArray()));
          p.headerBlock.reset();
        }
        p.done |= (flags & END_STREAM) != 0;
      }
      case DATA -> {
        Partial p = streamOf(stream);
        p.body.write(payload);
        p.done |= (flags & END_STREAM) != 0;
      }
      default -> {
        // WINDOW_UPDATE, PRIORITY: nothing to do for a short exchange
      }
    }
  }

  /**
   * The value of the server's setting {@code id} (RFC 9113 §6.5.2: 3 is {@code
   * SETTINGS_MAX_CONCURRENT_STREAMS}) as read so far (the server sends its SETTINGS first, so after
   * any {@link #await}), or null if it did not send one.
   */
  public @Nullable Long serverSetting(int id) {
    return serverSettings.get(id);
  }

  private Partial streamOf(int stream) throws StreamFailed {
    Partial p = streams.get(stream);
    if (p == null) {
      throw new StreamFailed("frame on unknown stream " + stream);
    }
    return p;
  }

  private void writeFrame(int type, int flags, int stream, byte[] payload) throws IOException {
    byte[] header = new byte[9];
    header[0] = (byte) (payload.length >>> 16);
    header[1] = (byte) (payload.length >>> 8);
    header[2] = (byte) payload.length;
    header[3] = (byte) type;
    header[4] = (byte) flags;
    ByteBuffer.wrap(header, 5, 4).putInt(stream);
    out.write(header);
    out.write(payload);
  }

  @Override
  public void close() throws IOException {
    socket.close();
  }
}
