package io.portcullis.cli;

import io.portcullis.Portcullis;
import io.portcullis.config.RuntimeConfig;
import io.portcullis.config.RuntimeConfigLoader;
import io.portcullis.policy.PolicyError;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.atomic.AtomicReference;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * {@code portcullis serve [--config portcullis.yaml] [--policy policy.yaml]}: runs the service
 * until SIGTERM/SIGINT, then drains: health NOT_SERVING while still serving for {@code
 * server.shutdown_delay} (a second signal ends that wait), then in-flight calls finish and the
 * audit is flushed ({@link Portcullis#close}). Without {@code --config} it runs on the embedded
 * defaults.
 */
@Command(
    name = "serve",
    description = "Run the service (ext_authz gRPC, forward-auth HTTP, admin).",
    mixinStandardHelpOptions = true)
public final class ServeCommand implements Callable<Integer> {
  @CommandLine.Spec CommandLine.Model.CommandSpec spec;

  @Option(names = "--config", paramLabel = "FILE", description = "Runtime configuration file.")
  Path config;

  @Option(
      names = "--policy",
      paramLabel = "FILE",
      description = "Policy file (overrides policy.file).")
  Path policy;

  @Override
  public Integer call() throws InterruptedException {
    PrintWriter err = spec.commandLine().getErr();
    RuntimeConfig runtime;
    if (config != null) {
      switch (RuntimeConfigLoader.load(config, policy, System::getenv)) {
        case RuntimeConfigLoader.Loaded loaded -> runtime = loaded.config();
        case RuntimeConfigLoader.Invalid invalid -> {
          for (PolicyError e : invalid.errors()) {
            err.println(e.format());
          }
          err.println(config + ": invalid configuration");
          return 2;
        }
      }
    } else {
      // interfaces.md: both flags are optional; the policy defaults to ./policy.yaml
      runtime = RuntimeConfig.defaults(policy != null ? policy : Path.of("policy.yaml"));
    }
    // The hook and the signal handlers are in place before the service starts, so a SIGTERM that
    // follows "Portcullis ready" at once (a supervisor, a test) drains the service and a second one
    // ends the delay: installed after start, such a signal met the JVM's own handler, which exited
    // without closing the service, or left a second signal nothing to end the wait with.
    AtomicReference<Portcullis> running = new AtomicReference<>();
    CountDownLatch stopped = new CountDownLatch(1);
    Runtime.getRuntime()
        .addShutdownHook(
            new Thread(
                () -> {
                  Portcullis s = running.get();
                  if (s != null) {
                    s.close();
                  }
                  stopped.countDown();
                },
                "portcullis-shutdown"));
    StopSignals.install(
        () -> {
          Portcullis s = running.get();
          if (s != null) {
            s.endShutdownDelay();
          }
        });
    try {
      running.set(Portcullis.start(runtime, System::getenv));
    } catch (Portcullis.StartupException e) {
      err.println(e.getMessage());
      return 1;
    }
    stopped.await();
    return 0;
  }
}
