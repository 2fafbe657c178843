package io.portcullis.keys;

import java.util.List;
import java.util.Objects;
import org.jspecify.annotations.Nullable;

/**
 * What a new key should carry ({@code POST /admin/keys}, {@code portcullis keys issue}, gRPC {@code
 * IssueKey}); validated by {@link KeyLifecycle#issue}.
 *
 * @param client the customer or application (required)
 * @param clientType e.g. {@code partner}, or {@code null}
 * @param roles roles to grant
 * @param scopes scopes to grant
 * @param segmentHint a segment hint, or {@code null}
 * @param expiresIn lifetime from now as written ({@code 90d}), or {@code null} for a key that does
 *     not expire
 */
public record KeyRequest(
    String client,
    @Nullable String clientType,
    List<String> roles,
    List<String> scopes,
    @Nullable String segmentHint,
    @Nullable String expiresIn) {

  public KeyRequest {
    Objects.requireNonNull(client, "client");
    roles = List.copyOf(roles);
    scopes = List.copyOf(scopes);
  }

  public static Builder builder(String client) {
    return new Builder(client);
  }

  /** Builds a {@link KeyRequest}; not thread-safe. Empty strings mean "none". */
  public static final class Builder {
    private final String client;
    private @Nullable String clientType;
    private List<String> roles = List.of();
    private List<String> scopes = List.of();
    private @Nullable String segmentHint;
    private @Nullable String expiresIn;

    private Builder(String client) {
      this.client = client;
    }

    public Builder clientType(@Nullable String clientType) {
      this.clientType = emptyToNull(clientType);
      return this;
    }

    public Builder roles(List<String> roles) {
      this.roles = roles;
      return this;
    }

    public Builder scopes(List<String> scopes) {
      this.scopes = scopes;
      return this;
    }

    public Builder segmentHint(@Nullable String segmentHint) {
      this.segmentHint = emptyToNull(segmentHint);
      return this;
    }

    public Builder expiresIn(@Nullable String expiresIn) {
      this.expiresIn = emptyToNull(expiresIn);
      return this;
    }

    public KeyRequest build() {
      return new KeyRequest(client, clientType, roles, scopes, segmentHint, expiresIn);
    }

    private static @Nullable String emptyToNull(@Nullable String s) {
      return s == null || s.isEmpty() ? null : s;
    }
  }
}
