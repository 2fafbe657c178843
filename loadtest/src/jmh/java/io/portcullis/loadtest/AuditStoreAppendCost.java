package io.portcullis.loadtest;

import io.portcullis.audit.AuditStore;
import io.portcullis.audit.ChainHead;
import io.portcullis.audit.DecisionRecords;
import io.portcullis.audit.LinkedRecord;
import io.portcullis.audit.RecordChain;
import io.portcullis.proto.v1.DecisionRecord;
import io.portcullis.store.Database;
import io.portcullis.store.StoreSettings;
import java.lang.management.ManagementFactory;
import java.lang.management.ThreadMXBean;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;

/**
 * The store thread's share of the writer's work: {@link AuditStore#appendLinked} of pre-linked
 * records ({@link AuditBenchData}'s mix) into a fresh SQLite file in batches of {@code --batch},
 * timed by wall clock and by the thread's CPU time (SQLite runs on the calling thread), so runs on
 * a busy machine stay comparable. With {@code --checked} it uses {@link AuditStore#append} instead,
 * which encodes and hashes every record again (the path journal replays take). Repeats {@code
 * --rounds} times, each into a new file.
 *
 * <pre>
 * java --enable-native-access=ALL-UNNAMED -Xmx2g -cp loadtest/target/benchmarks.jar \
 *     io.portcullis.loadtest.AuditStoreAppendCost --records 200000 --batch 10000 --rounds 3
 * </pre>
 */
public final class AuditStoreAppendCost {
  private AuditStoreAppendCost() {}

  public static void main(String[] args) throws Exception {
    int records = 200_000;
    int batch = 10_000;
    int rounds = 3;
    boolean checked = false;
    for (int i = 0; i < args.length; i++) {
      switch (args[i]) {
        case "--records" -> records = Integer.parseInt(args[++i]);
        case "--batch" -> batch = Integer.parseInt(args[++i]);
        case "--rounds" -> rounds = Integer.parseInt(args[++i]);
        case "--checked" -> checked = true;
        default -> throw new IllegalArgumentException("unknown argument " + args[i]);
      }
    }
    AuditBenchData data = new AuditBenchData(5);
    Instant t = Instant.parse("2026-11-22T00:00:00Z");
    List<LinkedRecord> linked = new ArrayList<>(records);
    List<DecisionRecord> plain = new ArrayList<>(records);
    ChainHead head = ChainHead.GENESIS;
    for (int i = 0; i < records; i++) {
      LinkedRecord r =
          RecordChain.linked(DecisionRecords.of(data.next(t.plusMillis(i)), "bench-1"), head);
      head = r.head();
      linked.add(r);
      if (checked) {
        plain.add(r.record());
      }
    }
    ThreadMXBean mx = ManagementFactory.getThreadMXBean();
    for (int round = 0; round < rounds; round++) {
      Path dir = Files.createTempDirectory("audit-append-cost");
      try (Database db = Database.open(StoreSettings.of("jdbc:sqlite:" + dir.resolve("a.db")))) {
        AuditStore store = AuditStore.of(db);
        long cpu0 = mx.getCurrentThreadCpuTime();
        long t0 = System.nanoTime();
        for (int i = 0; i < records; i += batch) {
          int end = Math.min(records, i + batch);
          if (checked) {
            store.append(plain.subList(i, end));
          } else {
            store.appendLinked(linked.subList(i, end));
          }
        }
        long wall = System.nanoTime() - t0;
        long cpu = mx.getCurrentThreadCpuTime() - cpu0;
        System.out.printf(
            "round %d (%s): %,d records in batches of %,d: wall %.1f us/record (%,.0f/s),"
                + " CPU %.1f us/record (%,.0f per CPU second)%n",
            round + 1,
            checked ? "append" : "appendLinked",
            records,
            batch,
            wall / 1e3 / records,
            records / (wall / 1e9),
            cpu / 1e3 / records,
            records / (cpu / 1e9));
      } finally {
        AuditBenchData.deleteTree(dir);
      }
    }
  }
}
