package io.portcullis.audit;

import io.portcullis.decision.Decision;
import io.portcullis.request.RequestAttributes;
import io.portcullis.store.Database;
import io.portcullis.store.StoreSettings;
import io.portcullis.testing.DecisionFixtures;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.time.InstantSource;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.locks.LockSupport;

/**
 * The child process of {@link AuditWriterIT}: a writer on a real store that the test signals.
 *
 * <pre>
 *   AuditWriterChild &lt;store url&gt; &lt;journal dir&gt; &lt;instance&gt; burst &lt;n&gt;
 *     appends n decisions (ids b-0..), prints "APPENDED &lt;queue depth&gt;", then waits to be signalled
 *   AuditWriterChild &lt;store url&gt; &lt;journal dir&gt; &lt;instance&gt; stream
 *     appends a decision (ids s-0.., time = now) every ~200 µs until killed; prints "STREAMING"
 *     once the first records are stored
 * </pre>
 *
 * SIGTERM runs the shutdown hook, which closes the writer (the service does the same).
 */
public final class AuditWriterChild {
  private AuditWriterChild() {}

  public static void main(String[] args) throws InterruptedException {
    String url = args[0];
    Path journalDir = Path.of(args[1]);
    String instance = args[2];
    String mode = args[3];
    Database db = Database.open(StoreSettings.of(url).withConnectTimeout(Duration.ofMillis(1000)));
    AuditWriter writer =
        AuditWriter.builder(AuditStore.of(db))
            .instance(instance)
            .settings(
                AuditSettings.builder()
                    .journalDirectory(journalDir)
                    .retryInterval(Duration.ofMillis(200))
                    .build())
            .build()
            .start();
    Runtime.getRuntime()
        .addShutdownHook(
            new Thread(
                () -> {
                  writer.close();
                  db.close();
                }));
    switch (mode) {
      case "burst" -> {
        int n = Integer.parseInt(args[4]);
        Instant t0 = Instant.parse("2026-11-22T10:00:00Z");
        for (int i = 0; i < n; i++) {
          writer.append(decision("b-" + i, t0.plusMillis(i)));
        }
        System.out.println("APPENDED " + writer.queueDepth());
        System.out.flush();
        new CountDownLatch(1).await(); // until signalled
      }
      case "stream" -> {
        InstantSource clock = InstantSource.system();
        boolean announced = false;
        for (long i = 0; ; i++) {
          writer.append(decision("s-" + i, clock.instant()));
          if (!announced && writer.written() > 0) {
            System.out.println("STREAMING");
            System.out.flush();
            announced = true;
          }
          LockSupport.parkNanos(200_000);
        }
      }
      default -> throw new IllegalArgumentException("mode " + mode);
    }
  }

  private static Decision decision(String id, Instant time) {
    return DecisionFixtures.from(RequestAttributes.builder().path("/v1/orders").build())
        .decisionId(id)
        .time(time)
        .segment("public")
        .allow();
  }
}
