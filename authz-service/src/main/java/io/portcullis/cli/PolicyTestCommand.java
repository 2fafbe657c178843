package io.portcullis.cli;

import io.portcullis.policy.PolicyError;
import io.portcullis.policy.PolicyTests;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.time.InstantSource;
import java.util.Objects;
import java.util.concurrent.Callable;
import java.util.function.Function;
import org.jspecify.annotations.Nullable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

/**
 * {@code portcullis policy test POLICY CASES}: runs a policy's table tests offline ({@link
 * PolicyTests}) and prints one line per case, a diff for each failure and a summary line {@code N
 * passed, N failed}. Output goes to the command line's {@code out} writer, problems with the input
 * files and policy warnings to its {@code err} writer (both injectable with {@code
 * CommandLine.setOut/setErr}).
 */
@Command(
    name = "test",
    mixinStandardHelpOptions = true,
    exitCodeOnInvalidInput = PolicyTestCommand.USAGE_ERROR,
    description = "Run table tests of a policy without crypto or network.",
    exitCodeListHeading = "%nExit status:%n",
    exitCodeList = {
      "0:every case passed",
      "1-100:the number of failing cases (capped at 100)",
      "101:the policy or the cases file is invalid (problems are printed with file:line:column)",
      "102:invalid command-line arguments"
    })
public final class PolicyTestCommand implements Callable<Integer> {
  /**
   * Exit status for invalid command-line arguments (picocli's default 2 would read as 2 failures).
   */
  public static final int USAGE_ERROR = 102;

  @Parameters(index = "0", paramLabel = "POLICY", description = "the policy file")
  private @Nullable Path policy;

  @Parameters(index = "1", paramLabel = "CASES", description = "the cases file (YAML)")
  private @Nullable Path cases;

  @Spec private @Nullable CommandSpec spec;

  private final InstantSource clock;
  private final Function<String, @Nullable String> env;

  /** The command as the CLI runs it: system clock, process environment. */
  public PolicyTestCommand() {
    this(InstantSource.system(), System::getenv);
  }

  /**
   * A command with an injected clock and environment.
   *
   * @param env resolves {@code ${NAME}} in the policy file
   */
  public PolicyTestCommand(InstantSource clock, Function<String, @Nullable String> env) {
    this.clock = Objects.requireNonNull(clock, "clock");
    this.env = Objects.requireNonNull(env, "env");
  }

  @Override
  public Integer call() {
    CommandSpec s = Objects.requireNonNull(spec, "spec");
    PrintWriter out = s.commandLine().getOut();
    PrintWriter err = s.commandLine().getErr();
    PolicyTests.Report report =
        PolicyTests.create(clock, env)
            .run(Objects.requireNonNull(policy), Objects.requireNonNull(cases));
    switch (report) {
      case PolicyTests.Report.Invalid invalid -> {
        for (PolicyError e : invalid.problems()) {
          err.println(e.format());
        }
        long errors = invalid.problems().stream().filter(PolicyError::isError).count();
        err.println(errors + " error(s): no case was run");
      }
      case PolicyTests.Report.Ran ran -> {
        for (PolicyError w : ran.warnings()) {
          err.println(w.format());
        }
        for (PolicyTests.CaseResult r : ran.results()) {
          if (r.passed()) {
            out.println("PASS " + r.testCase().name());
          } else {
            out.println("FAIL " + r.testCase().name());
            out.println("  " + r.diff());
            if (!r.why().isEmpty()) {
              out.println("  why: " + r.why());
            }
            out.println("  at " + cases + ":" + r.testCase().line());
          }
        }
        out.println(ran.summary());
      }
    }
    out.flush();
    err.flush();
    return report.exitCode();
  }
}
