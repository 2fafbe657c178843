package io.portcullis.dist;

import static org.assertj.core.api.Assertions.assertThat;

import io.portcullis.testing.RepoRoot;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The distribution archive the build packages (authz-service/src/assembly/dist.xml) runs the same
 * commands as a source checkout (interfaces.md "CLI"): unpacked where no build exists, {@code
 * bin/portcullis} runs the packaged jar with its dependencies from {@code lib/}.
 */
class DistributionArchiveIT {
  @TempDir static Path unpacked;
  static Path root;

  @BeforeAll
  static void unpack() throws Exception {
    Path archive = RepoRoot.resolve("authz-service/target/portcullis-dist.tar.gz");
    assertThat(archive)
        .as("the build packages the archive before the integration tests (mvn verify)")
        .exists();
    Result tar = run(unpacked, List.of("tar", "-xzf", archive.toString()));
    assertThat(tar.exit()).as(tar.output()).isZero();
    try (var dirs = Files.list(unpacked)) {
      root =
          dirs.filter(p -> p.getFileName().toString().startsWith("portcullis-"))
              .findFirst()
              .orElseThrow();
    }
  }

  record Result(int exit, String output) {}

  static Result run(Path dir, List<String> command) throws IOException, InterruptedException {
    ProcessBuilder pb =
        new ProcessBuilder(command).directory(dir.toFile()).redirectErrorStream(true);
    pb.environment().put("JAVA_HOME", System.getProperty("java.home"));
    Process p = pb.start();
    String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    assertThat(p.waitFor(120, TimeUnit.SECONDS)).as("finished: " + command).isTrue();
    return new Result(p.exitValue(), out);
  }

  @Test
  void archive_holdsTheLauncherTheJarItsDependenciesAndTheExamples() {
    assertThat(root.resolve("bin/portcullis")).isExecutable();
    assertThat(root.resolve("lib/portcullis.jar")).isRegularFile();
    assertThat(root.resolve("examples/policy.yaml")).isRegularFile();
    assertThat(root.resolve("README.md")).isRegularFile();
    assertThat(root.resolve("authz-service")).doesNotExist(); // nothing to build from
  }

  @Test
  void version_isTheReleasedVersion_notADevelopmentBuild() throws Exception {
    String version = root.getFileName().toString().substring("portcullis-".length());
    Result v = run(root, List.of("bin/portcullis", "--version"));
    assertThat(v.exit()).as(v.output()).isZero();
    assertThat(v.output().strip()).isEqualTo("portcullis " + version);
  }

  @Test
  void policyCheck_runsFromTheArchive() throws Exception {
    Result ok = run(root, List.of("bin/portcullis", "policy", "check", "examples/policy.yaml"));
    assertThat(ok.exit()).as(ok.output()).isZero();
    assertThat(ok.output()).doesNotContain("building");

    Path bad = Files.writeString(unpacked.resolve("bad.yaml"), "version: 1\nsegments: 7\n");
    Result invalid = run(root, List.of("bin/portcullis", "policy", "check", bad.toString()));
    assertThat(invalid.exit()).as(invalid.output()).isNotZero();
    assertThat(invalid.output()).contains("bad.yaml:2");
  }
}
