package io.portcullis.loadtest;

import java.io.IOException;
import java.lang.management.ManagementFactory;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.locks.LockSupport;

/** What the machine is and how busy it is (other engineers share it): for every reported figure. */
final class MachineInfo {
  private MachineInfo() {}

  /** The 1-minute load average ({@code /proc/loadavg}), or -1 when unknown. */
  static double loadAverage1() {
    return loadAverages()[0];
  }

  /** The 1-, 5- and 15-minute load averages. */
  static double[] loadAverages() {
    try {
      String[] p = Files.readString(Path.of("/proc/loadavg")).trim().split("\\s+");
      return new double[] {
        Double.parseDouble(p[0]), Double.parseDouble(p[1]), Double.parseDouble(p[2])
      };
    } catch (IOException | RuntimeException e) {
      double l = ManagementFactory.getOperatingSystemMXBean().getSystemLoadAverage();
      return new double[] {l, l, l};
    }
  }

  static String uptimeLine() {
    double[] l = loadAverages();
    return String.format("load average: %.2f, %.2f, %.2f", l[0], l[1], l[2]);
  }

  /**
   * Waits (bounded) until the 1-minute load average is at most {@code max}; returns the load
   * average it ended with (possibly still above {@code max} after {@code atMost}).
   */
  static double waitForQuiet(double max, Duration atMost) {
    long until = System.nanoTime() + atMost.toNanos();
    double l = loadAverage1();
    while (l > max && System.nanoTime() < until) {
      LockSupport.parkNanos(Duration.ofSeconds(5).toNanos());
      l = loadAverage1();
    }
    return l;
  }

  static String describe() {
    StringBuilder b = new StringBuilder();
    b.append("CPU: ").append(cpuModel()).append(", ");
    b.append(Runtime.getRuntime().availableProcessors()).append(" cores available; ");
    b.append("memory: ").append(memTotal()).append("; ");
    b.append("kernel: ")
        .append(System.getProperty("os.name"))
        .append(' ')
        .append(System.getProperty("os.version"))
        .append("; ");
    b.append("JDK: ")
        .append(System.getProperty("java.vm.name"))
        .append(' ')
        .append(System.getProperty("java.runtime.version"));
    return b.toString();
  }

  private static String cpuModel() {
    try {
      for (String line : Files.readAllLines(Path.of("/proc/cpuinfo"))) {
        if (line.startsWith("model name")) {
          return line.substring(line.indexOf(':') + 1).trim();
        }
      }
    } catch (IOException e) {
      // fall through
    }
    return System.getProperty("os.arch");
  }

  private static String memTotal() {
    try {
      List<String> lines = Files.readAllLines(Path.of("/proc/meminfo"));
      for (String line : lines) {
        if (line.startsWith("MemTotal:")) {
          long kb = Long.parseLong(line.replaceAll("[^0-9]", ""));
          return String.format("%.1f GiB", kb / 1048576.0);
        }
      }
    } catch (IOException | RuntimeException e) {
      // fall through
    }
    return "unknown";
  }
}
