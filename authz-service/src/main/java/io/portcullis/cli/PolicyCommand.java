package io.portcullis.cli;

import io.portcullis.identity.IdentityServices;
import io.portcullis.policy.LoadResult;
import io.portcullis.policy.PolicyError;
import io.portcullis.policy.PolicyLoader;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.time.InstantSource;
import java.util.concurrent.Callable;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Parameters;

/** {@code portcullis policy check|test}. */
@Command(
    name = "policy",
    description = "Validate and test policy files.",
    mixinStandardHelpOptions = true,
    subcommands = {PolicyCommand.Check.class, PolicyTestCommand.class})
public final class PolicyCommand implements Runnable {
  @CommandLine.Spec CommandLine.Model.CommandSpec spec;

  @Override
  public void run() {
    spec.commandLine().usage(spec.commandLine().getOut());
  }

  /**
   * {@code portcullis policy check policy.yaml}: every error and warning with file, line and
   * column; exit 0 when the policy is valid (warnings allowed), 1 when it is not.
   */
  @Command(
      name = "check",
      description = "Validate a policy file; print every problem with file:line:column.",
      mixinStandardHelpOptions = true)
  static final class Check implements Callable<Integer> {
    @CommandLine.Spec CommandLine.Model.CommandSpec spec;

    @Parameters(index = "0", paramLabel = "POLICY", description = "The policy file.")
    Path policy;

    @Override
    public Integer call() {
      PrintWriter out = spec.commandLine().getOut();
      PrintWriter err = spec.commandLine().getErr();
      LoadResult r =
          PolicyLoader.create(IdentityServices.offline(), InstantSource.system(), System::getenv)
              .load(policy);
      return switch (r) {
        case LoadResult.Loaded loaded -> {
          for (PolicyError w : loaded.warnings()) {
            out.println(w.format());
          }
          out.printf(
              "%s: valid (version %s, %d segments%s)%n",
              policy,
              loaded.policy().version(),
              loaded.policy().segments().size(),
              loaded.warnings().isEmpty() ? "" : ", " + loaded.warnings().size() + " warnings");
          yield 0;
        }
        case LoadResult.Invalid invalid -> {
          for (PolicyError e : invalid.errors()) {
            err.println(e.format());
          }
          long n = invalid.errors().stream().filter(PolicyError::isError).count();
          err.printf("%s: invalid (%d error%s)%n", policy, n, n == 1 ? "" : "s");
          yield 1;
        }
      };
    }
  }
}
