package io.portcullis.server.http;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.jspecify.annotations.Nullable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Routes admin requests by method and path template ({@code /admin/keys/{id}/rotate}). Unknown
 * paths are 404 and known paths with another method 405, both as problem+json. Thread-safe after
 * construction.
 */
public final class AdminRouter {
  private static final Logger log = LoggerFactory.getLogger(AdminRouter.class);

  private record Entry(String method, String[] template, AdminRoute route) {}

  private final List<Entry> entries = new ArrayList<>();

  /**
   * Adds a route; templates use {@code {name}} for one path segment, and may end with {@code
   * {name...}} for the rest of the path, slashes included (a block key such as {@code
   * ip:2001:db8::/64}).
   */
  public AdminRouter add(String method, String template, AdminRoute route) {
    entries.add(new Entry(method, split(template), route));
    return this;
  }

  public AdminResponse dispatch(AdminRequest request) {
    String[] path = split(request.path());
    boolean pathKnown = false;
    for (Entry e : entries) {
      Map<String, String> params = match(e.template(), path);
      if (params == null) {
        continue;
      }
      pathKnown = true;
      if (!e.method().equals(request.method())) {
        continue;
      }
      try {
        return e.route().handle(request.withPathParams(params));
      } catch (Exception ex) {
        log.error("admin {} {} failed", request.method(), request.path(), ex);
        return AdminResponse.problem(500, "internal_error", "Internal error", "");
      }
    }
    return pathKnown
        ? AdminResponse.problem(405, "method_not_allowed", "Method not allowed", "")
        : AdminResponse.problem(404, "not_found", "Not found", "");
  }

  private static String[] split(String path) {
    String p = path.startsWith("/") ? path.substring(1) : path;
    if (p.endsWith("/")) {
      p = p.substring(0, p.length() - 1);
    }
    return p.isEmpty() ? new String[0] : p.split("/", -1);
  }

  private static @Nullable Map<String, String> match(String[] template, String[] path) {
    int n = template.length;
    boolean rest = n > 0 && template[n - 1].endsWith("...}");
    if (rest ? path.length < n : template.length != path.length) {
      return null;
    }
    Map<String, String> params = new HashMap<>();
    for (int i = 0; i < template.length; i++) {
      String t = template[i];
      if (rest && i == n - 1) {
        String value = String.join("/", java.util.Arrays.copyOfRange(path, i, path.length));
        if (value.isEmpty()) {
          return null;
        }
        params.put(t.substring(1, t.length() - 4), value);
        break;
      }
      if (t.startsWith("{") && t.endsWith("}")) {
        if (path[i].isEmpty()) {
          return null;
        }
        params.put(t.substring(1, t.length() - 1), path[i]);
      } else if (!t.equals(path[i])) {
        return null;
      }
    }
    return params;
  }
}
