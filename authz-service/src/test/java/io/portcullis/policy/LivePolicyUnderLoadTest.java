package io.portcullis.policy;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import io.portcullis.decision.Decision;
import io.portcullis.decision.DecisionPipeline;
import io.portcullis.decision.Reason;
import io.portcullis.identity.IdentityServices;
import io.portcullis.metrics.MetricNames;
import io.portcullis.request.RequestAttributes;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.time.InstantSource;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;
import java.util.concurrent.atomic.LongAdder;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Hot reload under load: 100 reloads, valid and invalid alternating, while several threads decide a
 * probe request through {@link DecisionPipeline} + {@link LivePolicy}. Policies A and B decide the
 * probe differently; every decision must be exactly what the policy named by its own {@code
 * policyVersion} decides — never a mix, never an error, never the invalid file.
 */
class LivePolicyUnderLoadTest {
  private static final String A =
      """
      version: 1
      segments:
        - name: everyone
          rules:
            - { name: probe-a, methods: [GET], paths: ["/probe"] }
          limits: [{ name: per-ip, key: [ip], rate: 5/s }]
      """;
  private static final String B =
      """
      version: 1
      segments:
        - name: everyone
          rules:
            - { name: probe-b, effect: deny, paths: ["/probe"] }
          limits: [{ name: per-ip, key: [ip], rate: 5/s }]
      """;
  private static final String INVALID = A.replace("paths:", "pathz:");
  private static final int RELOADS = 100;
  private static final int THREADS = 4;

  @TempDir Path dir;

  /** What each policy decides for the probe: outcome, reason, rule. */
  private record Expected(String outcome, Reason reason, String rule) {}

  @Test
  void reloadsWhileDeciding_everyDecisionMatchesItsOwnPolicyVersion() throws Exception {
    PolicyLoader loader =
        PolicyLoader.create(
            IdentityServices.offline(), InstantSource.fixed(Instant.EPOCH), name -> null);
    Path file = dir.resolve("policy.yaml");
    Files.writeString(file, B);
    String versionB = ((LoadResult.Loaded) loader.load(file)).policy().version();
    Files.writeString(file, A);
    LoadResult.Loaded initial = (LoadResult.Loaded) loader.load(file);
    String versionA = initial.policy().version();
    Map<String, Expected> expected =
        Map.of(
            versionA, new Expected("allow", null, "probe-a"),
            versionB, new Expected("deny", Reason.DENIED_BY_RULE, "probe-b"));

    SimpleMeterRegistry registry = new SimpleMeterRegistry();
    LivePolicy live = LivePolicy.start(loader, file, initial, registry);
    DecisionPipeline pipeline = DecisionPipeline.builder().policy(live).build();
    RequestAttributes probe =
        RequestAttributes.builder().method("GET").path("/probe").sourceIp("203.0.113.7").build();

    AtomicBoolean stop = new AtomicBoolean();
    LongAdder decisions = new LongAdder();
    AtomicLong wrong = new AtomicLong();
    AtomicReference<String> firstWrong = new AtomicReference<>();
    Map<String, LongAdder> byVersion = new ConcurrentHashMap<>();
    List<Thread> threads = new ArrayList<>();
    for (int t = 0; t < THREADS; t++) {
      threads.add(
          Thread.ofPlatform()
              .name("decider-" + t)
              .start(
                  () -> {
                    while (!stop.get()) {
                      String problem;
                      try {
                        Decision d = pipeline.decide(probe);
                        String version = d.context().policyVersion();
                        byVersion.computeIfAbsent(version, v -> new LongAdder()).increment();
                        problem = mismatch(expected.get(version), d);
                      } catch (RuntimeException e) {
                        problem = "threw " + e;
                      }
                      if (problem != null) {
                        wrong.incrementAndGet();
                        firstWrong.compareAndSet(null, problem);
                      }
                      decisions.increment();
                    }
                  }));
    }

    long start = System.nanoTime();
    for (int i = 0; i < RELOADS; i++) {
      boolean valid = i % 2 == 0;
      // Valid reloads alternate B, A, B, A...; every other reload is an invalid file.
      String next = !valid ? INVALID : (i / 2) % 2 == 0 ? B : A;
      Files.writeString(file, next);
      LoadResult r = live.reload();
      assertThat(r instanceof LoadResult.Loaded).as("reload %d valid", i).isEqualTo(valid);
      String running = next.equals(B) ? versionB : next.equals(A) ? versionA : live.get().version();
      assertThat(live.get().version()).isEqualTo(running);
      // Let the deciders see this version before moving on, so reloads interleave with decisions.
      long seen = count(byVersion, running);
      await()
          .pollDelay(Duration.ZERO)
          .pollInterval(Duration.ofMillis(1))
          .atMost(Duration.ofSeconds(10))
          .until(() -> count(byVersion, running) > seen + THREADS);
    }
    await().atMost(Duration.ofSeconds(10)).until(() -> decisions.sum() >= 2_000);
    stop.set(true);
    for (Thread t : threads) {
      t.join();
    }
    double seconds = (System.nanoTime() - start) / 1e9;

    assertThat(wrong.get()).as("wrongly decided or failed: %s", firstWrong.get()).isZero();
    assertThat(byVersion.keySet()).containsExactlyInAnyOrder(versionA, versionB);
    assertThat(decisions.sum() / seconds).as("decisions per second").isGreaterThanOrEqualTo(2_000);
    assertThat(counter(registry, "success")).isEqualTo(RELOADS / 2.0);
    assertThat(counter(registry, "error")).isEqualTo(RELOADS / 2.0);
    assertThat(live.status().lastReloadOk()).isFalse(); // the last reload was an invalid one
  }

  private static long count(Map<String, LongAdder> byVersion, String version) {
    LongAdder a = byVersion.get(version);
    return a == null ? 0 : a.sum();
  }

  private static double counter(SimpleMeterRegistry registry, String result) {
    return registry
        .get(MetricNames.POLICY_RELOADS)
        .tag(MetricNames.TAG_RESULT, result)
        .counter()
        .count();
  }

  /** Why {@code d} is not what {@code e} says, or {@code null} if it is. */
  private static String mismatch(Expected e, Decision d) {
    if (e == null) {
      return "decided by an unknown policy version " + d.context().policyVersion();
    }
    String reason = d instanceof Decision.Deny x ? x.reason().code() : null;
    String want = e.reason() == null ? null : e.reason().code();
    if (!e.outcome().equals(d.outcome())
        || !java.util.Objects.equals(want, reason)
        || !e.rule().equals(d.context().rule())) {
      return d.context().policyVersion()
          + " expected "
          + e
          + ", got "
          + d.outcome()
          + " "
          + reason
          + " "
          + d.context().rule();
    }
    return null;
  }
}
