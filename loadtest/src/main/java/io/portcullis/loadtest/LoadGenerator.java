package io.portcullis.loadtest;

import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import org.jspecify.annotations.Nullable;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * Portcullis's open-loop load generator. Every run targets loopback only, is bounded in time and
 * stops by itself.
 *
 * <pre>
 * java -jar loadtest/target/benchmarks.jar ...   (JMH)
 * java -cp loadtest/target/benchmarks.jar io.portcullis.loadtest.LoadGenerator suite --quick
 * ... LoadGenerator run --scenario cached-jwt --rate 5000 --duration 10s
 * ... LoadGenerator capacity --scenario mixed --p99 5
 * ... LoadGenerator limiters --concurrency 16
 * </pre>
 */
@Command(
    name = "loadgen",
    mixinStandardHelpOptions = true,
    description = "Open-loop load generator and benchmark suite for Portcullis (loopback only).",
    subcommands = {
      LoadGenerator.Run.class,
      LoadGenerator.Capacity.class,
      LoadGenerator.Limiters.class,
      Suite.class,
      TargetServer.class
    })
public final class LoadGenerator implements Runnable {
  @CommandLine.Spec CommandLine.Model.CommandSpec spec;

  public static void main(String[] args) {
    System.setProperty("java.awt.headless", "true");
    int code = new CommandLine(new LoadGenerator()).execute(args);
    System.exit(code);
  }

  @Override
  public void run() {
    spec.commandLine().usage(System.out);
  }

  /** Options shared by the commands that drive a scenario. */
  static class Common {
    @Option(names = "--warmup", defaultValue = "5s", description = "Warm-up per run (excluded).")
    String warmup;

    @Option(names = "--duration", defaultValue = "10s", description = "Measured time per run.")
    String duration;

    @Option(names = "--out", defaultValue = "loadtest/results", description = "Output directory.")
    Path out;

    @Option(names = "--server-heap", defaultValue = "256m", description = "Server -Xmx.")
    String serverHeap;

    @Option(names = "--redis", defaultValue = "redis://127.0.0.1:6379")
    String redis;

    @Option(names = "--jfr", description = "Record the server with JFR into OUT/<scenario>.jfr.")
    boolean jfr;

    @Option(
        names = "--server-cpus",
        defaultValue = "",
        description =
            "Pin each server JVM to these CPUs (a taskset -c list, e.g. 1). Start the generator"
                + " under taskset -c on the others, so generator and server never share a core.")
    String serverCpus;

    @Option(
        names = "--store-url",
        description =
            "Audit log and key store of every Portcullis server (its store.url), e.g."
                + " jdbc:postgresql://127.0.0.1:5432/test; default: SQLite in the run's data"
                + " directory. The empty server has none.")
    @Nullable String storeUrl;

    /** {@code args} for a server, with {@code --store-url} added to a Portcullis server's. */
    List<String> serverArgs(List<String> args) {
      if (storeUrl == null || !args.contains("portcullis")) {
        return args;
      }
      List<String> a = new ArrayList<>(args);
      a.add("--store-url");
      a.add(storeUrl);
      return a;
    }

    Duration warmUp() {
      return parse(warmup);
    }

    Duration measure() {
      return parse(duration);
    }
  }

  /** {@code 500ms}, {@code 10s}, {@code 2m}. */
  static Duration parse(String s) {
    String v = s.trim().toLowerCase(java.util.Locale.ROOT);
    if (v.endsWith("ms")) {
      return Duration.ofMillis(Long.parseLong(v.substring(0, v.length() - 2)));
    }
    if (v.endsWith("s")) {
      return Duration.ofMillis((long) (Double.parseDouble(v.substring(0, v.length() - 1)) * 1000));
    }
    if (v.endsWith("m")) {
      return Duration.ofSeconds(Long.parseLong(v.substring(0, v.length() - 1)) * 60);
    }
    return Duration.ofSeconds(Long.parseLong(v));
  }

  @Command(name = "run", mixinStandardHelpOptions = true, description = "One scenario at a rate.")
  static final class Run implements Callable<Integer> {
    @CommandLine.Mixin Common common = new Common();

    @Option(names = "--scenario", required = true)
    String scenario;

    @Option(names = "--rate", required = true, description = "Requests per second.")
    double rate;

    @Override
    public Integer call() throws Exception {
      try (Suite.Session s = Suite.Session.open(common)) {
        RunResult r = s.fixedRate(s.scenario(scenario), rate);
        return r.errors() == 0 ? 0 : 1;
      }
    }
  }

  @Command(
      name = "capacity",
      mixinStandardHelpOptions = true,
      description = "Highest rate meeting a p99 target (step up, then bisect).")
  static final class Capacity implements Callable<Integer> {
    @CommandLine.Mixin Common common = new Common();

    @Option(names = "--scenario", required = true)
    String scenario;

    @Option(names = "--p99", defaultValue = "5", description = "p99 target in ms.")
    double p99;

    @Option(names = "--start", defaultValue = "2000")
    double start;

    @Option(names = "--bisections", defaultValue = "4")
    int bisections;

    @Override
    public Integer call() throws Exception {
      try (Suite.Session s = Suite.Session.open(common)) {
        CapacitySearch.Result r =
            s.capacity(s.scenario(scenario), new CapacitySearch(p99, start, 1.5, bisections, 12));
        System.out.printf("capacity of %s at p99 <= %.1f ms: %.0f/s%n", scenario, p99, r.rate());
        return 0;
      }
    }
  }

  @Command(
      name = "limiters",
      mixinStandardHelpOptions = true,
      description = "Portcullis RedisGcraLimiter vs Bucket4j vs Redisson RRateLimiter.")
  static final class Limiters implements Callable<Integer> {
    @CommandLine.Mixin Common common = new Common();

    @Option(names = "--concurrency", defaultValue = "16")
    int concurrency;

    @Option(names = "--keys", defaultValue = "10000")
    int keys;

    @Override
    public Integer call() throws Exception {
      try (Suite.Session s = Suite.Session.open(common)) {
        s.limiterComparison(concurrency, keys);
        System.out.println(s.report().limiterTable());
        return 0;
      }
    }
  }
}
