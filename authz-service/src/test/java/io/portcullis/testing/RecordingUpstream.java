package io.portcullis.testing;

import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import java.io.IOException;
import java.io.InputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.TreeMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;

/**
 * The protected application behind a gateway in end-to-end tests: a JDK HTTP server that records
 * every request's method, URI and headers before it answers {@code 200} with {@link #BODY}. A
 * recorded request is visible to the test as soon as the gateway's response arrived, because the
 * record is written before the answer. Thread-safe.
 */
public final class RecordingUpstream implements AutoCloseable {
  /** What every request is answered with. */
  public static final String BODY = "upstream ok\n";

  private final HttpServer server;
  private final ExecutorService executor = Executors.newVirtualThreadPerTaskExecutor();
  private final List<Received> received = new CopyOnWriteArrayList<>();

  /**
   * One request as the upstream saw it.
   *
   * @param method the request method
   * @param uri the raw request target
   * @param headers header values by lower-case name, in arrival order
   */
  public record Received(String method, String uri, Map<String, List<String>> headers) {
    /** The only value of {@code name}, or empty; fails if the header arrived more than once. */
    public Optional<String> header(String name) {
      List<String> values = headers.getOrDefault(name.toLowerCase(Locale.ROOT), List.of());
      if (values.size() > 1) {
        throw new AssertionError("header " + name + " arrived " + values.size() + " times");
      }
      return values.stream().findFirst();
    }

    /** Every header name starting with {@code prefix} (lower case). */
    public List<String> namesStartingWith(String prefix) {
      return headers.keySet().stream().filter(n -> n.startsWith(prefix)).toList();
    }
  }

  private RecordingUpstream(HttpServer server) {
    this.server = server;
    server.createContext("/", this::handle);
    server.setExecutor(executor);
  }

  /** Starts on a free port of {@code address} (use 0.0.0.0 when a container must reach it). */
  public static RecordingUpstream start(InetAddress address) throws IOException {
    RecordingUpstream upstream =
        new RecordingUpstream(HttpServer.create(new InetSocketAddress(address, 0), 0));
    upstream.server.start();
    return upstream;
  }

  /** Starts on a free loopback port. */
  public static RecordingUpstream start() throws IOException {
    return start(InetAddress.getLoopbackAddress());
  }

  public int port() {
    return server.getAddress().getPort();
  }

  /** Every request so far, oldest first. */
  public List<Received> received() {
    return List.copyOf(received);
  }

  /** The most recent request; fails if there was none. */
  public Received last() {
    if (received.isEmpty()) {
      throw new AssertionError("the upstream received no request");
    }
    return received.getLast();
  }

  /** Forgets the requests recorded so far. */
  public void clear() {
    received.clear();
  }

  private void handle(HttpExchange exchange) throws IOException {
    try (exchange;
        InputStream in = exchange.getRequestBody()) {
      in.readAllBytes();
      Map<String, List<String>> headers = new TreeMap<>();
      exchange
          .getRequestHeaders()
          .forEach(
              (name, values) ->
                  headers
                      .computeIfAbsent(name.toLowerCase(Locale.ROOT), n -> new ArrayList<>())
                      .addAll(values));
      headers.replaceAll((name, values) -> List.copyOf(values));
      received.add(
          new Received(
              exchange.getRequestMethod(),
              exchange.getRequestURI().toString(),
              Map.copyOf(headers)));
      byte[] body = BODY.getBytes(StandardCharsets.UTF_8);
      exchange.getResponseHeaders().set("Content-Type", "text/plain");
      exchange.sendResponseHeaders(200, body.length);
      exchange.getResponseBody().write(body);
    }
  }

  @Override
  public void close() {
    server.stop(0);
    executor.close();
  }
}
