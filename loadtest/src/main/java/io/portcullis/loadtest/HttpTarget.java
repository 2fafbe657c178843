package io.portcullis.loadtest;

import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;

/**
 * Forward-auth over HTTP/1.1 with {@code java.net.http} (async sends; each client keeps a pool of
 * keep-alive connections and opens more while requests overlap). An answer's outcome is {@code
 * allow} for 200, else the status code.
 */
final class HttpTarget implements Target {
  private final String name;
  private final List<HttpClient> clients;
  private final ExecutorService executor;
  private final Mix<HttpRequest> mix;

  HttpTarget(String name, int clients, Mix<HttpRequest> mix) {
    this.name = name;
    this.mix = mix;
    this.executor = Executors.newFixedThreadPool(2);
    List<HttpClient> cs = new ArrayList<>();
    for (int i = 0; i < clients; i++) {
      cs.add(
          HttpClient.newBuilder()
              .version(HttpClient.Version.HTTP_1_1)
              .connectTimeout(Duration.ofSeconds(2))
              .executor(executor)
              .build());
    }
    this.clients = List.copyOf(cs);
  }

  @Override
  public void send(long seq, Completion done) {
    Mix.Probe<HttpRequest> probe = mix.probe(seq);
    clients
        .get((int) (seq % clients.size()))
        .sendAsync(probe.request(), HttpResponse.BodyHandlers.discarding())
        .whenComplete(
            (r, t) -> {
              if (t != null) {
                done.complete("error:" + t.getClass().getSimpleName(), false);
              } else {
                String o = r.statusCode() == 200 ? "allow" : Integer.toString(r.statusCode());
                done.complete(o, probe.accepts(o));
              }
            });
  }

  @Override
  public String name() {
    return name;
  }

  @Override
  public void close() {
    for (HttpClient c : clients) {
      c.shutdownNow();
    }
    executor.shutdownNow();
  }
}
