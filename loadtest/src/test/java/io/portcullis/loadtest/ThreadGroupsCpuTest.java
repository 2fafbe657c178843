package io.portcullis.loadtest;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class ThreadGroupsCpuTest {
  @TempDir Path tasks;

  /** A stat line as proc(5) gives it: utime and stime are the 14th and 15th fields. */
  private void task(int tid, String name, long utime, long stime) throws Exception {
    Path dir = Files.createDirectories(tasks.resolve(Integer.toString(tid)));
    Files.writeString(
        dir.resolve("stat"),
        tid
            + " ("
            + name
            + ") S 1 1 1 0 -1 4194368 100 0 0 0 "
            + utime
            + " "
            + stime
            + " 0 0 20 0 40 0 8 0 0 0\n");
  }

  @Test
  void of_sumsEachGroupsUserAndSystemTicks_asNanoseconds() throws Exception {
    task(10, "portcullis-audi", 30, 5); // the writer
    task(11, "portcullis-audi", 7, 1); // the linker
    task(12, "portcullis-sqli", 2, 2); // the checkpointer
    task(13, "C2 CompilerThre", 40, 0);
    task(14, "C1 CompilerThre", 3, 0);
    task(15, "GC Thread#0", 9, 1);
    task(16, "G1 Conc#0", 4, 0);
    task(17, "grpc-default-wo", 500, 100); // transport: in no group
    task(18, "weird ) name (x", 1000, 1000); // a ')' in a thread name: parsed from the last one
    Files.writeString( // a garbled line: skipped, the others still count
        Files.createDirectories(tasks.resolve("19")).resolve("stat"),
        "19 (GC Thread#1) S 1 1 1 0 -1 4194368 100 0 0 0 x 7 0 0 20 0 40 0");

    ThreadGroupsCpu.Times t = ThreadGroupsCpu.of(tasks);

    long tick = 10_000_000L; // 1/100 s
    assertThat(t.auditNanos()).isEqualTo(47 * tick);
    assertThat(t.jitNanos()).isEqualTo(43 * tick);
    assertThat(t.gcNanos()).isEqualTo(14 * tick);
  }

  @Test
  void of_skipsATaskThatEndedOrIsUnreadable() throws Exception {
    task(10, "portcullis-audi", 5, 5);
    Files.createDirectories(tasks.resolve("11")); // no stat file: the thread ended
    Files.writeString(Files.createDirectories(tasks.resolve("12")).resolve("stat"), "garbage");

    assertThat(ThreadGroupsCpu.of(tasks).auditNanos()).isEqualTo(10 * 10_000_000L);
  }

  @Test
  void of_withoutProc_isZero() {
    assertThat(ThreadGroupsCpu.of(tasks.resolve("missing"))).isEqualTo(ThreadGroupsCpu.Times.NONE);
  }

  @Test
  void self_onLinux_findsThisJvmsJitThreads() {
    assumeTrue(
        Files.isDirectory(Path.of("/proc/self/task")),
        "skipped: this test reads Linux's /proc/self/task, which this system does not have");
    // a JVM that has run these tests has compiled something
    assertThat(ThreadGroupsCpu.self().jitNanos()).isPositive();
  }

  @Test
  void snapshot_carriesTheGroupsThroughItsStatsLine_andTheDeltaGivesThemPerRequest() {
    ServerStats.Snapshot a =
        new ServerStats.Snapshot(
            0, 0, 0, 0, 1, 2, 3, 0, 0, new ThreadGroupsCpu.Times(1_000_000, 0, 0));
    ServerStats.Snapshot b =
        new ServerStats.Snapshot(
            2_000_000_000L,
            2_000_000_000L,
            4,
            50,
            1,
            2,
            3,
            20_000,
            0,
            new ThreadGroupsCpu.Times(201_000_000, 100_000_000, 40_000_000));

    assertThat(ServerStats.Snapshot.decode(b.encode())).isEqualTo(b);
    ServerStats.Delta d = ServerStats.delta(ServerStats.Snapshot.decode(a.encode()), b);
    // 10,000 answers/s for 2 s: 200 ms of audit CPU is 10 µs per answer
    assertThat(d.describe(10_000)).contains("100.0 µs CPU/req (audit 10.0, JIT 5.0, GC 2.0)");
  }
}
