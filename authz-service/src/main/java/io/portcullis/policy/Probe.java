package io.portcullis.policy;

import io.portcullis.identity.Identity;
import io.portcullis.request.RequestAttributes;
import java.util.Objects;
import org.jspecify.annotations.Nullable;

/**
 * A request to evaluate without enforcing it: a policy test case's request or an explain request,
 * as {@link ProbeReader} binds it.
 *
 * @param request the request as a proxy would send it
 * @param identity an already-verified identity that replaces credential verification, or {@code
 *     null} to verify the request's own credentials
 * @param country the source's country, or {@code null} when not given
 */
public record Probe(
    RequestAttributes request, @Nullable Identity identity, @Nullable String country) {
  public Probe {
    Objects.requireNonNull(request, "request");
  }
}
