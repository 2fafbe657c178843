package io.portcullis.cli;

import java.io.PrintStream;
import java.io.PrintWriter;
import java.nio.charset.StandardCharsets;
import picocli.CommandLine;
import picocli.CommandLine.Command;

/**
 * The {@code portcullis} command line (interfaces.md "CLI"). Every subcommand returns its exit
 * status from {@code call()}; output goes to picocli's writers so tests can capture it.
 */
@Command(
    name = "portcullis",
    mixinStandardHelpOptions = true,
    versionProvider = PortcullisCommand.Version.class,
    description = "Policy decision service for API gateways.",
    subcommands = {
      ServeCommand.class,
      PolicyCommand.class,
      ExplainCommand.class,
      KeysCommand.class,
      AuditCommand.class,
      CommandLine.HelpCommand.class,
    })
public final class PortcullisCommand implements Runnable {
  @CommandLine.Spec CommandLine.Model.CommandSpec spec;

  @Override
  public void run() {
    spec.commandLine().usage(spec.commandLine().getOut());
  }

  public static void main(String[] args) {
    System.exit(execute(args, System.out, System.err));
  }

  /**
   * Runs the command line on the process's streams, as {@link #main} does, and flushes both writers
   * before it returns the exit status: a {@link PrintWriter} flushes itself only on {@code
   * println}, and {@code System.exit} does not flush it, so output written with {@code print} (CSV
   * rows end in CRLF) was lost or cut at the buffer's size.
   */
  static int execute(String[] args, PrintStream out, PrintStream err) {
    PrintWriter o = writer(out);
    PrintWriter e = writer(err);
    try {
      int status = run(args, o, e);
      // A print writer swallows a failed write (a full disk, a closed pipe) into its error flag:
      // a command that succeeded but whose output was lost must not exit 0 (a cron job's CSV).
      if (o.checkError() && status == 0) {
        e.println("portcullis: writing to standard output failed; the output is incomplete");
        return OUTPUT_FAILED;
      }
      return status;
    } finally {
      o.flush();
      e.flush();
    }
  }

  /** Exit status of a command that succeeded but could not write its output (EX_IOERR). */
  static final int OUTPUT_FAILED = 74;

  /**
   * A writer that encodes UTF-8 onto {@code stream}, whatever the locale: JSON and CSV are UTF-8,
   * and {@code System.out} encodes in the locale's charset, which under the C/POSIX locale of most
   * containers and cron jobs is ASCII, so a principal {@code 用户} came out as {@code ??}. The
   * wrapped stream stays a {@link PrintStream} under the writer: a print stream never throws, a
   * failed write (a closed pipe, a full disk) only sets its error flag, and {@link
   * PrintWriter#checkError()} consults it through the chain of print streams, which is how {@code
   * audit export} learns that its output was lost before it moves its checkpoint (a writer over an
   * {@code OutputStreamWriter} of the stream would not, and would report success).
   */
  static PrintWriter writer(PrintStream stream) {
    return new PrintWriter(new PrintStream(stream, true, StandardCharsets.UTF_8), true);
  }

  /** Runs the command line with the given writers; returns the exit status. */
  public static int run(String[] args, PrintWriter out, PrintWriter err) {
    CommandLine cli = new CommandLine(new PortcullisCommand());
    cli.setOut(out);
    cli.setErr(err);
    return cli.execute(args);
  }

  /** The version from the jar manifest. */
  static final class Version implements CommandLine.IVersionProvider {
    @Override
    public String[] getVersion() {
      String v = PortcullisCommand.class.getPackage().getImplementationVersion();
      return new String[] {"portcullis " + (v == null ? "development build" : v)};
    }
  }
}
