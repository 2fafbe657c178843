package io.portcullis.loadtest;

import java.io.IOException;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * CPU time of a server's own thread groups, read from {@code /proc/self/task/<tid>/stat} (Linux):
 * the audit log's threads, the JIT compilers and the garbage collector. Process CPU alone cannot
 * say whether an expensive run paid for its decisions, for writing their audit records, or for JIT
 * warm-up; these three can (RESULTS finding 11). Reading them costs a few hundred file reads, which
 * is why it is only done around a measurement. A thread that ended in between takes its time with
 * it, so the server JVM keeps its JIT compiler threads ({@code
 * -XX:-UseDynamicNumberOfCompilerThreads}, {@link ServiceProcess}); G1 keeps its workers. Elsewhere
 * than Linux every figure is 0.
 */
final class ThreadGroupsCpu {
  /** Clock ticks per second of the stat file's utime and stime (USER_HZ, 100 on Linux). */
  static final long TICKS_PER_SECOND = 100;

  /**
   * CPU nanoseconds so far of the audit log's threads ({@code portcullis-audit-*}, the SQLite
   * checkpointer), the JIT compiler threads and the GC threads.
   */
  record Times(long auditNanos, long jitNanos, long gcNanos) {
    static final Times NONE = new Times(0, 0, 0);
  }

  private ThreadGroupsCpu() {}

  static Times self() {
    return of(Path.of("/proc/self/task"));
  }

  /** The groups' CPU times from {@code tasks} (a {@code /proc/<pid>/task} directory). */
  static Times of(Path tasks) {
    if (!Files.isDirectory(tasks)) {
      return Times.NONE;
    }
    long audit = 0;
    long jit = 0;
    long gc = 0;
    try (DirectoryStream<Path> dir = Files.newDirectoryStream(tasks)) {
      for (Path task : dir) {
        String stat;
        try {
          stat = Files.readString(task.resolve("stat"));
        } catch (IOException e) {
          continue; // the thread ended while we looked
        }
        int open = stat.indexOf('(');
        int close = stat.lastIndexOf(')');
        if (open < 0 || close < open || close + 2 >= stat.length()) {
          continue;
        }
        String name = stat.substring(open + 1, close);
        // after ") ": state, ppid, pgrp, session, tty_nr, tpgid, flags, minflt, cminflt, majflt,
        // cmajflt, utime, stime (proc(5): fields 14 and 15)
        String[] f = stat.substring(close + 2).split(" ");
        if (f.length < 13) {
          continue;
        }
        long ticks;
        try {
          ticks = Long.parseLong(f[11]) + Long.parseLong(f[12]);
        } catch (NumberFormatException e) {
          continue;
        }
        switch (group(name)) {
          case AUDIT -> audit += ticks;
          case JIT -> jit += ticks;
          case GC -> gc += ticks;
          case OTHER -> {}
        }
      }
    } catch (IOException | RuntimeException e) {
      return Times.NONE;
    }
    long nanosPerTick = 1_000_000_000L / TICKS_PER_SECOND;
    return new Times(audit * nanosPerTick, jit * nanosPerTick, gc * nanosPerTick);
  }

  enum Group {
    AUDIT,
    JIT,
    GC,
    OTHER
  }

  /** The group of a thread by its (15-character, truncated) kernel name. */
  static Group group(String name) {
    if (name.startsWith("portcullis-audi") || name.startsWith("portcullis-sqli")) {
      return Group.AUDIT;
    }
    if (name.startsWith("C1 CompilerThre") || name.startsWith("C2 CompilerThre")) {
      return Group.JIT;
    }
    if (name.startsWith("GC Thread") || name.startsWith("G1 ")) {
      return Group.GC;
    }
    return Group.OTHER;
  }
}
