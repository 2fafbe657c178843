package io.portcullis.cli;

import io.portcullis.decision.DecisionPipeline;
import io.portcullis.decision.ExplainService;
import io.portcullis.decision.Explanation;
import io.portcullis.identity.Identity;
import io.portcullis.identity.IdentityServices;
import io.portcullis.limit.RateLimiter;
import io.portcullis.policy.Diagnostics;
import io.portcullis.policy.LoadResult;
import io.portcullis.policy.Policy;
import io.portcullis.policy.PolicyError;
import io.portcullis.policy.PolicyLoader;
import io.portcullis.policy.ProbeReader;
import io.portcullis.request.Body;
import io.portcullis.request.RequestAttributes;
import io.portcullis.server.http.ExplainJson;
import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.InstantSource;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.Callable;
import java.util.function.Function;
import org.jspecify.annotations.Nullable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.Spec;

/**
 * {@code portcullis explain --policy policy.yaml --method GET --path /v1/orders -H 'x-api-key: …'
 * --identity-json '{…}'}: explains locally, offline, what a policy decides for one request and why
 * — every step of the decision order ({@link ExplainService}).
 *
 * <p>Like {@code policy test}: the policy is loaded with {@link IdentityServices#offline()} (a
 * bearer token or API key without {@code --identity-json} is rejected, an mTLS peer is checked
 * against the trust domains), limits never deny and nothing is recorded. Prints the trace as text,
 * or with {@code --json} the JSON of {@code POST /admin/explain}, to the command line's {@code out}
 * writer; problems go to {@code err}.
 */
@Command(
    name = "explain",
    mixinStandardHelpOptions = true,
    exitCodeOnInvalidInput = ExplainCommand.USAGE_ERROR,
    description = "Explain offline what a policy decides for one request, step by step.",
    exitCodeListHeading = "%nExit status:%n",
    exitCodeList = {
      "0:the request is allowed",
      "1:the request is denied",
      "101:the policy or --identity-json is invalid (problems are printed with their position)",
      "102:invalid command-line arguments"
    })
public final class ExplainCommand implements Callable<Integer> {
  public static final int ALLOWED = 0;
  public static final int DENIED = 1;
  public static final int INVALID_INPUT = 101;
  public static final int USAGE_ERROR = 102;

  @Option(names = "--policy", required = true, paramLabel = "FILE", description = "policy file")
  private @Nullable Path policy;

  @Option(names = "--method", defaultValue = "GET", description = "HTTP method (default GET)")
  private String method = "GET";

  @Option(names = "--path", required = true, description = "request path, query allowed")
  private @Nullable String path;

  @Option(names = "--host", defaultValue = "", description = "Host / :authority")
  private String host = "";

  @Option(
      names = {"-H", "--header"},
      paramLabel = "'NAME: VALUE'",
      description = "a request header (repeatable)")
  private List<String> headers = new ArrayList<>();

  @Option(names = "--source-ip", description = "the client address")
  private @Nullable String sourceIp;

  @Option(
      names = "--source-principal",
      description = "the mTLS peer identity the proxy reports (a SPIFFE ID)")
  private @Nullable String sourcePrincipal;

  @Option(names = "--tls", description = "the downstream request was https")
  private boolean tls;

  @Option(names = "--country", description = "the source's ISO 3166-1 alpha-2 country")
  private @Nullable String country;

  @Option(
      names = "--context",
      paramLabel = "KEY=VALUE",
      description = "an Envoy context extension (repeatable)")
  private Map<String, String> context = new LinkedHashMap<>();

  @Option(names = "--body", description = "the request body")
  private @Nullable String body;

  @Option(names = "--body-file", paramLabel = "FILE", description = "read the body from a file")
  private @Nullable Path bodyFile;

  @Option(
      names = "--identity-json",
      paramLabel = "JSON",
      description =
          "an already-verified identity, e.g. '{\"credential\":\"api_key\",\"principal\":\"key_1\","
              + "\"client_type\":\"partner\",\"roles\":[\"orders.read\"]}'")
  private @Nullable String identityJson;

  @Option(names = "--json", description = "print the JSON of POST /admin/explain")
  private boolean json;

  @Spec private @Nullable CommandSpec spec;

  private final InstantSource clock;
  private final Function<String, @Nullable String> env;

  /** The command as the CLI runs it: system clock, process environment. */
  public ExplainCommand() {
    this(InstantSource.system(), System::getenv);
  }

  /**
   * A command with an injected clock and environment.
   *
   * @param env resolves {@code ${NAME}} in the policy file
   */
  public ExplainCommand(InstantSource clock, Function<String, @Nullable String> env) {
    this.clock = Objects.requireNonNull(clock, "clock");
    this.env = Objects.requireNonNull(env, "env");
  }

  @Override
  public Integer call() {
    CommandSpec s = Objects.requireNonNull(spec, "spec");
    PrintWriter out = s.commandLine().getOut();
    PrintWriter err = s.commandLine().getErr();
    RequestAttributes request = request(s);

    List<PolicyError> problems = new ArrayList<>();
    Identity identity = null;
    if (identityJson != null) {
      Diagnostics d = new Diagnostics("--identity-json");
      identity = ProbeReader.identity(identityJson, d);
      problems.addAll(d.all());
    }
    LoadResult loaded =
        PolicyLoader.create(IdentityServices.offline(), clock, env)
            .load(Objects.requireNonNull(policy));
    switch (loaded) {
      case LoadResult.Invalid invalid -> problems.addAll(0, invalid.errors());
      case LoadResult.Loaded ok -> problems.addAll(0, ok.warnings());
    }
    problems.forEach(p -> err.println(p.format()));
    if (!(loaded instanceof LoadResult.Loaded ok)
        || problems.stream().anyMatch(PolicyError::isError)) {
      err.flush();
      return INVALID_INPUT;
    }
    Policy p = ok.policy();
    DecisionPipeline pipeline =
        DecisionPipeline.builder()
            .policy(() -> p)
            .limiter(RateLimiter.unlimited())
            .clock(clock)
            .build();
    Explanation e = new ExplainService(pipeline).explain(request, identity, country);
    if (json) {
      out.println(ExplainJson.render(e));
    } else {
      print(e, out);
    }
    out.flush();
    err.flush();
    return e.reason() == null ? ALLOWED : DENIED;
  }

  private RequestAttributes request(CommandSpec s) {
    RequestAttributes.Builder b =
        RequestAttributes.builder()
            .method(method)
            .path(Objects.requireNonNull(path))
            .host(host)
            .tls(tls)
            .scheme(tls ? "https" : "http")
            .context(context);
    for (String h : headers) {
      int colon = h.indexOf(':');
      if (colon <= 0) {
        throw new ParameterException(
            s.commandLine(),
            "-H expects 'NAME: VALUE' (the value is not shown: it may be a secret)");
      }
      b.header(h.substring(0, colon).trim(), h.substring(colon + 1).trim());
    }
    if (sourceIp != null) {
      if (RequestAttributes.parseIp(sourceIp) == null) {
        throw new ParameterException(
            s.commandLine(), "--source-ip '" + sourceIp + "' is not an IP address");
      }
      b.sourceIp(sourceIp);
    }
    if (sourcePrincipal != null) {
      b.sourcePrincipal(sourcePrincipal);
    }
    if (country != null) {
      String problem = ProbeReader.countryProblem(country);
      if (problem != null) {
        throw new ParameterException(s.commandLine(), "--country: " + problem);
      }
    }
    if (body != null && bodyFile != null) {
      throw new ParameterException(s.commandLine(), "give --body or --body-file, not both");
    }
    if (body != null) {
      b.body(Body.of(body, false));
    } else if (bodyFile != null) {
      try {
        b.body(Body.of(Files.readAllBytes(bodyFile), false));
      } catch (IOException e) {
        throw new ParameterException(
            s.commandLine(), "cannot read --body-file " + bodyFile + ": " + e.getMessage());
      }
    }
    return b.build();
  }

  /** The trace as text: the decision, then each step with what it found. */
  static void print(Explanation e, PrintWriter out) {
    var ctx = e.decision().context();
    StringBuilder head = new StringBuilder(e.outcome()).append(' ').append(e.status());
    if (e.reason() != null) {
      head.append(' ').append(e.reason().code());
    }
    if (e.dryRunReason() != null) {
      head.append(" (dry-run: would deny with ").append(e.dryRunReason().code()).append(')');
    }
    if (e.decision() instanceof io.portcullis.decision.Decision.Deny d) {
      head.append(": ").append(d.detail());
    }
    out.println(head);
    out.println(
        "segment "
            + Objects.requireNonNullElse(ctx.segment(), "-")
            + ", rule "
            + Objects.requireNonNullElse(ctx.rule(), "-")
            + ", policy "
            + ctx.policyVersion());
    for (Explanation.Step step : e.steps()) {
      out.println("step " + step.step() + " " + step.phase().label());
      for (String note : step.notes()) {
        out.println("  " + note);
      }
    }
  }
}
