package io.portcullis.server.http;

import io.portcullis.policy.LivePolicy;
import java.util.Objects;

/**
 * {@code GET /admin/policy}: the running policy's version (content hash), file and load time, and
 * the outcome of the last reload with its errors and warnings, by position. Always 200: a failed
 * reload is a state, not an error of this call.
 */
public final class PolicyStatusRoute implements AdminRoute {
  private final LivePolicy live;

  public PolicyStatusRoute(LivePolicy live) {
    this.live = Objects.requireNonNull(live, "live");
  }

  @Override
  public AdminResponse handle(AdminRequest request) {
    LivePolicy.Status s = live.status();
    return AdminResponse.json(
        200,
        PolicyStatusJson.write(
            PolicyStatusJson.render(
                s.version(), s.file(), s.loadedAt(), s.lastReloadOk(), s.lastErrors())));
  }
}
