package io.portcullis.policy;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import io.portcullis.identity.IdentityServices;
import io.portcullis.metrics.MetricNames;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.time.Duration;
import java.time.Instant;
import java.time.InstantSource;
import java.util.List;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The watcher against real files: edits of the policy and of a schema, editor-style replacement by
 * rename, a Kubernetes-style {@code ..data} symlink swap, the poll fallback, and invalid edits that
 * keep the running policy. Waits with Awaitility for the observable outcome, never sleeps.
 */
class PolicyWatcherTest {
  private static final String POLICY =
      """
      version: 1
      segments:
        - name: partners
          match: { credential: [api_key] }
          rules:
            - { name: create, methods: [POST], paths: ["%s"], body_schema: schemas/order.json }
      """;
  private static final String SCHEMA = "{\"type\": \"object\", \"required\": [\"%s\"]}";
  private static final Duration WAIT = Duration.ofSeconds(10);

  @TempDir Path dir;

  private final SimpleMeterRegistry registry = new SimpleMeterRegistry();
  private final PolicyLoader loader =
      PolicyLoader.create(
          IdentityServices.offline(), InstantSource.fixed(Instant.EPOCH), name -> null);
  private PolicyWatcher watcher;

  @AfterEach
  void stop() {
    if (watcher != null) {
      watcher.close();
    }
  }

  private LivePolicy live(Path policy) {
    LoadResult r = loader.load(policy);
    assertThat(r).as("%s", r).isInstanceOf(LoadResult.Loaded.class);
    return LivePolicy.start(loader, policy, (LoadResult.Loaded) r, registry);
  }

  private Path writePolicyFiles(Path where, String path, String required) throws IOException {
    Files.createDirectories(where.resolve("schemas"));
    Files.writeString(where.resolve("schemas/order.json"), SCHEMA.formatted(required));
    return Files.writeString(where.resolve("policy.yaml"), POLICY.formatted(path));
  }

  private double reloads(String result) {
    var c = registry.find(MetricNames.POLICY_RELOADS).tag(MetricNames.TAG_RESULT, result).counter();
    return c == null ? 0 : c.count();
  }

  private PolicyWatcher watch(LivePolicy live) throws IOException {
    watcher =
        PolicyWatcher.builder(live)
            .debounce(Duration.ofMillis(50))
            .pollInterval(Duration.ofSeconds(30))
            .start();
    return watcher;
  }

  /** Like {@link #watch}, polling every {@code poll}, on a fake clock that moves only by hand. */
  private PolicyWatcher watchOnClock(LivePolicy live, Duration poll, AtomicLong nanos)
      throws IOException {
    watcher =
        PolicyWatcher.builder(live)
            .debounce(Duration.ofMillis(50))
            .pollInterval(poll)
            .nanoTime(nanos::get)
            .start();
    return watcher;
  }

  private static List<String> firstRulePaths(LivePolicy live) {
    return live.get().segments().get(0).rules().get(0).paths().stream()
        .map(Object::toString)
        .toList();
  }

  @Test
  void editingThePolicyFile_reloadsTheNewVersion() throws IOException {
    Path policy = writePolicyFiles(dir, "/v1/orders", "sku");
    LivePolicy live = live(policy);
    String v1 = live.get().version();
    watch(live);

    Files.writeString(policy, POLICY.formatted("/v2/orders"));

    await().atMost(WAIT).until(() -> !live.get().version().equals(v1));
    assertThat(firstRulePaths(live)).containsExactly("/v2/orders");
    assertThat(live.status().lastReloadOk()).isTrue();
    assertThat(reloads("success")).isEqualTo(1.0);
    assertThat(reloads("error")).isZero();
  }

  @Test
  void editingASchemaFile_reloadsToo() throws IOException {
    Path policy = writePolicyFiles(dir, "/v1/orders", "sku");
    LivePolicy live = live(policy);
    String v1 = live.get().version();
    assertThat(live.dependencies()).contains(dir.resolve("schemas/order.json").toRealPath());
    watch(live);

    Files.writeString(dir.resolve("schemas/order.json"), SCHEMA.formatted("quantity"));

    await().atMost(WAIT).until(() -> !live.get().version().equals(v1));
    assertThat(reloads("success")).isEqualTo(1.0);
  }

  @Test
  void invalidEdit_keepsTheRunningPolicy_thenAFixLoads() throws IOException {
    Path policy = writePolicyFiles(dir, "/v1/orders", "sku");
    LivePolicy live = live(policy);
    Policy running = live.get();
    watch(live);

    Files.writeString(policy, POLICY.formatted("/v1/orders").replace("paths:", "pathz:"));

    await().atMost(WAIT).until(() -> reloads("error") >= 1.0);
    assertThat(live.get()).isSameAs(running);
    assertThat(live.status().lastReloadOk()).isFalse();
    assertThat(live.status().lastErrors())
        .extracting(PolicyError::field)
        .contains("segments[0].rules[0].pathz");

    // A broken schema is an invalid change too. The schema breaks first, so every state the
    // watcher can observe in between (including a half-written file) is invalid: a loaded
    // machine may reload between the two writes, or read a file mid-write.
    Files.writeString(dir.resolve("schemas/order.json"), "{\"type\": ");
    Files.writeString(policy, POLICY.formatted("/v1/orders"));
    await()
        .atMost(WAIT)
        .until(
            () ->
                live.status().lastErrors().stream()
                        .anyMatch(e -> (e.file() + e.message()).contains("order.json"))
                    && live.status().lastErrors().stream()
                        .noneMatch(e -> e.field().contains("pathz")));
    assertThat(reloads("error")).isGreaterThanOrEqualTo(2.0);
    assertThat(reloads("success")).isZero();
    assertThat(live.get()).isSameAs(running);

    Files.writeString(dir.resolve("schemas/order.json"), SCHEMA.formatted("note"));
    await().atMost(WAIT).until(() -> reloads("success") >= 1.0);
    assertThat(live.get().version()).isNotEqualTo(running.version());
    assertThat(live.status().lastReloadOk()).isTrue();
  }

  @Test
  void aMissingSchemaThatAppearsLater_isPickedUp() throws IOException {
    Path policy = writePolicyFiles(dir, "/v1/orders", "sku");
    LivePolicy live = live(policy);
    String v1 = live.get().version();
    watch(live);

    Files.writeString(policy, POLICY.formatted("/v1/orders").replace("order.json", "new.json"));
    await().atMost(WAIT).until(() -> reloads("error") >= 1.0);
    assertThat(live.dependencies()).contains(dir.resolve("schemas/new.json").toAbsolutePath());

    Files.writeString(dir.resolve("schemas/new.json"), SCHEMA.formatted("id"));
    await().atMost(WAIT).until(() -> reloads("success") >= 1.0);
    assertThat(live.get().version()).isNotEqualTo(v1);
  }

  @Test
  void editorReplacingTheFileByRename_reloads() throws IOException {
    Path policy = writePolicyFiles(dir, "/v1/orders", "sku");
    LivePolicy live = live(policy);
    String v1 = live.get().version();
    watch(live);

    Path swap = Files.writeString(dir.resolve(".policy.yaml.swp"), POLICY.formatted("/v3/orders"));
    Files.move(swap, policy, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);

    await().atMost(WAIT).until(() -> !live.get().version().equals(v1));
    assertThat(firstRulePaths(live)).containsExactly("/v3/orders");
  }

  @Test
  void kubernetesConfigMapSymlinkSwap_reloads() throws IOException {
    // /config/policy.yaml -> ..data/policy.yaml, /config/schemas -> ..data/schemas,
    // ..data -> ..v1; an update writes ..v2 and renames a new ..data link over the old one.
    Path config = Files.createDirectories(dir.resolve("config"));
    writePolicyFiles(config.resolve("..v1"), "/v1/orders", "sku");
    Files.createSymbolicLink(config.resolve("..data"), Path.of("..v1"));
    Files.createSymbolicLink(config.resolve("policy.yaml"), Path.of("..data/policy.yaml"));
    Files.createSymbolicLink(config.resolve("schemas"), Path.of("..data/schemas"));
    LivePolicy live = live(config.resolve("policy.yaml"));
    String v1 = live.get().version();
    watch(live);

    writePolicyFiles(config.resolve("..v2"), "/v2/orders", "quantity");
    Path tmp = Files.createSymbolicLink(config.resolve("..data_tmp"), Path.of("..v2"));
    Files.move(tmp, config.resolve("..data"), StandardCopyOption.ATOMIC_MOVE);

    await().atMost(WAIT).until(() -> !live.get().version().equals(v1));
    assertThat(firstRulePaths(live)).containsExactly("/v2/orders");
    assertThat(reloads("success")).isEqualTo(1.0);
  }

  @Test
  void withoutEvents_thePollNoticesTheChange() throws IOException {
    Path policy = writePolicyFiles(dir, "/v1/orders", "sku");
    LivePolicy live = live(policy);
    String v1 = live.get().version();
    // Events would only be looked at after an hour: only the poll can see the edit.
    watcher =
        PolicyWatcher.builder(live)
            .debounce(Duration.ofHours(1))
            .pollInterval(Duration.ofMillis(100))
            .start();

    Files.writeString(policy, POLICY.formatted("/v4/orders"));

    await().atMost(WAIT).until(() -> !live.get().version().equals(v1));
  }

  @Test
  void touchingWithoutChangingOrUnrelatedFiles_neverReloads() throws IOException {
    Path policy = writePolicyFiles(dir, "/v1/orders", "sku");
    LivePolicy live = live(policy);
    watcher =
        PolicyWatcher.builder(live)
            .debounce(Duration.ofMillis(20))
            .pollInterval(Duration.ofMillis(50))
            .start();

    Policy running = live.get();
    Files.writeString(policy, POLICY.formatted("/v1/orders"));
    Files.writeString(dir.resolve("notes.txt"), "unrelated");

    // Holds for the whole 600 ms, through several polls. (A poll that catches the rewrite
    // half-done may count an error reload; that never replaces the running policy.)
    await()
        .during(Duration.ofMillis(600))
        .atMost(WAIT)
        .until(() -> reloads("success") == 0.0 && live.get() == running);
  }

  @Test
  void requestReload_reloadsEvenWithoutAChange() throws IOException {
    Path policy = writePolicyFiles(dir, "/v1/orders", "sku");
    LivePolicy live = live(policy);
    watch(live).requestReload();

    await().atMost(WAIT).until(() -> reloads("success") >= 1.0);
    assertThat(live.status().lastReloadOk()).isTrue();
  }

  @Test
  void namedPipesNamedAsSchemas_neitherBlockNorStopTheWatcher() throws IOException {
    Path policyDir = Files.createDirectory(dir.resolve("policy"));
    Path policy = writePolicyFiles(policyDir, "/v1/orders", "sku");
    LivePolicy live = live(policy);
    String v1 = live.get().version();
    watch(live);
    // One pipe outside the policy directory, one inside: reading either would block the
    // watcher's only thread (and so every later reload) until something writes to it.
    LivePolicyTest.fifo(dir.resolve("x.fifo"));
    LivePolicyTest.fifo(policyDir.resolve("schemas/pipe.json"));

    Files.writeString(
        policy,
        POLICY.formatted("/v1/orders")
            + "      - { name: up, methods: [POST], paths: [\"/up\"], body_schema: ../x.fifo }\n"
            + "      - { name: in, methods: [POST], paths: [\"/in\"],"
            + " body_schema: schemas/pipe.json }\n");

    await().atMost(WAIT).until(() -> reloads("error") >= 1.0);
    assertThat(live.status().lastErrors())
        .extracting(PolicyError::message)
        .contains(
            "schema file '../x.fifo' is outside the policy directory",
            "schema file 'schemas/pipe.json' is not a regular file");
    assertThat(live.dependencies()).doesNotContain(dir.resolve("x.fifo").toAbsolutePath());

    Files.writeString(policy, POLICY.formatted("/v2/orders"));

    await().atMost(WAIT).until(() -> !live.get().version().equals(v1));
    assertThat(firstRulePaths(live)).containsExactly("/v2/orders");
  }

  @Test
  void anInPlaceWriteCaughtHalfDone_neverBecomesTheRunningPolicy() throws IOException {
    String allow =
        """
        version: 1
        segments:
          - name: partners
            match: { credential: [api_key] }
            rules:
              - { name: read, methods: [GET], paths: ["%s/**"] }
        """;
    String deny = "      - { name: no-admin, effect: deny, paths: [\"/v1/orders/admin/**\"] }\n";
    Path policy = Files.writeString(dir.resolve("policy.yaml"), allow.formatted("/v0") + deny);
    LivePolicy live = live(policy);
    Policy running = live.get();
    AtomicLong nanos = new AtomicLong();
    watchOnClock(live, Duration.ofMillis(20), nanos);

    // The writer has written everything but the deny rule, and the file still parses: a valid
    // but weaker policy. While the watcher's clock stands still it has not settled, whatever
    // the polls and events see meanwhile.
    Files.writeString(policy, allow.formatted("/v1/orders"));
    await()
        .during(Duration.ofMillis(300))
        .atMost(WAIT)
        .until(() -> live.get() == running && reloads("success") == 0.0);

    Files.writeString(policy, deny, StandardOpenOption.APPEND);
    await()
        .atMost(WAIT)
        .until(
            () -> {
              nanos.addAndGet(Duration.ofSeconds(1).toNanos());
              return live.get() != running;
            });

    assertThat(live.get().segments().get(0).rules())
        .extracting(r -> r.name())
        .containsExactly("read", "no-admin");
    assertThat(reloads("success")).isEqualTo(1.0);
    assertThat(reloads("error")).isZero();
  }

  @Test
  void aFileFinishedWhileAnInvalidSettledLoadRan_isLoadedNext() throws IOException {
    Path policy = writePolicyFiles(dir, "/v1/orders", "sku");
    LivePolicy live = live(policy);
    Policy running = live.get();
    watch(live);
    AtomicBoolean finished = new AtomicBoolean();
    // The writer fixes its broken draft while the watcher's load of that draft runs. The failed
    // load must be remembered as the draft's failure, not the fixed file's: the fix is new.
    watcher.afterSettledLoad =
        () -> {
          if (!live.status().lastReloadOk() && finished.compareAndSet(false, true)) {
            try {
              Files.writeString(policy, POLICY.formatted("/v2/orders"));
            } catch (IOException e) {
              throw new UncheckedIOException(e);
            }
          }
        };

    Files.writeString(policy, POLICY.formatted("/v1/orders").replace("paths:", "pathz:"));

    // within WAIT: long before the next poll (30 s), which is all that is left if it is not
    await().atMost(WAIT).until(() -> live.get() != running);
    assertThat(finished).isTrue();
    assertThat(firstRulePaths(live)).containsExactly("/v2/orders");
    assertThat(reloads("error")).isEqualTo(1.0);
    assertThat(reloads("success")).isEqualTo(1.0);
  }

  @Test
  void aSettleCheckThatFindsTheContentUnsettled_schedulesTheNextItself() throws IOException {
    Path policy = writePolicyFiles(dir, "/v1/orders", "sku");
    LivePolicy live = live(policy);
    Policy running = live.get();
    AtomicLong nanos = new AtomicLong();
    watchOnClock(live, Duration.ofHours(1), nanos);
    // The watcher's clock stands still until a settle re-check has found the new content not yet
    // settled, then jumps a second. Nothing writes after the edit and the poll is an hour away:
    // only a re-check scheduled by that re-check itself can see the content settled and load it.
    watcher.afterSettleCheck = () -> nanos.set(Duration.ofSeconds(1).toNanos());

    Files.writeString(policy, POLICY.formatted("/v2/orders"));

    await().atMost(WAIT).until(() -> live.get() != running);
    assertThat(firstRulePaths(live)).containsExactly("/v2/orders");
    assertThat(reloads("success")).isEqualTo(1.0);
  }
}
