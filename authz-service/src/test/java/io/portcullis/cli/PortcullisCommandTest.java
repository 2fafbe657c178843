package io.portcullis.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.io.PrintStream;
import java.io.PrintWriter;
import java.nio.charset.StandardCharsets;
import org.junit.jupiter.api.Test;

/** The writers {@code main} gives the commands: UTF-8 whatever the locale, errors still visible. */
class PortcullisCommandTest {

  @Test
  void output_isUtf8_evenWhenTheConsoleStreamIsAscii() {
    // System.out under the C/POSIX locale: a PrintStream encoding US-ASCII
    ByteArrayOutputStream bytes = new ByteArrayOutputStream();
    PrintStream asciiConsole = new PrintStream(bytes, true, StandardCharsets.US_ASCII);

    PrintWriter out = PortcullisCommand.writer(asciiConsole);
    out.print("{\"principal\":\"用户-é\"}");
    out.flush();

    assertThat(bytes.toString(StandardCharsets.UTF_8)).isEqualTo("{\"principal\":\"用户-é\"}");
  }

  @Test
  void aFailingStream_isReportedByCheckError() {
    // a closed pipe: System.out swallows the IOException and only sets its error flag
    OutputStream closedPipe =
        new OutputStream() {
          @Override
          public void write(int b) throws IOException {
            throw new IOException("Broken pipe");
          }
        };
    PrintWriter out = PortcullisCommand.writer(new PrintStream(closedPipe, true));

    out.println("a record");

    assertThat(out.checkError()).isTrue();
  }

  @Test
  void aCommandWhoseOutputCouldNotBeWritten_doesNotExit0() {
    OutputStream full =
        new OutputStream() {
          @Override
          public void write(int b) throws IOException {
            throw new IOException("No space left on device");
          }
        };
    ByteArrayOutputStream stderr = new ByteArrayOutputStream();

    int exit =
        PortcullisCommand.execute(
            new String[] {"--version"},
            new PrintStream(full, false, StandardCharsets.UTF_8),
            new PrintStream(stderr, true, StandardCharsets.UTF_8));

    assertThat(exit).isEqualTo(PortcullisCommand.OUTPUT_FAILED).isEqualTo(74);
    assertThat(stderr.toString(StandardCharsets.UTF_8))
        .contains("writing to standard output failed");
  }
}
