package io.portcullis.dist;

import static org.assertj.core.api.Assertions.assertThat;

import io.portcullis.testing.RepoRoot;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The distribution archive the build packages (authz-service/src/assembly/dist.xml) runs the same
 * commands as a source checkout (interfaces.md "CLI"): unpacked where no build exists, {@code
 * bin/portcullis} runs the packaged jar with its dependencies from {@code lib/}.
 */
class DistributionArchiveIT {
  /** {@code [text](target)}: the target of an inline Markdown link. */
  private static final Pattern MARKDOWN_LINK = Pattern.compile("\\]\\(([^)\\s]+)\\)");

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
    Result v = run(root, List.of("bin/portcullis", "--version"));
    assertThat(v.exit()).as(v.output()).isZero();
    assertThat(v.output().strip()).isEqualTo("portcullis " + version());
  }

  @Test
  void everyRelativeLinkOfItsMarkdown_resolvesInsideTheArchive() throws Exception {
    List<String> broken = new ArrayList<>();
    int checked = 0;
    try (Stream<Path> files = Files.walk(root)) {
      for (Path md : files.filter(p -> p.toString().endsWith(".md")).toList()) {
        Matcher m = MARKDOWN_LINK.matcher(Files.readString(md));
        while (m.find()) {
          String target = m.group(1).replaceFirst("#.*", "");
          if (target.isEmpty() || target.matches("^[a-z]+:.*")) {
            continue; // a fragment of the same page, or https:, mailto:
          }
          checked++;
          Path resolved = md.getParent().resolve(target).normalize();
          if (!resolved.startsWith(root) || !Files.exists(resolved)) {
            broken.add(root.relativize(md) + " -> " + m.group(1));
          }
        }
      }
    }
    assertThat(broken).as("links to files the archive lacks").isEmpty();
    assertThat(checked).as("links checked").isGreaterThan(10);
  }

  @Test
  void dockerComposeWalkthrough_hasItsFiles_andNoDevelopmentKeys() {
    // envoy/README.md, "docker compose": docker-compose.yml builds the root Dockerfile.
    for (String f : List.of("docker-compose.yml", "Dockerfile", ".dockerignore", "CHANGELOG.md")) {
      assertThat(root.resolve(f)).as(f).isRegularFile();
    }
    assertThat(root.resolve("envoy/make-dev-certs.sh")).isExecutable();
    assertThat(root.resolve("envoy/certs")).doesNotExist();
  }

  /**
   * The Dockerfile's build stage, run as a shell script in the unpacked archive (no Docker here):
   * with no sources to build, it takes the archive's jars, and the jar it puts in place runs with
   * its dependencies beside it, as the image's launcher runs it.
   */
  @Test
  void dockerfileBuildStage_takesTheArchivesJars() throws Exception {
    String dockerfile = Files.readString(root.resolve("Dockerfile"));
    Matcher instruction =
        Pattern.compile("(?s)\nRUN --mount=\\S+ \\\\\n(.*?[^\\\\])\n").matcher(dockerfile);
    assertThat(instruction.find()).as("the build stage's RUN instruction").isTrue();
    Path out = unpacked.resolve("image-out");
    String script = instruction.group(1).replace("\\\n", " ").replace("/out", out.toString());
    Result built = run(root, List.of("sh", "-c", script));
    assertThat(built.exit()).as(built.output()).isZero();

    try (Stream<Path> lib = Files.list(root.resolve("lib"));
        Stream<Path> copied = Files.list(out.resolve("lib"))) {
      assertThat(copied.map(p -> p.getFileName().toString()))
          .containsExactlyInAnyOrderElementsOf(
              lib.map(p -> p.getFileName().toString())
                  .filter(n -> !n.equals("portcullis.jar"))
                  .toList());
    }
    String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
    Result v =
        run(out, List.of(java, "-jar", out.resolve("portcullis.jar").toString(), "--version"));
    assertThat(v.exit()).as(v.output()).isZero();
    assertThat(v.output()).contains("portcullis " + version());
  }

  private static String version() {
    return root.getFileName().toString().substring("portcullis-".length());
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
