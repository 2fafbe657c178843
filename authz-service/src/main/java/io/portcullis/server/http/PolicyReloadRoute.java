package io.portcullis.server.http;

import io.portcullis.policy.LivePolicy;
import io.portcullis.policy.LoadResult;
import io.portcullis.policy.Policy;
import java.util.Objects;
import tools.jackson.databind.node.ObjectNode;

/**
 * {@code POST /admin/policy/reload}: loads the policy file again, now, on the admin thread.
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
 * The reload is counted and logged by {@link LivePolicy#reload()} like any other.
 */
public final class PolicyReloadRoute implements AdminRoute {
  private final LivePolicy live;

  public PolicyReloadRoute(LivePolicy live) {
    this.live = Objects.requireNonNull(live, "live");
  }

  @Override
  public AdminResponse handle(AdminRequest request) {
    LoadResult result = live.reload();
    String file = live.file().toString();
    return switch (result) {
      case LoadResult.Loaded loaded -> {
        Policy p = loaded.policy();
        yield AdminResponse.json(
            200,
            PolicyStatusJson.write(
                PolicyStatusJson.render(p.version(), file, p.loadedAt(), true, loaded.warnings())));
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
        problem.setAll(body);
        yield new AdminResponse(
            422,
            AdminResponse.PROBLEM_JSON,
            PolicyStatusJson.write(problem).getBytes(java.nio.charset.StandardCharsets.UTF_8),
            java.util.Map.of());
      }
    };
  }
}
