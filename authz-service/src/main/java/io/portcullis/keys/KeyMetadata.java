package io.portcullis.keys;

import com.google.protobuf.Timestamp;
import io.portcullis.proto.v1.ApiKey;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.List;
import java.util.Objects;
import org.jspecify.annotations.Nullable;

/**
 * What may be shown of an API key (admin API, CLI, gRPC): everything but its secret and the
 * secret's hash.
 *
 * <p>Times are whole seconds, truncated here, so that every adapter (admin JSON, gRPC, {@code keys
 * list}) shows them alike: last-use times are stored to the microsecond, and a sub-second lifetime
 * ({@code 1500ms}) would give a fractional {@code expires_at}.
 *
 * @param id the public id (the principal of requests made with the key)
 * @param client the customer or application the key belongs to
 * @param clientType e.g. {@code partner}, or {@code null}
 * @param roles granted roles, in the order given at issue
 * @param scopes granted scopes, in the order given at issue
 * @param segmentHint a segment hint for the policy, or {@code null}
 * @param createdAt when the key was issued
 * @param expiresAt when it stops verifying ({@code expired_key}), or {@code null} for never
 * @param revokedAt when it was revoked ({@code revoked_key}), or {@code null}
 * @param lastUsedAt the latest verified use recorded so far (written a few seconds late), or {@code
 *     null}
 * @param generation 1 for the secret issued with the key, +1 per rotation
 */
public record KeyMetadata(
    String id,
    String client,
    @Nullable String clientType,
    List<String> roles,
    List<String> scopes,
    @Nullable String segmentHint,
    Instant createdAt,
    @Nullable Instant expiresAt,
    @Nullable Instant revokedAt,
    @Nullable Instant lastUsedAt,
    int generation) {

  public KeyMetadata {
    Objects.requireNonNull(id, "id");
    Objects.requireNonNull(client, "client");
    roles = List.copyOf(roles);
    scopes = List.copyOf(scopes);
    createdAt = wholeSeconds(Objects.requireNonNull(createdAt, "createdAt"));
    expiresAt = wholeSeconds(expiresAt);
    revokedAt = wholeSeconds(revokedAt);
    lastUsedAt = wholeSeconds(lastUsedAt);
    if (generation < 1) {
      throw new IllegalArgumentException("generation starts at 1");
    }
  }

  /** {@code t} truncated to the second; {@code null} stays {@code null}. */
  static @Nullable Instant wholeSeconds(@Nullable Instant t) {
    return t == null ? null : t.truncatedTo(ChronoUnit.SECONDS);
  }

  public static Builder builder(String id, String client, Instant createdAt) {
    return new Builder(id, client, createdAt);
  }

  /**
   * Which secret the current one replaced: {@code v1} after the first rotation, {@code v2} after
   * the second, ...; {@code null} if the key was never rotated. Rotation keeps the id, so the
   * lineage of a key is its generations.
   */
  public @Nullable String rotatedFrom() {
    return generation > 1 ? "v" + (generation - 1) : null;
  }

  /** The admin gRPC form (never a secret or hash). */
  public ApiKey toProto() {
    ApiKey.Builder b =
        ApiKey.newBuilder()
            .setId(id)
            .setClient(client)
            .setClientType(orEmpty(clientType))
            .addAllRoles(roles)
            .addAllScopes(scopes)
            .setSegmentHint(orEmpty(segmentHint))
            .setCreatedAt(timestamp(createdAt))
            .setRotatedFrom(orEmpty(rotatedFrom()));
    if (expiresAt != null) {
      b.setExpiresAt(timestamp(expiresAt));
    }
    if (revokedAt != null) {
      b.setRevokedAt(timestamp(revokedAt));
    }
    if (lastUsedAt != null) {
      b.setLastUsedAt(timestamp(lastUsedAt));
    }
    return b.build();
  }

  private static Timestamp timestamp(Instant t) {
    return Timestamp.newBuilder().setSeconds(t.getEpochSecond()).setNanos(t.getNano()).build();
  }

  private static String orEmpty(@Nullable String s) {
    return s == null ? "" : s;
  }

  /** Builds {@link KeyMetadata}; not thread-safe. */
  public static final class Builder {
    private final String id;
    private final String client;
    private final Instant createdAt;
    private @Nullable String clientType;
    private List<String> roles = List.of();
    private List<String> scopes = List.of();
    private @Nullable String segmentHint;
    private @Nullable Instant expiresAt;
    private @Nullable Instant revokedAt;
    private @Nullable Instant lastUsedAt;
    private int generation = 1;

    private Builder(String id, String client, Instant createdAt) {
      this.id = id;
      this.client = client;
      this.createdAt = createdAt;
    }

    public Builder clientType(@Nullable String clientType) {
      this.clientType = clientType;
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
      this.segmentHint = segmentHint;
      return this;
    }

    public Builder expiresAt(@Nullable Instant expiresAt) {
      this.expiresAt = expiresAt;
      return this;
    }

    public Builder revokedAt(@Nullable Instant revokedAt) {
      this.revokedAt = revokedAt;
      return this;
    }

    public Builder lastUsedAt(@Nullable Instant lastUsedAt) {
      this.lastUsedAt = lastUsedAt;
      return this;
    }

    public Builder generation(int generation) {
      this.generation = generation;
      return this;
    }

    public KeyMetadata build() {
      return new KeyMetadata(
          id,
          client,
          clientType,
          roles,
          scopes,
          segmentHint,
          createdAt,
          expiresAt,
          revokedAt,
          lastUsedAt,
          generation);
    }
  }
}
