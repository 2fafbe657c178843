package io.portcullis.testing;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.net.InetAddress;
import java.net.Socket;
import java.net.SocketTimeoutException;
import java.nio.charset.StandardCharsets;
import java.util.Locale;

/**
 * HTTP/1.1 written byte for byte on a socket, for requests no client library will send (control
 * characters in headers, both Content-Length and Transfer-Encoding, a Host of the test's choosing).
 */
public final class RawHttp {
  private RawHttp() {}

  /** A response as read off the wire. */
  public record Reply(int status, String head, String body) {
    /** The value of the first header named {@code name}, or {@code ""}. */
    public String header(String name) {
      String prefix = name.toLowerCase(Locale.ROOT) + ":";
      for (String line : head.split("\r\n")) {
        if (line.toLowerCase(Locale.ROOT).startsWith(prefix)) {
          return line.substring(prefix.length()).trim();
        }
      }
      return "";
    }
  }

  /**
   * Sends {@code request} (lines joined with CRLF by the caller) to {@code port} on loopback, with
   * {@code Connection: close} semantics expected, and reads the first response.
   */
  public static Reply exchange(int port, String request) throws IOException {
    try (Socket s = new Socket(InetAddress.getLoopbackAddress(), port)) {
      s.setSoTimeout(10_000);
      try {
        s.getOutputStream().write(request.getBytes(StandardCharsets.ISO_8859_1));
        s.getOutputStream().flush();
      } catch (IOException e) {
        // The server may answer and close before reading an oversized request to its end.
      }
      return read(s.getInputStream());
    }
  }

  /** Reads one response: its head, then its body by Content-Length or up to the end of stream. */
  public static Reply read(InputStream in) throws IOException {
    ByteArrayOutputStream head = new ByteArrayOutputStream();
    String h = "";
    while (!h.endsWith("\r\n\r\n")) {
      int b = in.read();
      if (b < 0) {
        throw new IOException("connection closed before a response: " + h);
      }
      head.write(b);
      h = head.toString(StandardCharsets.ISO_8859_1);
    }
    int status = Integer.parseInt(h.substring(9, 12));
    Reply partial = new Reply(status, h, "");
    String length = partial.header("content-length");
    byte[] body;
    if (!length.isEmpty()) {
      body = in.readNBytes(Integer.parseInt(length));
    } else {
      ByteArrayOutputStream rest = new ByteArrayOutputStream();
      try {
        in.transferTo(rest);
      } catch (SocketTimeoutException | java.net.SocketException e) {
        // what arrived is the body
      }
      body = rest.toByteArray();
    }
    return new Reply(status, h, new String(body, StandardCharsets.UTF_8));
  }
}
