package io.portcullis.policy;

import io.portcullis.decision.DecideOptions;
import io.portcullis.decision.Decision;
import io.portcullis.decision.DecisionPipeline;
import io.portcullis.decision.Reason;
import io.portcullis.decision.Trace;
import io.portcullis.identity.IdentityServices;
import io.portcullis.limit.RateLimiter;
import java.nio.file.Path;
import java.time.InstantSource;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.function.Function;
import org.jspecify.annotations.Nullable;

/**
 * {@code portcullis policy test policy.yaml cases.yaml}: table tests of a policy, without crypto or
 * network (spec "Policy tests").
 *
 * <p>The policy is loaded with {@link IdentityServices#offline()}. Each case gives a request and,
 * usually, an already-verified identity ({@link ProbeReader} describes both); the pipeline runs
 * with that identity in place of credential verification. A case without {@code identity} is
 * identified as a real request would be, offline: no credential is {@code anonymous}, a bearer
 * token or API key is rejected ({@code invalid_token}, {@code unknown_key}), and an mTLS peer
 * ({@code source_principal}) is checked against the policy's trust domains.
 *
 * <p>Limits never deny in policy tests: the pipeline runs with {@link RateLimiter#unlimited()}, so
 * no case consumes anything another case sees and the order of cases never matters ({@code
 * rate_limited} and {@code quota_exceeded} cannot be expected). Source protection is off and
 * nothing is audited.
 *
 * <p>Expectations ({@code expect}) compare only what they give: {@code decision} (allow | deny),
 * {@code reason} (a reason code), {@code segment}, {@code rule}, {@code status} (the HTTP status;
 * 200 for an allow) and {@code dry_run_reason}. {@code "-"} expects the value to be absent (no
 * rule, no segment, no reason); an allow has no {@code reason}, a deny no {@code dry_run_reason}.
 *
 * <p>Exit status ({@link Report#exitCode()}): the number of failing cases capped at {@value
 * #MAX_FAILURES_EXIT}; {@value #INVALID_INPUT} when the policy or the cases file is invalid (every
 * problem is reported with file:line:column). Thread-safe: each {@link #run} is independent.
 */
public final class PolicyTests {
  /** The exit status for an invalid policy or cases file. */
  public static final int INVALID_INPUT = 101;

  /** Exit statuses for failing cases stop here. */
  public static final int MAX_FAILURES_EXIT = 100;

  /** Cases files larger than this are refused unread. */
  public static final int MAX_CASES_BYTES = 4 << 20;

  /** Expects a value to be absent. */
  public static final String NONE = "-";

  private final InstantSource clock;
  private final Function<String, @Nullable String> env;

  private PolicyTests(InstantSource clock, Function<String, @Nullable String> env) {
    this.clock = Objects.requireNonNull(clock, "clock");
    this.env = Objects.requireNonNull(env, "env");
  }

  /**
   * A runner.
   *
   * @param clock the time of the decisions (and of the policy's {@code loaded_at})
   * @param env resolves {@code ${NAME}} in the policy file ({@code System::getenv} on the command
   *     line)
   */
  public static PolicyTests create(InstantSource clock, Function<String, @Nullable String> env) {
    return new PolicyTests(clock, env);
  }

  /** Loads both files and runs every case. Never throws for bad input: see {@link Report}. */
  public Report run(Path policyFile, Path casesFile) {
    LoadResult loaded =
        PolicyLoader.create(IdentityServices.offline(), clock, env).load(policyFile);
    Diagnostics d = new Diagnostics(casesFile.toString());
    List<TestCase> cases = readCases(casesFile, d);
    if (loaded instanceof LoadResult.Invalid || d.hasErrors()) {
      List<PolicyError> problems = new ArrayList<>();
      if (loaded instanceof LoadResult.Invalid invalid) {
        problems.addAll(invalid.errors());
      }
      problems.addAll(d.all().stream().filter(PolicyError::isError).toList());
      return new Report.Invalid(problems);
    }
    LoadResult.Loaded ok = (LoadResult.Loaded) loaded;
    Policy policy = ok.policy();
    DecisionPipeline pipeline =
        DecisionPipeline.builder()
            .policy(() -> policy)
            .limiter(RateLimiter.unlimited())
            .clock(clock)
            .build();
    List<CaseResult> results = new ArrayList<>();
    for (TestCase c : cases) {
      Decision decision =
          pipeline.decide(
              c.probe().request(),
              new DecideOptions(
                  Trace.none(), c.probe().identity(), c.probe().country(), false, false));
      results.add(new CaseResult(c, decision, c.expect().compare(decision)));
    }
    return new Report.Ran(policy.version(), ok.warnings(), results);
  }

  // ---------------------------------------------------------------- results

  /** What a run produced. */
  public sealed interface Report permits Report.Invalid, Report.Ran {

    /** The process exit status: failing cases capped at 100, or 101 for invalid input. */
    int exitCode();

    /** The policy or the cases file is invalid; no case ran. */
    record Invalid(List<PolicyError> problems) implements Report {
      public Invalid {
        problems = List.copyOf(problems);
      }

      @Override
      public int exitCode() {
        return INVALID_INPUT;
      }
    }

    /**
     * Every case ran.
     *
     * @param policyVersion the tested policy's version
     * @param warnings the policy's lint warnings
     * @param results one per case, in file order
     */
    record Ran(String policyVersion, List<PolicyError> warnings, List<CaseResult> results)
        implements Report {
      public Ran {
        warnings = List.copyOf(warnings);
        results = List.copyOf(results);
      }

      public long passed() {
        return results.stream().filter(CaseResult::passed).count();
      }

      public long failed() {
        return results.size() - passed();
      }

      @Override
      public int exitCode() {
        return (int) Math.min(failed(), MAX_FAILURES_EXIT);
      }

      /** {@code N passed, N failed}. */
      public String summary() {
        return passed() + " passed, " + failed() + " failed";
      }
    }
  }

  /**
   * One case's outcome.
   *
   * @param testCase the case
   * @param decision what the policy decided
   * @param mismatches the expectations that did not hold; empty when the case passed
   */
  public record CaseResult(TestCase testCase, Decision decision, List<Mismatch> mismatches) {
    public CaseResult {
      mismatches = List.copyOf(mismatches);
    }

    public boolean passed() {
      return mismatches.isEmpty();
    }

    /**
     * A failure as one line: each mismatch ({@code expected reason insufficient_permissions, got
     * no_matching_rule}), then the segment and rule that decided unless already named ({@code
     * segment partners; rule -}). Empty for a pass.
     */
    public String diff() {
      if (passed()) {
        return "";
      }
      List<String> parts = new ArrayList<>();
      List<String> named = new ArrayList<>();
      for (Mismatch m : mismatches) {
        parts.add("expected " + m.field() + " " + m.expected() + ", got " + m.actual());
        named.add(m.field());
      }
      if (!named.contains("segment")) {
        parts.add("segment " + Actual.SEGMENT.of(decision));
      }
      if (!named.contains("rule")) {
        parts.add("rule " + Actual.RULE.of(decision));
      }
      return String.join("; ", parts);
    }

    /** For a deny, the pipeline's reason in words (operators' detail); otherwise empty. */
    public String why() {
      return decision instanceof Decision.Deny d ? d.detail() : "";
    }
  }

  /** One expectation that did not hold. */
  public record Mismatch(String field, String expected, String actual) {}

  /**
   * One case of the cases file.
   *
   * @param line where the case starts in the cases file
   */
  public record TestCase(String name, int line, Probe probe, Expectation expect) {}

  /** The facts of a decision a case can expect, named as in the cases file. */
  enum Actual {
    DECISION("decision"),
    REASON("reason"),
    SEGMENT("segment"),
    RULE("rule"),
    STATUS("status"),
    DRY_RUN_REASON("dry_run_reason");

    final String key;

    Actual(String key) {
      this.key = key;
    }

    String of(Decision d) {
      return switch (this) {
        case DECISION -> d.outcome();
        case REASON -> d instanceof Decision.Deny x ? x.reason().code() : NONE;
        case SEGMENT -> Objects.requireNonNullElse(d.context().segment(), NONE);
        case RULE -> Objects.requireNonNullElse(d.context().rule(), NONE);
        case STATUS -> String.valueOf(d.response().status());
        case DRY_RUN_REASON ->
            d instanceof Decision.Allow a && a.dryRunReason() != null
                ? a.dryRunReason().code()
                : NONE;
      };
    }
  }

  /** A case's {@code expect}: the expected value of each fact it names, as text. */
  public record Expectation(Map<String, String> expected) {
    public Expectation {
      expected = Map.copyOf(expected);
    }

    List<Mismatch> compare(Decision d) {
      List<Mismatch> out = new ArrayList<>();
      for (Actual a : Actual.values()) {
        String want = expected.get(a.key);
        String got = a.of(d);
        if (want != null && !want.equals(got)) {
          out.add(new Mismatch(a.key, want, got));
        }
      }
      return out;
    }
  }

  // ---------------------------------------------------------------- the cases file

  private static List<TestCase> readCases(Path file, Diagnostics d) {
    YamlTree.Source source = YamlTree.readSource(file, "the cases file", MAX_CASES_BYTES, d);
    if (source == null) {
      return List.of();
    }
    String text = source.text();
    YamlNode root = YamlTree.readData(text, d);
    return root == null ? List.of() : new CasesReader(d).cases(root);
  }

  /** Binds {@code cases: [{name, request, identity, expect}]}. */
  private static final class CasesReader extends ProbeReader {
    private static final List<String> ROOT_KEYS = List.of("cases");
    private static final List<String> CASE_KEYS = List.of("name", "request", "identity", "expect");
    private static final List<String> EXPECT_KEYS =
        Arrays.stream(Actual.values()).map(a -> a.key).toList();

    CasesReader(Diagnostics d) {
      super(d);
    }

    List<TestCase> cases(YamlNode root) {
      List<TestCase> out = new ArrayList<>();
      YamlNode.Mapping m = mapping(root, "");
      if (m == null) {
        return out;
      }
      Fields f = new Fields(m, "", ROOT_KEYS);
      if (f.get("cases") == null) {
        f.missing("cases", "is required (a list of cases with name, request and expect)");
        return out;
      }
      List<YamlNode> items = items(f.get("cases"), "cases", "a list of cases");
      if (items == null) {
        return out;
      }
      if (items.isEmpty()) {
        d.error(f.get("cases"), "cases", "must not be empty");
      }
      Map<String, Integer> names = new HashMap<>();
      for (int i = 0; i < items.size(); i++) {
        TestCase c = testCase(items.get(i), "cases[" + i + "]", names);
        if (c != null) {
          out.add(c);
        }
      }
      return out;
    }

    private @Nullable TestCase testCase(YamlNode node, String path, Map<String, Integer> names) {
      YamlNode.Mapping m = mapping(node, path);
      if (m == null) {
        return null;
      }
      int errors = d.errorCount();
      Fields f = new Fields(m, path, CASE_KEYS);
      String name = null;
      if (f.get("name") == null) {
        f.missing("name", "is required");
      } else {
        name = string(f.get("name"), f.path("name"));
        if (name != null && name.isBlank()) {
          d.error(f.get("name"), f.path("name"), "must not be empty");
        } else if (name != null) {
          Integer first = names.putIfAbsent(name, f.get("name").line());
          if (first != null) {
            d.error(
                f.get("name"),
                f.path("name"),
                "duplicate case name '" + name + "' (first defined at line " + first + ")");
          }
        }
      }
      Probe probe = null;
      if (f.get("request") == null) {
        f.missing("request", "is required (a mapping with at least path)");
      } else {
        probe = probe(f.get("request"), f.get("identity"), f.path("request"), f.path("identity"));
      }
      Expectation expect = null;
      if (f.get("expect") == null) {
        f.missing("expect", "is required (at least one of " + String.join(", ", EXPECT_KEYS) + ")");
      } else {
        expect = expectation(f.get("expect"), f.path("expect"));
      }
      if (d.errorCount() > errors || name == null || probe == null || expect == null) {
        return null;
      }
      return new TestCase(name, m.line(), probe, expect);
    }

    private @Nullable Expectation expectation(YamlNode node, String path) {
      YamlNode.Mapping m = mapping(node, path);
      if (m == null) {
        return null;
      }
      Fields f = new Fields(m, path, EXPECT_KEYS);
      Map<String, String> expected = new HashMap<>();
      if (m.entries().isEmpty()) {
        d.error(m, path, "must name at least one of " + String.join(", ", EXPECT_KEYS));
      }
      String decision = optionalString(f, "decision");
      if (decision != null) {
        if (decision.equals("allow") || decision.equals("deny")) {
          expected.put("decision", decision);
        } else {
          d.error(
              f.get("decision"),
              f.path("decision"),
              "expected allow or deny, got '"
                  + decision
                  + "'"
                  + Suggestions.hint(decision, List.of("allow", "deny")));
        }
      }
      reason(f, "reason", expected);
      reason(f, "dry_run_reason", expected);
      for (String k : List.of("segment", "rule")) {
        String v = optionalString(f, k);
        if (v != null && v.isEmpty()) {
          d.error(f.get(k), f.path(k), "must not be empty (write \"-\" to expect none)");
        } else if (v != null) {
          expected.put(k, v);
        }
      }
      YamlNode status = f.get("status");
      if (status != null) {
        Long s = positiveInteger(status, f.path("status"));
        if (s != null && (s < 100 || s > 599)) {
          d.error(status, f.path("status"), "expected an HTTP status from 100 to 599, got " + s);
        } else if (s != null) {
          expected.put("status", String.valueOf(s));
        }
      }
      return new Expectation(expected);
    }

    private void reason(Fields f, String key, Map<String, String> expected) {
      String code = optionalString(f, key);
      if (code == null) {
        return;
      }
      if (code.equals(NONE) || Reason.parse(code) != null) {
        expected.put(key, code);
        return;
      }
      List<String> known = Arrays.stream(Reason.values()).map(Reason::code).toList();
      String hint = Suggestions.hint(code, known);
      d.error(
          f.get(key),
          f.path(key),
          "unknown reason code '"
              + code
              + "'"
              + (hint.isEmpty() ? "; expected one of " + String.join(", ", known) : hint)
              + " (or \"-\" for none)");
    }
  }
}
