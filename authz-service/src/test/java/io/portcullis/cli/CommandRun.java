package io.portcullis.cli;

import java.io.PrintWriter;
import java.io.StringWriter;
import picocli.CommandLine;

/** Runs a picocli command in-process and captures its exit status, out and err. */
record CommandRun(int exit, String out, String err) {
  static CommandRun of(Object command, String... args) {
    return of(new CommandLine(command), args);
  }

  /** As {@link #of(Object, String...)}, for a command line whose commands the test configured. */
  static CommandRun of(CommandLine commandLine, String... args) {
    StringWriter out = new StringWriter();
    StringWriter err = new StringWriter();
    int exit =
        commandLine
            .setOut(new PrintWriter(out, true))
            .setErr(new PrintWriter(err, true))
            .execute(args);
    return new CommandRun(exit, out.toString(), err.toString());
  }

  java.util.List<String> outLines() {
    return out.lines().toList();
  }
}
