package io.portcullis.identity;

import io.portcullis.request.HttpMethod;
import io.portcullis.request.NormalizedPath;
import io.portcullis.request.RequestAttributes;
import java.util.Objects;
import org.jspecify.annotations.Nullable;

/**
 * One request after phases 1-3: well-formed, with a normalized path, a verified identity and a
 * country. Segment matching, guards, rules and limits read only this.
 *
 * @param request the request as the proxy sent it
 * @param method the validated method
 * @param path the normalized path
 * @param identity the verified caller (possibly anonymous)
 * @param country ISO 3166-1 alpha-2 country of the source, or {@code null} if unknown
 */
public record Subject(
    RequestAttributes request,
    HttpMethod method,
    NormalizedPath path,
    Identity identity,
    @Nullable String country) {

  public Subject {
    Objects.requireNonNull(request, "request");
    Objects.requireNonNull(method, "method");
    Objects.requireNonNull(path, "path");
    Objects.requireNonNull(identity, "identity");
  }
}
