package io.portcullis.identity;

import io.portcullis.decision.Reason;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.math.BigDecimal;
import java.math.BigInteger;
import java.math.RoundingMode;
import java.net.URLEncoder;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.util.Base64;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Flow;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import org.jspecify.annotations.Nullable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import tools.jackson.core.JacksonException;
import tools.jackson.databind.json.JsonMapper;

/**
 * Verifies opaque bearer tokens at one RFC 7662 introspection endpoint. Made by {@link
 * IntrospectionVerifiers#forEndpoint}, which shares the HTTP client and caches.
 *
 * <p>Design. The call is {@code POST <endpoint>} with {@code
 * token=<token>&token_type_hint=access_token} (RFC 7662 §2.1), authenticated with {@code
 * client_secret_basic} (RFC 6749 §2.3.1: id and secret form-urlencoded, then Base64), redirects not
 * followed, bounded by a connect timeout, a whole-call timeout and a response size limit.
 *
 * <ul>
 *   <li>{@code "active": true}: the identity comes from the response through the endpoint's {@link
 *       ClaimMapping} ({@code sub}, {@code client_id} when the client path is absent, {@code
 *       scope}, the configured roles path); an {@code exp} in the past makes it inactive, and one
 *       that is not a number of seconds an {@link Instant} can hold makes it {@code invalid_token}
 *       (cached like an inactive answer). The result verifies from the cache until {@code min(exp,
 *       now + cache_ttl)}, checked against the clock on every hit (after {@code exp} and until
 *       {@code cache_ttl} the cache answers {@code inactive_token}). A response without a subject
 *       is {@code invalid_token}, and so is one whose {@code token_type} or {@code token_use} names
 *       another kind of token than a bearer access token (a refresh token, say: see {@link
 *       #notAnAccessToken}); both are cached like inactive tokens.
 *   <li>{@code "active": false} → {@code inactive_token} (401), cached for a short, bounded time so
 *       a flood of one dead token costs one call per TTL.
 *   <li>Anything else — unreachable, timeout, a status other than 200, a body that is not a JSON
 *       object with a boolean {@code active}, too large — fails closed: {@code
 *       identity_unavailable} (503, never cached, so the next request tries again), counted in
 *       {@code portcullis_introspection_errors_total{issuer=<endpoint name>,reason="call_failed"}},
 *       logged once when the endpoint starts failing and once when it recovers.
 * </ul>
 *
 * <p>Concurrent requests with one uncached token share one call (single flight). Distinct tokens
 * are bounded per endpoint: at most {@code max_concurrent_requests} calls are outstanding, so a
 * flood of random opaque tokens cannot turn into as many calls (and connections) to the
 * authorization server. A token that would need one more call is answered as an endpoint that
 * cannot answer, {@code identity_unavailable}, without a call; it is counted in {@code
 * portcullis_introspection_errors_total{issuer=<endpoint name>,reason="concurrency_limit"}} and
 * logged at most once a minute. Cached tokens (active or inactive) and tokens already being
 * introspected (they join the running call) never need a permit. The calling thread holds the
 * permit for the whole call and gives it back however the call ends (answer, failure, timeout,
 * interrupt).
 *
 * <p>{@link #verify} never returns {@code null}: it answers for this endpoint only, and {@link
 * CredentialChain} asks the policy's next endpoint after an {@code inactive_token}; an {@code
 * identity_unavailable} ends the search. Neither the token nor the client secret is ever logged or
 * put in a detail. Thread-safe.
 */
public final class IntrospectionVerifier implements BearerTokenVerifier {
  private static final Logger log = LoggerFactory.getLogger(IntrospectionVerifier.class);
  private static final JsonMapper MAPPER = JsonMapper.builder().build();
  private static final long BUSY_WARNING_EVERY_NANOS = TimeUnit.MINUTES.toNanos(1);

  /** {@code token_type} values (lower case) that describe an access token usable as a bearer. */
  private static final Set<String> ACCESS_TOKEN_TYPES =
      Set.of("bearer", "access_token", "urn:ietf:params:oauth:token-type:access_token");

  private static final BigDecimal MIN_EPOCH_SECOND =
      BigDecimal.valueOf(Instant.MIN.getEpochSecond());
  private static final BigDecimal MAX_EPOCH_SECOND =
      BigDecimal.valueOf(Instant.MAX.getEpochSecond());

  /**
   * A cached active result: it verifies until {@code min(exp, cacheUntil)}; from {@code exp} to
   * {@code cacheUntil} it answers {@code inactive_token} without a call.
   */
  record Active(Verification.Verified verification, @Nullable Instant exp, Instant cacheUntil) {}

  private final IntrospectionConfig config;
  private final IntrospectionVerifiers.Endpoint endpoint;
  private final HttpClient http;
  private final IntrospectionVerifiers.Settings settings;
  private final String authorization;
  private final Verification.Rejected unavailable;
  private final Verification.Rejected busy;
  private final Verification.Rejected inactive;
  private final Verification.Rejected expired;
  private final Map<JwtVerifier.TokenKey, CompletableFuture<Verification>> inflight =
      new ConcurrentHashMap<>();

  IntrospectionVerifier(
      IntrospectionConfig config,
      IntrospectionVerifiers.Endpoint endpoint,
      HttpClient http,
      IntrospectionVerifiers.Settings settings) {
    this.config = config;
    this.endpoint = endpoint;
    this.http = http;
    this.settings = settings;
    String credentials =
        URLEncoder.encode(config.clientId(), StandardCharsets.UTF_8)
            + ":"
            + URLEncoder.encode(config.clientSecret().reveal(), StandardCharsets.UTF_8);
    this.authorization =
        "Basic " + Base64.getEncoder().encodeToString(credentials.getBytes(StandardCharsets.UTF_8));
    String name = "introspection endpoint '" + config.name() + "'";
    this.unavailable =
        new Verification.Rejected(Reason.IDENTITY_UNAVAILABLE, name + " unavailable");
    this.busy =
        new Verification.Rejected(
            Reason.IDENTITY_UNAVAILABLE,
            name
                + " unavailable: max_concurrent_requests ("
                + config.maxConcurrentRequests()
                + ") calls outstanding");
    this.inactive = new Verification.Rejected(Reason.INACTIVE_TOKEN, "token inactive at " + name);
    this.expired = new Verification.Rejected(Reason.INACTIVE_TOKEN, "token expired at " + name);
  }

  @Override
  public Verification.@Nullable Verified cachedVerified(String token) {
    if (token.length() > JwtVerifier.MAX_TOKEN_CHARS) {
      return null;
    }
    Active hit = settings.active().getIfPresent(JwtVerifier.TokenKey.of(endpoint.scope(), token));
    if (hit == null) {
      return null;
    }
    Instant now = settings.clock().instant();
    boolean live = now.isBefore(hit.cacheUntil()) && (hit.exp() == null || now.isBefore(hit.exp()));
    return live && hit.verification() instanceof Verification.Verified v ? v : null;
  }

  @Override
  public Verification verify(String token) {
    if (token.length() > JwtVerifier.MAX_TOKEN_CHARS) {
      return new Verification.Rejected(Reason.INVALID_TOKEN, "token too large");
    }
    JwtVerifier.TokenKey key = JwtVerifier.TokenKey.of(endpoint.scope(), token);
    Verification known = cached(key);
    if (known != null) {
      return known;
    }
    CompletableFuture<Verification> running = inflight.get(key);
    if (running == null) {
      // Only a token not yet in flight needs a permit: joiners add no call.
      if (!endpoint.calls().tryAcquire()) {
        // The call that held this token may have ended between the lookups: it caches first.
        Verification late = cached(key);
        return late != null ? late : refuse();
      }
      CompletableFuture<Verification> mine = new CompletableFuture<>();
      running = inflight.putIfAbsent(key, mine);
      if (running == null) {
        return lead(key, token, mine);
      }
      endpoint.calls().release(); // another request started this token's call meanwhile
    }
    try {
      return running.get(settings.requestTimeout().toMillis() * 2, TimeUnit.MILLISECONDS);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      return unavailable;
    } catch (ExecutionException | TimeoutException e) {
      return unavailable;
    }
  }

  /** The cached answer for {@code key}, or {@code null} if a call is needed. */
  private @Nullable Verification cached(JwtVerifier.TokenKey key) {
    Active hit = settings.active().getIfPresent(key);
    if (hit != null) {
      Instant now = settings.clock().instant();
      if (now.isBefore(hit.cacheUntil())) {
        // The entry outlives exp (until cache_ttl), so an expired token needs no call.
        return hit.exp() != null && !now.isBefore(hit.exp()) ? expired : hit.verification();
      }
      settings.active().invalidate(key);
    }
    return settings.inactive().getIfPresent(key);
  }

  /** Makes the call for {@code key} with the permit the caller took, and gives the permit back. */
  private Verification lead(
      JwtVerifier.TokenKey key, String token, CompletableFuture<Verification> mine) {
    Verification result = unavailable;
    try {
      result = introspect(key, token);
    } finally {
      endpoint.calls().release();
      mine.complete(result);
      inflight.remove(key, mine);
    }
    return result;
  }

  /** A token not sent because the endpoint's calls are all taken: counted, logged once a minute. */
  private Verification refuse() {
    endpoint.refused().increment();
    long now = settings.ticker().getAsLong();
    long next = endpoint.nextBusyWarning().get();
    if (now - next >= 0
        && endpoint.nextBusyWarning().compareAndSet(next, now + BUSY_WARNING_EVERY_NANOS)) {
      log.warn(
          "introspection endpoint '{}' has max_concurrent_requests ({}) calls outstanding: tokens"
              + " neither cached nor being introspected are answered identity_unavailable without"
              + " a call. A flood of distinct tokens, or an endpoint slower than the request rate"
              + " allows. (Logged at most once a minute.)",
          config.name(),
          config.maxConcurrentRequests());
    }
    return busy;
  }

  private Verification introspect(JwtVerifier.TokenKey key, String token) {
    Map<String, Object> response;
    try {
      response = call(token);
    } catch (IntrospectionFailure e) {
      endpoint.errors().increment();
      if (endpoint.failing().compareAndSet(false, true)) {
        log.warn("introspection endpoint '{}' fails: {}", config.name(), e.getMessage());
      }
      return unavailable;
    }
    if (endpoint.failing().compareAndSet(true, false)) {
      log.info("introspection endpoint '{}' answers again", config.name());
    }
    if (!Boolean.TRUE.equals(response.get("active"))) {
      settings.inactive().put(key, inactive);
      return inactive;
    }
    String notAccess = notAnAccessToken(response);
    if (notAccess != null) {
      Verification.Rejected wrongKind =
          new Verification.Rejected(
              Reason.INVALID_TOKEN,
              "introspection endpoint '"
                  + config.name()
                  + "' describes a token that is not an access token ("
                  + notAccess
                  + ")");
      settings.inactive().put(key, wrongKind);
      return wrongKind;
    }
    Object expMember = response.get("exp");
    Instant exp = expMember == null ? null : epochSeconds(expMember);
    if (expMember != null && exp == null) {
      Verification.Rejected badExp =
          new Verification.Rejected(
              Reason.INVALID_TOKEN,
              "introspection endpoint '"
                  + config.name()
                  + "' answers an exp that is not a time (seconds since the epoch)");
      settings.inactive().put(key, badExp);
      return badExp;
    }
    Instant now = settings.clock().instant();
    if (exp != null && !now.isBefore(exp)) {
      settings.inactive().put(key, expired);
      return expired;
    }
    // The endpoint's policy name is the identity's issuer, so that segments can match on it.
    Identity identity =
        config.claims().identity(CredentialType.INTROSPECTION, response, exp, config.name());
    if (identity == null) {
      Verification.Rejected noSubject =
          new Verification.Rejected(
              Reason.INVALID_TOKEN,
              "introspection endpoint '"
                  + config.name()
                  + "' names no usable subject for the token");
      settings.inactive().put(key, noSubject);
      return noSubject;
    }
    Active active =
        new Active(new Verification.Verified(identity), exp, now.plus(config.cacheTtl()));
    settings.active().put(key, active);
    return active.verification();
  }

  /** A failed call; its message names what failed, never the token or the secret. */
  private static final class IntrospectionFailure extends Exception {
    private static final long serialVersionUID = 1L;

    IntrospectionFailure(String message) {
      super(message, null, false, false);
    }
  }

  /** One introspection call: the response as a JSON object with a boolean {@code active}. */
  private Map<String, Object> call(String token) throws IntrospectionFailure {
    String form =
        "token="
            + URLEncoder.encode(token, StandardCharsets.UTF_8)
            + "&token_type_hint=access_token";
    HttpRequest request =
        HttpRequest.newBuilder(config.endpoint())
            .timeout(settings.requestTimeout())
            .header("Authorization", authorization)
            .header("Content-Type", "application/x-www-form-urlencoded")
            .header("Accept", "application/json")
            .POST(HttpRequest.BodyPublishers.ofString(form, StandardCharsets.UTF_8))
            .build();
    HttpResponse<byte[]> response;
    CompletableFuture<HttpResponse<byte[]>> pending =
        http.sendAsync(request, info -> new LimitedBody(settings.maxResponseBytes()));
    try {
      response = pending.get(settings.requestTimeout().toMillis(), TimeUnit.MILLISECONDS);
    } catch (InterruptedException e) {
      pending.cancel(true);
      Thread.currentThread().interrupt();
      throw new IntrospectionFailure("interrupted");
    } catch (TimeoutException e) {
      pending.cancel(true);
      throw new IntrospectionFailure("no answer within " + settings.requestTimeout());
    } catch (ExecutionException e) {
      Throwable cause = e.getCause() == null ? e : e.getCause();
      throw new IntrospectionFailure(cause.getClass().getSimpleName() + ": " + cause.getMessage());
    }
    if (response.statusCode() != 200) {
      throw new IntrospectionFailure("HTTP status " + response.statusCode());
    }
    Object parsed;
    try {
      parsed = MAPPER.readValue(response.body(), Object.class);
    } catch (JacksonException e) {
      throw new IntrospectionFailure("the response is not JSON");
    }
    if (!(parsed instanceof Map<?, ?> map) || !(map.get("active") instanceof Boolean)) {
      throw new IntrospectionFailure("the response is not an object with a boolean 'active'");
    }
    @SuppressWarnings("unchecked")
    Map<String, Object> object = (Map<String, Object>) map;
    return object;
  }

  /**
   * Why the answer describes a token other than a bearer access token, naming the member and (when
   * printable and short) its value, or {@code null}. RFC 7662 §2.1 lets the server introspect a
   * token of any type whatever {@code token_type_hint} says, so a refresh token sent as a bearer
   * token comes back {@code active}: only the answer says what it is.
   *
   * <ul>
   *   <li>{@code token_type} (RFC 7662 §2.2: the RFC 6749 §5.1 access token type, compared
   *       case-insensitively): {@code Bearer}, or what servers that report a token's use there
   *       write for an access token, {@code access_token} and RFC 8693's {@code
   *       urn:ietf:params:oauth:token-type:access_token}. Anything else is not accepted: {@code
   *       refresh_token}, Keycloak's {@code Refresh} and {@code Offline}, RFC 8693's {@code N_A}
   *       ("not an access token"), and {@code DPoP} (RFC 9449: a sender-constrained token is not to
   *       be accepted without its proof, which this service does not check).
   *   <li>{@code token_use} (Ory Hydra): {@code access_token} only.
   * </ul>
   *
   * Absent members (or JSON {@code null}) say nothing, as RFC 7662 makes them optional.
   */
  private static @Nullable String notAnAccessToken(Map<String, Object> response) {
    Object type = response.get("token_type");
    if (type != null
        && !(type instanceof String t && ACCESS_TOKEN_TYPES.contains(t.toLowerCase(Locale.ROOT)))) {
      return "token_type" + shown(type);
    }
    Object use = response.get("token_use");
    if (use != null && !(use instanceof String u && u.equalsIgnoreCase("access_token"))) {
      return "token_use" + shown(use);
    }
    return null;
  }

  /** {@code " 'refresh_token'"} for a short printable string; nothing for anything else. */
  private static String shown(Object value) {
    return value instanceof String v
            && v.length() <= 64
            && v.chars().allMatch(c -> c > 0x20 && c < 0x7f)
        ? " '" + v + "'"
        : "";
  }

  /**
   * {@code exp} as RFC 7662 gives it (seconds since the epoch, a fraction rounded down), or {@code
   * null} if it is not a number an {@link Instant} can hold: a string, an infinity, {@code 1e300}
   * or an integer beyond {@code long}. Such an answer is {@code invalid_token}; converting it used
   * to throw out of {@link #verify} (a 500 for every retry, each one a new call).
   */
  private static @Nullable Instant epochSeconds(Object value) {
    BigDecimal seconds;
    switch (value) {
      case Integer i -> seconds = BigDecimal.valueOf(i);
      case Long l -> seconds = BigDecimal.valueOf(l);
      case BigInteger b -> seconds = new BigDecimal(b);
      case BigDecimal d -> seconds = d;
      case Double d when Double.isFinite(d) -> seconds = BigDecimal.valueOf(d);
      case Float f when Float.isFinite(f) -> seconds = BigDecimal.valueOf(f.doubleValue());
      default -> {
        return null;
      }
    }
    if (seconds.precision() - seconds.scale() > 19) {
      return null; // more integer digits than a long: out of range, and not worth expanding
    }
    BigDecimal whole = seconds.setScale(0, RoundingMode.FLOOR);
    if (whole.compareTo(MIN_EPOCH_SECOND) < 0 || whole.compareTo(MAX_EPOCH_SECOND) > 0) {
      return null;
    }
    return Instant.ofEpochSecond(whole.longValueExact());
  }

  @Override
  public String toString() {
    return "IntrospectionVerifier[" + config.name() + " " + config.endpoint() + "]";
  }

  /** Collects a response body up to a limit; a larger body fails the call. */
  private static final class LimitedBody implements HttpResponse.BodySubscriber<byte[]> {
    private final int limit;
    private final ByteArrayOutputStream out = new ByteArrayOutputStream();
    private final CompletableFuture<byte[]> body = new CompletableFuture<>();
    private Flow.@Nullable Subscription subscription;

    LimitedBody(int limit) {
      this.limit = limit;
    }

    @Override
    public CompletionStage<byte[]> getBody() {
      return body;
    }

    @Override
    public void onSubscribe(Flow.Subscription s) {
      this.subscription = s;
      s.request(Long.MAX_VALUE);
    }

    @Override
    public void onNext(List<ByteBuffer> items) {
      if (body.isDone()) {
        return;
      }
      for (ByteBuffer b : items) {
        if (out.size() + b.remaining() > limit) {
          if (subscription != null) {
            subscription.cancel();
          }
          body.completeExceptionally(new IOException("response larger than " + limit + " bytes"));
          return;
        }
        byte[] chunk = new byte[b.remaining()];
        b.get(chunk);
        out.writeBytes(chunk);
      }
    }

    @Override
    public void onError(Throwable t) {
      body.completeExceptionally(t);
    }

    @Override
    public void onComplete() {
      body.complete(out.toByteArray());
    }
  }
}
