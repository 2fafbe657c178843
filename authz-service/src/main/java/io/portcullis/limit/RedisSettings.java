package io.portcullis.limit;

import io.portcullis.identity.Secret;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Objects;
import org.jspecify.annotations.Nullable;

/**
 * {@code ratelimit.redis} of the runtime configuration: how to reach the Redis that holds shared
 * limits, protection blocks and Envoy rate limit counters. Wire-free; {@code
 * io.portcullis.limit.redis.RedissonClients} turns it into a Redisson configuration.
 *
 * <p>The addresses given to the {@link Builder} are URLs as {@code redis-cli -u} reads them, {@code
 * redis[s]://[[user:]password@]host:port[/database]}: {@link Builder#build()} takes the user info
 * and the database out of them into {@code username}, {@code password} and {@code database} (in
 * mode sentinel the user info into {@code sentinelUsername} and {@code sentinelPassword}: it is the
 * sentinels' own), so the record's {@code addresses} are bare {@code scheme://host:port} (what
 * Redisson connects to, and what may be logged), and a database or password written in a URL is
 * used, never silently dropped.
 *
 * @param mode single server, cluster, or sentinel-managed primary
 * @param addresses {@code redis://host:port} or {@code rediss://host:port} URIs: the server
 *     (single), seed nodes (cluster) or sentinels (sentinel)
 * @param sentinelMaster the primary's name under sentinel; required for {@code sentinel}
 * @param username ACL user, or {@code null} (under sentinel: the primary's and replicas')
 * @param password password, or {@code null}; never logged (under sentinel: the primary's and
 *     replicas')
 * @param sentinelUsername the sentinels' ACL user, or {@code null}; mode sentinel only
 * @param sentinelPassword the sentinels' password, or {@code null} for {@code password}; mode
 *     sentinel only; never logged
 * @param database database number (single and sentinel: the primary's; cluster has only 0); any
 *     non-negative number, as the server's {@code databases} setting is not known here (a number
 *     the server does not have fails every command, {@code ERR DB index is out of range})
 * @param timeout how long one command may take before it counts as a backend failure
 * @param connectTimeout how long opening a connection may take
 * @param retryAttempts how often Redisson retries a failed command before reporting the failure
 * @param keyPrefix the first part of every key, so several deployments can share one Redis
 */
public record RedisSettings(
    Mode mode,
    List<String> addresses,
    @Nullable String sentinelMaster,
    @Nullable String username,
    @Nullable Secret password,
    @Nullable String sentinelUsername,
    @Nullable Secret sentinelPassword,
    int database,
    Duration timeout,
    Duration connectTimeout,
    int retryAttempts,
    String keyPrefix) {

  /** The deployment shapes Redisson supports. */
  public enum Mode {
    SINGLE,
    CLUSTER,
    SENTINEL;

    /** Parses {@code single | cluster | sentinel}; {@code null} if unknown. */
    public static @Nullable Mode parse(String value) {
      return switch (value.toLowerCase(Locale.ROOT)) {
        case "single" -> SINGLE;
        case "cluster" -> CLUSTER;
        case "sentinel" -> SENTINEL;
        default -> null;
      };
    }
  }

  public RedisSettings {
    Objects.requireNonNull(mode, "mode");
    addresses = List.copyOf(addresses);
    if (addresses.isEmpty()) {
      throw new IllegalArgumentException("redis needs at least one address");
    }
    for (int i = 0; i < addresses.size(); i++) {
      Url url = Url.parse(addresses.get(i), i);
      if (!url.address().equals(addresses.get(i))) {
        throw new InvalidAddressException(
            i,
            "expected redis://host:port without user info or database (the builder takes them out)");
      }
    }
    if (mode == Mode.SENTINEL && (sentinelMaster == null || sentinelMaster.isBlank())) {
      throw new IllegalArgumentException("redis mode sentinel needs the master's name");
    }
    if (mode != Mode.SENTINEL && (sentinelUsername != null || sentinelPassword != null)) {
      throw new IllegalArgumentException("only redis mode sentinel has sentinel credentials");
    }
    if (mode == Mode.SINGLE && addresses.size() != 1) {
      throw new IllegalArgumentException("redis mode single takes exactly one address");
    }
    if (timeout.isNegative() || timeout.isZero() || connectTimeout.isNegative()) {
      throw new IllegalArgumentException("redis timeouts must be positive");
    }
    if (retryAttempts < 0 || database < 0) {
      throw new IllegalArgumentException("retry attempts and database must not be negative");
    }
    if (mode == Mode.CLUSTER && database != 0) {
      throw new IllegalArgumentException("redis mode cluster has only database 0, not " + database);
    }
    if (keyPrefix.isEmpty() || keyPrefix.indexOf('{') >= 0 || keyPrefix.indexOf('}') >= 0) {
      throw new IllegalArgumentException("key prefix must be non-empty and contain no braces");
    }
  }

  /**
   * What is wrong with one address on its own, as {@link Builder#build()} would report it, or
   * {@code null} if it is a URL Redis can use; the checks across addresses and fields (a database
   * or password that contradicts another, the mode) are {@link Builder#build()}'s. Lets a reader of
   * the configuration report every bad address at once, also when another value cannot be read.
   */
  public static @Nullable String addressProblem(String address) {
    try {
      Url.parse(address, 0);
      return null;
    } catch (InvalidAddressException e) {
      return e.getMessage();
    }
  }

  /** Settings for one local server: {@code redis://127.0.0.1:6379}, defaults otherwise. */
  public static RedisSettings defaults() {
    return builder().build();
  }

  public static Builder builder() {
    return new Builder();
  }

  @Override
  public String toString() {
    return "RedisSettings[mode="
        + mode
        + ", addresses="
        + addresses
        + ", sentinelMaster="
        + sentinelMaster
        + ", username="
        + username
        + ", password="
        + (password == null ? "none" : "redacted")
        + ", sentinelUsername="
        + sentinelUsername
        + ", sentinelPassword="
        + (sentinelPassword == null ? "none" : "redacted")
        + ", database="
        + database
        + ", timeout="
        + timeout
        + ", connectTimeout="
        + connectTimeout
        + ", retryAttempts="
        + retryAttempts
        + ", keyPrefix="
        + keyPrefix
        + "]";
  }

  /**
   * A problem with one of the addresses given to the {@link Builder}; its message never holds the
   * address's user info.
   */
  public static final class InvalidAddressException extends IllegalArgumentException {
    private static final long serialVersionUID = 1L;

    /** The address's index in the list given to the builder. */
    private final int index;

    InvalidAddressException(int index, String message) {
      super(message);
      this.index = index;
    }

    /** Which address (0 for the first, or the only one). */
    public int index() {
      return index;
    }
  }

  /**
   * One {@code redis://} or {@code rediss://} URL taken apart as {@code redis-cli -u} reads it:
   * {@code redis[s]://[[user:]password@]host:port[/database]}, the user info percent-decoded
   * ({@code %40} for {@code @}), a user info without {@code :} is the password.
   *
   * @param address {@code scheme://host:port}
   * @param username the user before {@code :} in the user info, or {@code null}
   * @param password the password in the user info, or {@code null}
   * @param database the number after the port, or {@code null} if none ({@code redis://h:6379} and
   *     {@code redis://h:6379/})
   */
  record Url(
      String address,
      @Nullable String username,
      @Nullable Secret password,
      @Nullable Integer database) {

    /**
     * Parses the address at {@code index}.
     *
     * @throws InvalidAddressException if it is not such a URL; the message shows the URL without
     *     its user info and without a query or fragment ({@code ?...}, {@code #...}), which are
     *     refused as they may hold a password
     */
    static Url parse(String url, int index) {
      int schemeEnd = url.indexOf("://");
      String scheme = schemeEnd < 0 ? "" : url.substring(0, schemeEnd);
      String rest = schemeEnd < 0 ? url : url.substring(schemeEnd + 3);
      int at = rest.lastIndexOf('@');
      String userInfo = at < 0 ? null : rest.substring(0, at);
      rest = rest.substring(at + 1);
      // a query or fragment may hold a password (?password=...): never shown, cut off here
      int query = firstOf(rest, "?#");
      String cut = query < 0 ? "" : rest.charAt(query) + "...";
      if (query >= 0) {
        rest = rest.substring(0, query);
      }
      String shown = (schemeEnd < 0 ? "" : scheme + "://") + rest;
      if (!scheme.equals("redis") && !scheme.equals("rediss")) {
        throw new InvalidAddressException(
            index, "expected a redis:// or rediss:// URL, got '" + shown + cut + "'" + FORM);
      }
      if (query >= 0) {
        throw new InvalidAddressException(
            index,
            "query parameters and fragments are not supported (give the database as /number after"
                + " the port, the password in the user info or password:), got '"
                + shown
                + cut
                + "'"
                + FORM);
      }
      int slash = rest.indexOf('/');
      String hostPort = slash < 0 ? rest : rest.substring(0, slash);
      int colon = hostPort.lastIndexOf(':');
      String host = colon < 0 ? "" : hostPort.substring(0, colon);
      String port = colon < 0 ? "" : hostPort.substring(colon + 1);
      if (host.isEmpty()
          || host.equals("[]")
          || !port.matches("[0-9]{1,5}")
          || Integer.parseInt(port) == 0
          || Integer.parseInt(port) > 65535) {
        throw new InvalidAddressException(
            index, "expected host:port after " + scheme + "://, got '" + shown + "'" + FORM);
      }
      Integer database = null;
      String path = slash < 0 ? "" : rest.substring(slash + 1);
      if (!path.isEmpty()) {
        database = path.matches("[0-9]{1,10}") ? parseDatabase(path) : null;
        if (database == null) {
          throw new InvalidAddressException(
              index,
              "expected a database number (0 or more; Redis has 0 to 15 unless its databases"
                  + " setting says otherwise) after the port, got '/"
                  + path
                  + "' in '"
                  + shown
                  + "'");
        }
      }
      String username = null;
      Secret password = null;
      if (userInfo != null) {
        int sep = userInfo.indexOf(':');
        String user = sep < 0 ? "" : percentDecode(userInfo.substring(0, sep), index, shown);
        String pw = percentDecode(userInfo.substring(sep + 1), index, shown);
        username = user.isEmpty() ? null : user;
        password = pw.isEmpty() ? null : Secret.of(pw);
      }
      return new Url(scheme + "://" + hostPort, username, password, database);
    }

    private static final String FORM = " (redis[s]://[[user:]password@]host:port[/database])";

    /** The index of the first of {@code chars} in {@code s}, or -1. */
    private static int firstOf(String s, String chars) {
      for (int i = 0; i < s.length(); i++) {
        if (chars.indexOf(s.charAt(i)) >= 0) {
          return i;
        }
      }
      return -1;
    }

    private static @Nullable Integer parseDatabase(String digits) {
      long v = Long.parseLong(digits);
      return v > Integer.MAX_VALUE ? null : (int) v;
    }

    /** RFC 3986 percent-decoding ({@code +} stays {@code +}); UTF-8. */
    private static String percentDecode(String s, int index, String shown) {
      if (s.indexOf('%') < 0) {
        return s;
      }
      java.io.ByteArrayOutputStream out = new java.io.ByteArrayOutputStream(s.length());
      for (int i = 0; i < s.length(); i++) {
        char c = s.charAt(i);
        if (c == '%') {
          int hi = i + 2 < s.length() ? Character.digit(s.charAt(i + 1), 16) : -1;
          int lo = hi < 0 ? -1 : Character.digit(s.charAt(i + 2), 16);
          if (lo < 0) {
            // never the user info itself: it holds the password
            throw new InvalidAddressException(
                index,
                "the user info of '"
                    + shown
                    + "' has a % that is not followed by two hex digits (write %25 for %)");
          }
          out.write(hi * 16 + lo);
          i += 2;
        } else {
          byte[] b = String.valueOf(c).getBytes(java.nio.charset.StandardCharsets.UTF_8);
          out.write(b, 0, b.length);
        }
      }
      return out.toString(java.nio.charset.StandardCharsets.UTF_8);
    }
  }

  /** Builds {@link RedisSettings}; not thread-safe. */
  public static final class Builder {
    private Mode mode = Mode.SINGLE;
    private List<String> addresses = List.of("redis://127.0.0.1:6379");
    private @Nullable String sentinelMaster;
    private @Nullable String username;
    private @Nullable Secret password;
    private @Nullable Integer database;
    private Duration timeout = Duration.ofMillis(250);
    private Duration connectTimeout = Duration.ofSeconds(1);
    private int retryAttempts;
    private String keyPrefix = "portcullis";

    private Builder() {}

    public Builder mode(Mode mode) {
      this.mode = mode;
      return this;
    }

    /**
     * One address, or several separated by commas (cluster seeds, sentinels); each may carry user
     * info and a database ({@code redis://:pw@host:6379/2}), which {@link #build()} takes out. In
     * mode sentinel the user info is the sentinels' credentials, {@link #username} and {@link
     * #password} the primary's and replicas'.
     */
    public Builder address(String addresses) {
      List<String> list = new ArrayList<>();
      for (String a : addresses.split(",")) {
        if (!a.isBlank()) {
          list.add(a.strip());
        }
      }
      this.addresses = list;
      return this;
    }

    /** As {@link #address(String)}, one list item per address. */
    public Builder addresses(List<String> addresses) {
      this.addresses = List.copyOf(addresses);
      return this;
    }

    public Builder sentinelMaster(@Nullable String sentinelMaster) {
      this.sentinelMaster = sentinelMaster;
      return this;
    }

    /** The ACL user (under sentinel: of the primary and replicas, not the sentinels). */
    public Builder username(@Nullable String username) {
      this.username = username;
      return this;
    }

    /** The password (under sentinel: of the primary and replicas, not the sentinels). */
    public Builder password(@Nullable Secret password) {
      this.password = password;
      return this;
    }

    /** The database, when the addresses name none (default 0). */
    public Builder database(int database) {
      this.database = database;
      return this;
    }

    /** Command timeout (default 250 ms). */
    public Builder timeout(Duration timeout) {
      this.timeout = timeout;
      return this;
    }

    /** Connect timeout (default 1 s). */
    public Builder connectTimeout(Duration connectTimeout) {
      this.connectTimeout = connectTimeout;
      return this;
    }

    /** Retries of a failed command before it is reported (default 0: fail fast, fail over). */
    public Builder retryAttempts(int retryAttempts) {
      this.retryAttempts = retryAttempts;
      return this;
    }

    /** First part of every key (default {@code portcullis}). */
    public Builder keyPrefix(String keyPrefix) {
      this.keyPrefix = keyPrefix;
      return this;
    }

    private static String conflict(String what, boolean setDirectly) {
      return "gives a "
          + what
          + " in its user info, and "
          + (setDirectly
              ? "a different " + what + " is set as well"
              : "another address gives another");
    }

    /**
     * The settings, with the user info and database of the addresses taken out of them.
     *
     * <p>In mode sentinel the user info is the sentinels' credentials, kept apart from the ones set
     * here (the primary's and replicas'), as sentinels and the primary may well have different
     * passwords: the addresses must then agree with each other, not with the ones set here.
     *
     * @throws InvalidAddressException if an address is not a URL Redis can use, or its database or
     *     credentials contradict another address or the ones set here (also: a database other than
     *     0 in mode cluster)
     * @throws IllegalArgumentException for the other problems
     */
    public RedisSettings build() {
      List<String> bare = new ArrayList<>();
      Integer db = database;
      int dbFrom = -1;
      boolean sentinel = mode == Mode.SENTINEL;
      // the URLs' user info: the sentinels' own under sentinel, every node's otherwise
      String user = sentinel ? null : username;
      int userFrom = -1;
      Secret pw = sentinel ? null : password;
      int passwordFrom = -1;
      for (int i = 0; i < addresses.size(); i++) {
        Url url = Url.parse(addresses.get(i), i);
        bare.add(url.address());
        if (url.database() != null) {
          if (mode == Mode.CLUSTER && url.database() != 0) {
            throw new InvalidAddressException(
                i,
                "names database "
                    + url.database()
                    + ", but Redis Cluster has only database 0: remove /"
                    + url.database()
                    + " from "
                    + url.address());
          }
          if (db != null && !db.equals(url.database())) {
            throw new InvalidAddressException(
                i,
                "names database "
                    + url.database()
                    + ", but "
                    + (dbFrom < 0
                        ? "database " + db + " is set as well"
                        : "another address names " + db)
                    + ": name one database");
          }
          db = url.database();
          dbFrom = i;
        }
        if (url.username() != null) {
          if (user != null && !user.equals(url.username())) {
            throw new InvalidAddressException(
                i, conflict("user", userFrom < 0) + ": give the user once");
          }
          user = url.username();
          userFrom = i;
        }
        if (url.password() != null) {
          if (pw != null && !pw.equals(url.password())) {
            throw new InvalidAddressException(
                i, conflict("password", passwordFrom < 0) + ": give the password once");
          }
          pw = url.password();
          passwordFrom = i;
        }
      }
      return new RedisSettings(
          mode,
          bare,
          sentinelMaster,
          sentinel ? username : user,
          sentinel ? password : pw,
          sentinel ? user : null,
          sentinel ? pw : null,
          db == null ? 0 : db,
          timeout,
          connectTimeout,
          retryAttempts,
          keyPrefix);
    }
  }
}
