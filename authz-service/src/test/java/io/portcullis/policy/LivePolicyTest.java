package io.portcullis.policy;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assertions.assertTimeoutPreemptively;

import io.portcullis.identity.IdentityServices;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.time.InstantSource;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class LivePolicyTest {
  private static final String GOOD =
      """
      version: 1
      segments:
        - name: public
          rules:
            - { name: status, paths: ["/v1/status"] }
          limits: [{ name: per-ip, key: [ip], rate: 5/s }]
      """;

  @TempDir Path dir;

  private final AtomicReference<Instant> now =
      new AtomicReference<>(Instant.parse("2026-11-22T10:00:00Z"));
  private final InstantSource clock = () -> now.get();

  @Test
  void reload_invalidPolicy_keepsTheLastGoodOneAndReportsWhy() throws IOException {
    Path file = Files.writeString(dir.resolve("policy.yaml"), GOOD);
    PolicyLoader loader = PolicyLoader.create(IdentityServices.offline(), clock, n -> null);
    LivePolicy live = LivePolicy.start(loader, file, (LoadResult.Loaded) loader.load(file));
    Policy first = live.get();
    assertThat(live.status().lastReloadOk()).isTrue();
    assertThat(live.status().version()).isEqualTo(first.version());
    assertThat(live.status().file()).isEqualTo(file.toString());
    assertThat(live.status().loadedAt()).isEqualTo(now.get());

    Files.writeString(file, GOOD.replace("paths:", "pathz:"));
    now.set(now.get().plus(Duration.ofMinutes(1)));
    LoadResult bad = live.reload();

    assertThat(bad).isInstanceOf(LoadResult.Invalid.class);
    assertThat(live.get()).isSameAs(first);
    LivePolicy.Status status = live.status();
    assertThat(status.lastReloadOk()).isFalse();
    assertThat(status.version()).isEqualTo(first.version());
    assertThat(status.loadedAt()).isEqualTo(first.loadedAt());
    assertThat(status.lastErrors())
        .extracting(PolicyError::field)
        .contains("segments[0].rules[0].pathz", "segments[0].rules[0].paths");

    Files.writeString(file, GOOD.replace("/v1/status", "/v1/health"));
    LoadResult good = live.reload();

    assertThat(good).isInstanceOf(LoadResult.Loaded.class);
    Policy second = live.get();
    assertThat(second).isNotSameAs(first);
    assertThat(second.version()).isNotEqualTo(first.version());
    assertThat(second.segments().get(0).rules().get(0).paths())
        .extracting(Object::toString)
        .containsExactly("/v1/health");
    assertThat(live.status().lastReloadOk()).isTrue();
    assertThat(live.status().lastErrors()).isEmpty();
    assertThat(live.status().loadedAt()).isEqualTo(now.get());
  }

  @Test
  void reload_deletedFile_keepsTheRunningPolicy() throws IOException {
    Path file = Files.writeString(dir.resolve("policy.yaml"), GOOD);
    PolicyLoader loader = PolicyLoader.create(IdentityServices.offline(), clock, n -> null);
    LivePolicy live = LivePolicy.start(loader, file, (LoadResult.Loaded) loader.load(file));
    Policy first = live.get();
    Files.delete(file);

    assertThat(live.reload()).isInstanceOf(LoadResult.Invalid.class);
    assertThat(live.get()).isSameAs(first);
    assertThat(live.status().lastErrors())
        .singleElement()
        .satisfies(e -> assertThat(e.message()).contains("does not exist"));
  }

  /** A policy whose rule {@code /a} validates its body against {@code schema}. */
  private static String withSchema(String schema) {
    return GOOD.replace(
        "- { name: status, paths: [\"/v1/status\"] }",
        "- { name: status, paths: [\"/v1/status\"] }\n"
            + "      - { name: a, methods: [POST], paths: [\"/a\"], body_schema: \""
            + schema
            + "\" }");
  }

  /** Makes a named pipe: reading it blocks until someone writes. */
  static Path fifo(Path path) throws IOException {
    try {
      int exit = new ProcessBuilder("mkfifo", path.toString()).inheritIO().start().waitFor();
      assertThat(exit).as("mkfifo %s", path).isZero();
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IOException(e);
    }
    return path;
  }

  @Test
  void reload_schemaOutsideThePolicyDirectory_isNeverADependency() throws IOException {
    Path policyDir = Files.createDirectory(dir.resolve("policy"));
    Files.writeString(dir.resolve("outside.json"), "{}");
    Path file = Files.writeString(policyDir.resolve("policy.yaml"), GOOD);
    PolicyLoader loader = PolicyLoader.create(IdentityServices.offline(), clock, n -> null);
    LivePolicy live = LivePolicy.start(loader, file, (LoadResult.Loaded) loader.load(file));

    for (String outside : new String[] {"/dev/zero", "../outside.json", "schemas/../../x.json"}) {
      Files.writeString(file, withSchema(outside));

      assertThat(live.reload()).as(outside).isInstanceOf(LoadResult.Invalid.class);
      assertThat(live.status().lastErrors())
          .extracting(PolicyError::message)
          .anyMatch(m -> m.contains(outside));
      assertThat(live.dependencies())
          .as("dependencies after body_schema: %s", outside)
          .allMatch(p -> p.toAbsolutePath().normalize().startsWith(policyDir.toAbsolutePath()));
    }
  }

  @Test
  void reload_namedPipeAsSchema_isRefusedNotWaitedFor() throws IOException {
    Path file = Files.writeString(dir.resolve("policy.yaml"), GOOD);
    PolicyLoader loader = PolicyLoader.create(IdentityServices.offline(), clock, n -> null);
    LivePolicy live = LivePolicy.start(loader, file, (LoadResult.Loaded) loader.load(file));
    Policy running = live.get();
    fifo(Files.createDirectory(dir.resolve("schemas")).resolve("pipe.json"));
    Files.writeString(file, withSchema("schemas/pipe.json"));

    LoadResult r = assertTimeoutPreemptively(Duration.ofSeconds(5), () -> live.reload());

    assertThat(r).isInstanceOf(LoadResult.Invalid.class);
    assertThat(live.get()).isSameAs(running);
    assertThat(live.status().lastErrors())
        .singleElement()
        .satisfies(
            e -> {
              assertThat(e.field()).isEqualTo("segments[0].rules[1].body_schema");
              assertThat(e.message())
                  .isEqualTo("schema file 'schemas/pipe.json' is not a regular file");
            });
  }
}
