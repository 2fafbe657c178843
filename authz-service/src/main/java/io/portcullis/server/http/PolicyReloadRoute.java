package io.portcullis.server.http;

import io.portcullis.config.ReloadResult;
import io.portcullis.policy.LivePolicy;
import io.portcullis.policy.LoadResult;
import io.portcullis.policy.Policy;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.function.Supplier;
import tools.jackson.databind.node.ArrayNode;
import tools.jackson.databind.node.ObjectNode;

/**
 * {@code POST /admin/policy/reload}: loads the policy file again, now, on the admin thread, then
 * re-reads the other files SIGHUP re-reads (the rate limit service's directory, the GeoIP database,
 * the gRPC listener's TLS files), each on its own.
 *
 * <ul>
 *   <li>200 with the {@code GET /admin/policy} shape for the new policy (its warnings as {@code
 *       errors} of severity {@code warning}) when it loaded;
 *   <li>422 {@code application/problem+json} when it is invalid: type {@code
 *       urn:portcullis:error:invalid_policy}, and the same members ({@code version}, {@code
 *       loaded_at} of the policy that keeps running, {@code last_reload_ok: false}, every problem
 *       in {@code errors}). The running policy does not change.
 * </ul>
 *
 * Both carry {@code reloaded}: one {@code {"name","ok","detail"}} for each of the other files the
 * service has ({@link ReloadResult}); {@code ok: false} means the running files stay, and does not
 * change the status, which is the policy's. The reload is counted and logged by {@link
 * LivePolicy#reload()} like any other.
 */
public final class PolicyReloadRoute implements AdminRoute {
  private final LivePolicy live;
  private final Supplier<List<ReloadResult>> files;

  /**
   * @param files re-reads the other files and says how each went (what SIGHUP re-reads besides the
   *     policy)
   */
  public PolicyReloadRoute(LivePolicy live, Supplier<List<ReloadResult>> files) {
    this.live = Objects.requireNonNull(live, "live");
    this.files = Objects.requireNonNull(files, "files");
  }

  @Override
  public AdminResponse handle(AdminRequest request) {
    LoadResult result = live.reload();
    List<ReloadResult> reloaded = files.get();
    String file = live.file().toString();
    return switch (result) {
      case LoadResult.Loaded loaded -> {
        Policy p = loaded.policy();
        ObjectNode body =
            PolicyStatusJson.render(p.version(), file, p.loadedAt(), true, loaded.warnings());
        yield AdminResponse.json(200, PolicyStatusJson.write(withFiles(body, reloaded)));
      }
      case LoadResult.Invalid invalid -> {
        Policy running = live.get();
        ObjectNode body =
            PolicyStatusJson.render(
                running.version(), file, running.loadedAt(), false, invalid.errors());
        ObjectNode problem = PolicyStatusJson.MAPPER.createObjectNode();
        problem.put("type", "urn:portcullis:error:invalid_policy");
        problem.put("title", "Invalid policy");
        problem.put("status", 422);
        problem.put(
            "detail",
            "the policy file is invalid; version " + running.version() + " keeps running");
        problem.setAll(withFiles(body, reloaded));
        yield new AdminResponse(
            422,
            AdminResponse.PROBLEM_JSON,
            PolicyStatusJson.write(problem).getBytes(StandardCharsets.UTF_8),
            Map.of());
      }
    };
  }

  private static ObjectNode withFiles(ObjectNode body, List<ReloadResult> reloaded) {
    ArrayNode list = body.putArray("reloaded");
    for (ReloadResult r : reloaded) {
      list.addObject().put("name", r.name()).put("ok", r.ok()).put("detail", r.detail());
    }
    return body;
  }
}
