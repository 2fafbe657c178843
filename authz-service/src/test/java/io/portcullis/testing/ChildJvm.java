package io.portcullis.testing;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.function.Predicate;

/**
 * A real child JVM running a test class's {@code main} on the test classpath, for tests that need a
 * process to receive SIGTERM or SIGKILL. Its stdout is read line by line ({@link #awaitLine}); its
 * stderr (logs) goes to a file for post-mortems.
 */
public final class ChildJvm implements AutoCloseable {
  private final Process process;
  private final LinkedBlockingQueue<String> lines = new LinkedBlockingQueue<>();
  private final Path stderr;

  private ChildJvm(Process process, Path stderr) {
    this.process = process;
    this.stderr = stderr;
    Thread reader =
        new Thread(
            () -> {
              try (BufferedReader r =
                  new BufferedReader(
                      new InputStreamReader(process.getInputStream(), StandardCharsets.UTF_8))) {
                String line;
                while ((line = r.readLine()) != null) {
                  lines.add(line);
                }
              } catch (IOException e) {
                // the child died; awaitLine times out
              }
            },
            "child-stdout-" + process.pid());
    reader.setDaemon(true);
    reader.start();
  }

  /** Starts {@code java -cp <this test JVM's classpath> mainClass args...}. */
  public static ChildJvm start(Class<?> mainClass, Path stderr, String... args) throws IOException {
    String java = ProcessHandle.current().info().command().orElse("java");
    List<String> cmd = new ArrayList<>();
    cmd.add(java);
    cmd.add("--enable-native-access=ALL-UNNAMED");
    cmd.add("-Xmx256m");
    cmd.add("-cp");
    cmd.add(System.getProperty("java.class.path"));
    cmd.add(mainClass.getName());
    cmd.addAll(List.of(args));
    Process p =
        new ProcessBuilder(cmd)
            .redirectError(ProcessBuilder.Redirect.appendTo(stderr.toFile()))
            .start();
    return new ChildJvm(p, stderr);
  }

  /**
   * The next stdout line starting with {@code prefix} (earlier lines are skipped).
   *
   * @throws AssertionError if none arrives in time
   */
  public String awaitLine(String prefix, Duration timeout) throws InterruptedException {
    return awaitLine(line -> line.startsWith(prefix), "starting with '" + prefix + "'", timeout);
  }

  /**
   * The next stdout line containing {@code text} (earlier lines are skipped): a log line, whose
   * timestamp comes first.
   *
   * @throws AssertionError if none arrives in time
   */
  public String awaitLineContaining(String text, Duration timeout) throws InterruptedException {
    return awaitLine(line -> line.contains(text), "containing '" + text + "'", timeout);
  }

  private String awaitLine(Predicate<String> wanted, String what, Duration timeout)
      throws InterruptedException {
    long deadline = System.nanoTime() + timeout.toNanos();
    while (true) {
      long left = deadline - System.nanoTime();
      String line = left <= 0 ? null : lines.poll(left, TimeUnit.NANOSECONDS);
      if (line == null) {
        throw new AssertionError(
            "child "
                + process.pid()
                + " printed no line "
                + what
                + " within "
                + timeout
                + " (alive="
                + process.isAlive()
                + "; its log is in "
                + stderr
                + ")");
      }
      if (wanted.test(line)) {
        return line;
      }
    }
  }

  /**
   * SIGTERM (again each time): the JVM runs its shutdown hooks. Its stdout stays readable ({@link
   * Process#destroy()} would close it), so that what it logs while stopping can be awaited.
   */
  public void terminate() {
    process.toHandle().destroy();
  }

  /** SIGINT, as Ctrl-C at a terminal sends it. */
  public void interrupt() throws IOException, InterruptedException {
    Process kill = new ProcessBuilder("kill", "-INT", Long.toString(process.pid())).start();
    if (kill.waitFor() != 0) {
      throw new IOException("kill -INT " + process.pid() + " exited " + kill.exitValue());
    }
  }

  /** SIGKILL: no hooks, no flushing. */
  public void kill() {
    process.destroyForcibly();
  }

  /**
   * Waits for the child to exit.
   *
   * @return its exit code
   * @throws AssertionError if it is still running after {@code timeout}
   */
  public int awaitExit(Duration timeout) throws InterruptedException {
    if (!process.waitFor(timeout.toMillis(), TimeUnit.MILLISECONDS)) {
      throw new AssertionError("child " + process.pid() + " did not exit within " + timeout);
    }
    return process.exitValue();
  }

  @Override
  public void close() {
    process.destroyForcibly();
  }
}
