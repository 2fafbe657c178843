package io.portcullis.loadtest;

import io.portcullis.decision.Decision;
import io.portcullis.decision.DecisionContext;
import io.portcullis.decision.Reason;
import io.portcullis.decision.ResponseOptions;
import io.portcullis.decision.Responses;
import io.portcullis.identity.CredentialType;
import io.portcullis.identity.Identity;
import io.portcullis.request.Headers;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.util.Comparator;
import java.util.Set;
import java.util.SplittableRandom;
import java.util.stream.Stream;

/**
 * Decisions with the mix of a busy gateway, for the audit benchmarks: 20 segments of skewed
 * popularity, 100,000 principals (a few very active), 500 clients, 50,000 source addresses, ten
 * path families under {@code /v1}, {@code /v2}, {@code /internal} and {@code /health}; 85 % plain
 * allows, 2 % dry-run allows, 13 % denies (invalid_token 5 %, rate_limited 3 %, expired_token 2 %,
 * insufficient_permissions 1.5 %, no_matching_rule 1 %, ip_denied 0.5 %). Decision ids are
 * time-ordered like the UUIDv7 ids the service mints. Deterministic for a seed; not thread-safe.
 */
final class AuditBenchData {
  static final String[] SEGMENTS = new String[20];
  static final String[] PATHS = {
    "/v1/orders/", "/v1/orders", "/v1/customers/", "/v1/catalog/items/", "/v1/reports/daily",
    "/v2/pay", "/v2/refunds/", "/v2/invoices/", "/internal/metrics", "/health"
  };

  /** Cumulative weights (per mille) of {@link #PATHS}. */
  private static final int[] PATH_WEIGHTS = {350, 500, 620, 800, 820, 900, 930, 960, 965, 1000};

  static {
    for (int i = 0; i < SEGMENTS.length; i++) {
      SEGMENTS[i] = "segment-" + (char) ('a' + i);
    }
  }

  private final SplittableRandom random;
  private long counter;

  AuditBenchData(long seed) {
    this.random = new SplittableRandom(seed);
  }

  /** A principal: {@code user-0} is the most active, {@code user-99999} among the least. */
  static String principal(int n) {
    return "user-" + n;
  }

  /** The next decision, made at {@code time}. */
  Decision next(Instant time) {
    String id = decisionId(time);
    int segmentIndex = skewed(SEGMENTS.length);
    String segment = SEGMENTS[segmentIndex];
    int p = skewed(100_000);
    Identity identity =
        Identity.builder(p % 10 == 0 ? CredentialType.API_KEY : CredentialType.JWT, principal(p))
            .client("client-" + (p % 500))
            .build();
    String path = path();
    String method = random.nextInt(10) < 7 ? "GET" : random.nextInt(3) == 0 ? "DELETE" : "POST";
    String ip = "10." + (random.nextInt(50_000) >> 8) + "." + random.nextInt(256) + ".7";
    int roll = random.nextInt(1000);
    Reason deny =
        roll < 50
            ? Reason.INVALID_TOKEN
            : roll < 80
                ? Reason.RATE_LIMITED
                : roll < 100
                    ? Reason.EXPIRED_TOKEN
                    : roll < 115
                        ? Reason.INSUFFICIENT_PERMISSIONS
                        : roll < 125
                            ? Reason.NO_MATCHING_RULE
                            : roll < 130 ? Reason.IP_DENIED : null;
    boolean identified = deny != Reason.INVALID_TOKEN && deny != Reason.EXPIRED_TOKEN;
    boolean dryRun = deny == null && roll >= 980;
    String rule = deny == null || deny == Reason.RATE_LIMITED ? "rule-" + (p % 7) : null;
    DecisionContext c =
        new DecisionContext(
            id,
            time,
            "sha256:bench",
            method,
            "api.example.com",
            path,
            ip,
            null,
            identified ? identity : null,
            identified ? segment : null,
            rule,
            null,
            dryRun ? (roll % 2 == 0 ? segment : "rule-" + (p % 7)) : null,
            null,
            120_000);
    if (deny != null) {
      return new Decision.Deny(c, Responses.deny(id, deny, null, null), deny, "benchmark deny");
    }
    return new Decision.Allow(
        c,
        Responses.allow(
            id, identity, segment, Headers.empty(), ResponseOptions.DEFAULT, Set.of(), null),
        dryRun ? (roll % 2 == 0 ? Reason.INSUFFICIENT_PERMISSIONS : Reason.RATE_LIMITED) : null);
  }

  private String path() {
    int w = random.nextInt(1000);
    int i = 0;
    while (PATH_WEIGHTS[i] <= w) {
      i++;
    }
    String p = PATHS[i];
    return p.endsWith("/") ? p + random.nextInt(1_000_000) : p;
  }

  /** 0 most often, then 1, ...: about half the draws fall in the first tenth of {@code n}. */
  private int skewed(int n) {
    double u = random.nextDouble();
    return (int) Math.min(n - 1, Math.floor(n * u * u * u));
  }

  private String decisionId(Instant time) {
    long ms = time.toEpochMilli();
    long seq = counter++;
    StringBuilder b = new StringBuilder(36);
    String t = Long.toHexString(ms);
    b.append("0".repeat(Math.max(0, 12 - t.length()))).append(t);
    b.insert(8, '-').append("-7").append(hex(seq >>> 36, 3)).append('-');
    b.append(hex(0x8000 | (seq >>> 24 & 0x3fff), 4)).append('-').append(hex(seq, 12));
    return b.toString();
  }

  private static String hex(long v, int digits) {
    String h = Long.toHexString(v & ((1L << (4 * digits)) - 1));
    return "0".repeat(digits - h.length()) + h;
  }

  /** Deletes a benchmark's temporary directory and everything in it; failures are ignored. */
  static void deleteTree(Path dir) {
    try (Stream<Path> paths = Files.walk(dir)) {
      paths.sorted(Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
    } catch (IOException e) {
      // a leftover temporary directory is harmless
    }
  }
}
