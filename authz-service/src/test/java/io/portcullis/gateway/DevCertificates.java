package io.portcullis.gateway;

import static org.assertj.core.api.Assertions.assertThat;

import io.portcullis.testing.RepoRoot;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;

/** Runs {@code envoy/make-dev-certs.sh} (needs {@code openssl}) for tests. */
final class DevCertificates {
  private DevCertificates() {}

  /**
   * Writes the development certificates into {@code dir}; fails the test with the script output.
   */
  static void generate(Path dir) throws Exception {
    Process p =
        new ProcessBuilder(
                "bash", RepoRoot.resolve("envoy/make-dev-certs.sh").toString(), dir.toString())
            .redirectErrorStream(true)
            .start();
    boolean done = p.waitFor(120, TimeUnit.SECONDS);
    if (!done) {
      p.destroyForcibly();
    }
    String output = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    assertThat(done && p.exitValue() == 0)
        .as("envoy/make-dev-certs.sh (needs openssl on PATH) failed:%n%s", output)
        .isTrue();
  }
}
