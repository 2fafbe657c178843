package io.portcullis.keys;

import io.portcullis.identity.Secret;
import io.portcullis.keys.KeyResult.Refusal;
import io.portcullis.policy.YamlReader;
import io.portcullis.store.StoreException;
import java.security.SecureRandom;
import java.time.Duration;
import java.time.Instant;
import java.time.InstantSource;
import java.time.temporal.ChronoUnit;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Objects;
import java.util.function.Consumer;
import org.jspecify.annotations.Nullable;

/**
 * The API key lifecycle — issue, rotate with grace, revoke, list — behind every adapter: the admin
 * HTTP API, the admin gRPC service and {@code portcullis keys}. Validation, secret generation and
 * the rules below live here once.
 *
 * <ul>
 *   <li><b>Issue</b>: a fresh id and secret ({@link KeyFormat}); only the hash is stored ({@link
 *       KeyHash}); the secret is returned once, in {@link IssuedKey}.
 *   <li><b>Rotate</b>: keeps the id; the new secret works at once, the replaced one until {@code
 *       now + grace} (default no grace: rotating because of a leak must not leave the leaked secret
 *       working by default). Only the secret just replaced is kept, so rotating again ends an
 *       earlier grace. A revoked or expired key cannot be rotated.
 *   <li><b>Revoke</b>: immediate and final; revoking twice keeps the first time.
 *   <li><b>Expire</b>: a key issued with {@code expires_in} stops verifying at {@code expires_at}.
 * </ul>
 *
 * <p>Every change reaches every instance sharing the store within one poll interval ({@link
 * StoredKeyVerifier}). Thread-safe. Store failures are thrown as {@link StoreException}; refusals
 * are {@link KeyResult.Refused} values.
 */
public final class KeyLifecycle {
  /** The longest {@code expires_in}. */
  public static final Duration MAX_LIFETIME = Duration.ofDays(36_500);

  /** The longest rotation grace. */
  public static final Duration MAX_GRACE = Duration.ofDays(30);

  /** The longest client, client type, role, scope or segment hint. */
  public static final int MAX_TEXT = 128;

  /** The most roles or scopes per key. */
  public static final int MAX_ENTRIES = 100;

  private static final int ISSUE_ATTEMPTS = 3;

  private final KeyStore store;
  private final InstantSource clock;
  private final Consumer<String> changed;
  private final SecureRandom random = new SecureRandom();

  /** The lifecycle over {@code store}; other instances learn of changes from its change feed. */
  public KeyLifecycle(KeyStore store, InstantSource clock) {
    this(store, clock, id -> {});
  }

  /**
   * As {@link #KeyLifecycle(KeyStore, InstantSource)}, also telling {@code changed} the id of every
   * key it rotates or revokes, after the change is stored: the service passes its own verifier's
   * {@link StoredKeyVerifier#invalidate}, so its own changes apply to it at once.
   */
  public KeyLifecycle(KeyStore store, InstantSource clock, Consumer<String> changed) {
    this.store = Objects.requireNonNull(store, "store");
    this.clock = Objects.requireNonNull(clock, "clock");
    this.changed = Objects.requireNonNull(changed, "changed");
  }

  /**
   * Issues a key.
   *
   * @return the key with its secret, or {@link Refusal#INVALID_REQUEST} naming the first invalid
   *     field: the detail starts with the field's admin API name ({@code expires_in}, {@code
   *     roles[2]}), which the CLI replaces by its option
   */
  public KeyResult<IssuedKey> issue(KeyRequest request) {
    String expiresIn = request.expiresIn();
    String problem = validate(request);
    if (problem != null) {
      return KeyResult.refused(Refusal.INVALID_REQUEST, problem);
    }
    Duration lifetime = null;
    if (expiresIn != null && !expiresIn.isBlank()) {
      lifetime = YamlReader.parseDuration(expiresIn.trim());
      if (lifetime == null || lifetime.compareTo(MAX_LIFETIME) > 0) {
        return KeyResult.refused(
            Refusal.INVALID_REQUEST,
            "expires_in must be a duration such as 30d, 24h or 90d, at most "
                + MAX_LIFETIME.toDays()
                + "d");
      }
    }
    Instant now = now();
    for (int attempt = 0; attempt < ISSUE_ATTEMPTS; attempt++) {
      String key = KeyFormat.generate(random);
      String id = Objects.requireNonNull(KeyFormat.idOf(key));
      KeyMetadata metadata =
          KeyMetadata.builder(id, request.client(), now)
              .clientType(request.clientType())
              .roles(distinct(request.roles()))
              .scopes(distinct(request.scopes()))
              .segmentHint(request.segmentHint())
              .expiresAt(lifetime == null ? null : now.plus(lifetime))
              .build();
      if (store.insert(StoredKey.issued(metadata, KeyHash.of(key)))) {
        return KeyResult.ok(new IssuedKey(metadata, Secret.of(key), null));
      }
    }
    // Three collisions of 71-bit random ids: the random source is broken, not the request.
    throw new IllegalStateException("could not find a free key id; is the random source broken?");
  }

  /**
   * Gives a key a new secret, keeping its id.
   *
   * @param grace how long the replaced secret keeps working, such as {@code 24h}; {@code
   *     null}/empty or {@code 0} for none
   * @return the key with its new secret and {@link IssuedKey#previousValidUntil()}; or {@link
   *     Refusal#NOT_FOUND}, {@link Refusal#REVOKED}, {@link Refusal#EXPIRED}, {@link
   *     Refusal#INVALID_REQUEST} (a bad grace)
   */
  public KeyResult<IssuedKey> rotate(String id, @Nullable String grace) {
    Duration g = Duration.ZERO;
    if (grace != null && !grace.isBlank() && !isZero(grace.trim())) {
      g = YamlReader.parseDuration(grace.trim());
      if (g == null || g.compareTo(MAX_GRACE) > 0) {
        return KeyResult.refused(
            Refusal.INVALID_REQUEST,
            "grace must be 0 or a duration such as 10m or 24h, at most "
                + MAX_GRACE.toDays()
                + "d");
      }
    }
    if (!KeyFormat.isId(id)) {
      return notFound();
    }
    StoredKey current = store.find(id);
    Instant now = now();
    KeyResult<IssuedKey> refusal = unrotatable(current, now);
    if (refusal != null) {
      return refusal;
    }
    String key = KeyFormat.withSecret(id, random);
    StoredKey rotated =
        store.rotate(id, KeyHash.of(key), now, KeyMetadata.wholeSeconds(now.plus(g)));
    if (rotated == null) {
      // revoked (or deleted) between the read and the update
      KeyResult<IssuedKey> late = unrotatable(store.find(id), now);
      return late != null ? late : KeyResult.refused(Refusal.REVOKED, "the key is revoked");
    }
    changed.accept(id);
    return KeyResult.ok(
        new IssuedKey(rotated.metadata(), Secret.of(key), rotated.previousValidUntil()));
  }

  private static @Nullable KeyResult<IssuedKey> unrotatable(@Nullable StoredKey key, Instant now) {
    if (key == null) {
      return notFound();
    }
    KeyMetadata m = key.metadata();
    if (m.revokedAt() != null) {
      return KeyResult.refused(
          Refusal.REVOKED, "the key was revoked at " + m.revokedAt() + " and cannot be rotated");
    }
    if (m.expiresAt() != null && !now.isBefore(m.expiresAt())) {
      return KeyResult.refused(
          Refusal.EXPIRED, "the key expired at " + m.expiresAt() + " and cannot be rotated");
    }
    return null;
  }

  /**
   * Revokes a key at once (every instance rejects it within one poll interval).
   *
   * @return the key as revoked (with its first revocation time if it already was), or {@link
   *     Refusal#NOT_FOUND}
   */
  public KeyResult<KeyMetadata> revoke(String id) {
    if (!KeyFormat.isId(id)) {
      return notFound();
    }
    StoredKey revoked = store.revoke(id, now());
    if (revoked == null) {
      return notFound();
    }
    changed.accept(id);
    return KeyResult.ok(revoked.metadata());
  }

  /**
   * Every key, or one client's, oldest first; never a secret or hash.
   *
   * @param client a client, or {@code null}/empty for all
   */
  public List<KeyMetadata> list(@Nullable String client) {
    List<KeyMetadata> out = new ArrayList<>();
    for (StoredKey k : store.list(client == null || client.isEmpty() ? null : client)) {
      out.add(k.metadata());
    }
    return out;
  }

  private Instant now() {
    // Whole seconds: readable in listings; what a key verifies never depends on sub-second times.
    return clock.instant().truncatedTo(ChronoUnit.SECONDS);
  }

  private static <T> KeyResult<T> notFound() {
    return KeyResult.refused(Refusal.NOT_FOUND, "no key has this id");
  }

  private static boolean isZero(String s) {
    return s.matches("0+(ms|s|m|h|d)?");
  }

  /** The first problem of a request, or {@code null}. Never echoes values. */
  static @Nullable String validate(KeyRequest r) {
    if (r.client().isEmpty()) {
      return "client is required";
    }
    String p = text("client", r.client());
    if (p == null && r.clientType() != null) {
      p = text("client_type", r.clientType());
    }
    if (p == null && r.segmentHint() != null) {
      p = text("segment_hint", r.segmentHint());
    }
    if (p == null) {
      p = entries("roles", r.roles());
    }
    if (p == null) {
      p = entries("scopes", r.scopes());
    }
    return p;
  }

  private static @Nullable String entries(String field, List<String> values) {
    if (values.size() > MAX_ENTRIES) {
      return field + " may have at most " + MAX_ENTRIES + " entries";
    }
    for (int i = 0; i < values.size(); i++) {
      String p = text(field + "[" + i + "]", values.get(i));
      if (p != null) {
        return p;
      }
    }
    return null;
  }

  /**
   * Values end up in upstream headers ({@code x-portcullis-client}) and audit records: visible
   * ASCII only, no spaces (roles and scopes are stored space-separated).
   */
  private static @Nullable String text(String field, String value) {
    if (value.isEmpty() || value.length() > MAX_TEXT) {
      return field + " must be 1 to " + MAX_TEXT + " characters";
    }
    for (int i = 0; i < value.length(); i++) {
      char c = value.charAt(i);
      if (c <= 0x20 || c >= 0x7f) {
        return field + " must be visible ASCII characters without spaces";
      }
    }
    return null;
  }

  private static List<String> distinct(List<String> values) {
    return List.copyOf(new LinkedHashSet<>(values));
  }

  @Override
  public String toString() {
    return "KeyLifecycle[" + store + "]";
  }
}
