package io.portcullis.loadtest;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.PrintWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.jspecify.annotations.Nullable;

/**
 * A {@link TargetServer} in a child JVM started from the generator's own class path, with a fixed
 * heap ({@code -Xmx}), G1 and a GC log, so that server CPU, heap and collections are measured apart
 * from the generator. Closing it stops the child (and kills it if it does not stop within 10 s).
 */
final class ServiceProcess implements ServerStats, AutoCloseable {
  private final Process process;
  private final BufferedReader out;
  private final PrintWriter in;
  private final int grpcPort;
  private final int httpPort;
  private final int adminPort;

  private ServiceProcess(Process process, BufferedReader out, PrintWriter in, String ready) {
    this.process = process;
    this.out = out;
    this.in = in;
    String[] p = ready.split(" ");
    this.grpcPort = Integer.parseInt(p[1]);
    this.httpPort = Integer.parseInt(p[2]);
    this.adminPort = Integer.parseInt(p[3]);
  }

  /**
   * Starts a child and waits until it listens.
   *
   * @param name file name stem for its log and GC log under {@code logDir}
   * @param heap the {@code -Xmx} value, e.g. {@code 256m}
   * @param cpus a {@code taskset -c} CPU list to pin the child to (its JVM then sizes its GC and
   *     thread pools for those CPUs), or empty for no pinning
   * @param jfr a JFR recording file, or {@code null}
   * @param args {@link TargetServer} options
   */
  static ServiceProcess start(
      String name, Path logDir, String heap, String cpus, @Nullable Path jfr, List<String> args)
      throws IOException {
    List<String> cmd = new ArrayList<>();
    if (!cpus.isBlank()) {
      cmd.addAll(List.of("taskset", "-c", cpus.strip()));
    }
    cmd.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
    cmd.add("-Xmx" + heap);
    cmd.add("-XX:+UseG1GC");
    cmd.add("-Xlog:gc:file=" + logDir.resolve(name + "-gc.log") + "::filecount=0");
    cmd.add("--enable-native-access=ALL-UNNAMED");
    // All JIT compiler threads start at once and none ends: a thread that ended would take its CPU
    // time with it, and the JIT figure of a run (ThreadGroupsCpu) must only ever grow.
    cmd.add("-XX:-UseDynamicNumberOfCompilerThreads");
    if (jfr != null) {
      cmd.add("-XX:StartFlightRecording=filename=" + jfr + ",settings=profile");
    }
    // A/B experiments on the server JVM: -Dloadtest.serverJvmArgs="-Dname=value -XX:..."
    String extra = System.getProperty("loadtest.serverJvmArgs", "").strip();
    if (!extra.isEmpty()) {
      cmd.addAll(List.of(extra.split("\\s+")));
    }
    cmd.add("-cp");
    cmd.add(System.getProperty("java.class.path"));
    cmd.add(LoadGenerator.class.getName());
    cmd.add("serve-target");
    cmd.addAll(args);
    Process p =
        new ProcessBuilder(cmd)
            .redirectError(ProcessBuilder.Redirect.appendTo(logDir.resolve(name + ".log").toFile()))
            .start();
    BufferedReader out =
        new BufferedReader(new InputStreamReader(p.getInputStream(), StandardCharsets.UTF_8));
    PrintWriter in = new PrintWriter(p.getOutputStream(), true, StandardCharsets.UTF_8);
    String line = out.readLine();
    // the JVM may print first (JFR's start-up message goes to stdout): skip to READY
    while (line != null && !line.startsWith("READY ")) {
      line = out.readLine();
    }
    if (line == null) {
      p.destroyForcibly();
      throw new IOException(
          "the " + name + " server did not start; see " + logDir.resolve(name + ".log"));
    }
    return new ServiceProcess(p, out, in, line);
  }

  /** The child's process id (taskset replaces itself with the JVM, so it is the JVM's). */
  long pid() {
    return process.pid();
  }

  int grpcPort() {
    return grpcPort;
  }

  int httpPort() {
    return httpPort;
  }

  int adminPort() {
    return adminPort;
  }

  @Override
  public synchronized Snapshot snapshot() {
    return command("stats");
  }

  /** Resets the after-GC maximum (start of a heap measurement). */
  synchronized Snapshot reset() {
    return command("reset");
  }

  /** Collects, then samples: heap used is then close to the live set. */
  synchronized Snapshot collect() {
    return command("gc");
  }

  private Snapshot command(String c) {
    in.println(c);
    try {
      // a server stuck in GC or dead must not hang the suite: give it 30 s to answer
      long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
      while (!out.ready()) {
        if (!process.isAlive()) {
          break;
        }
        if (System.nanoTime() > deadline) {
          process.destroyForcibly();
          throw new IllegalStateException("the server process did not answer within 30 s");
        }
        Thread.sleep(5);
      }
      String line = out.readLine();
      if (line == null) {
        throw new IllegalStateException("the server process has exited");
      }
      return Snapshot.decode(line);
    } catch (IOException e) {
      throw new IllegalStateException(e);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException(e);
    }
  }

  @Override
  public void close() {
    in.println("stop");
    in.close();
    try {
      if (!process.waitFor(10, TimeUnit.SECONDS)) {
        process.destroyForcibly().waitFor(5, TimeUnit.SECONDS);
      }
    } catch (InterruptedException e) {
      process.destroyForcibly();
      Thread.currentThread().interrupt();
    }
  }
}
