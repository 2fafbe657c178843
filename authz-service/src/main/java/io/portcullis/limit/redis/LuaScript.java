package io.portcullis.limit.redis;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.ExecutionException;
import org.redisson.api.RScript;
import org.redisson.api.RedissonClient;
import org.redisson.client.RedisException;
import org.redisson.client.RedisNoScriptException;
import org.redisson.client.codec.StringCodec;

/**
 * One Lua script from this package's resources, run with {@code EVALSHA} (the script travels once
 * per server, then only its SHA-1). When a server answers {@code NOSCRIPT} (restart, failover,
 * {@code SCRIPT FLUSH}) the script is loaded and the call repeated once.
 */
final class LuaScript {
  private final String name;
  private final String source;
  private final String sha;

  private LuaScript(String name, String source) {
    this.name = name;
    this.source = source;
    this.sha = sha1(source);
  }

  /** Loads {@code io/portcullis/limit/redis/<name>} from the classpath. */
  static LuaScript resource(String name) {
    try (InputStream in = LuaScript.class.getResourceAsStream(name)) {
      if (in == null) {
        throw new IllegalStateException("missing script resource " + name);
      }
      return new LuaScript(name, new String(in.readAllBytes(), StandardCharsets.UTF_8));
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  String name() {
    return name;
  }

  String source() {
    return source;
  }

  /**
   * Sends the script without waiting for its reply, {@code NOSCRIPT} handling included: a stage
   * that completes on the client's I/O thread with the reply decoded as {@code type} by the string
   * codec, exceptionally with the client's exception when Redis fails or times out.
   */
  <R> CompletionStage<R> runAsync(
      RedissonClient redis, RScript.ReturnType type, List<Object> keys, Object... args) {
    RScript script = redis.getScript(StringCodec.INSTANCE);
    return script
        .<R>evalShaAsync(RScript.Mode.READ_WRITE, sha, type, keys, args)
        .exceptionallyCompose(
            e -> {
              if (unwrap(e) instanceof RedisException r && isNoScript(r)) {
                return script
                    .scriptLoadAsync(source)
                    .thenCompose(
                        loaded ->
                            script.<R>evalShaAsync(RScript.Mode.READ_WRITE, sha, type, keys, args));
              }
              return CompletableFuture.failedFuture(unwrap(e));
            });
  }

  /** The failure inside a future's wrapper exceptions. */
  static Throwable unwrap(Throwable e) {
    Throwable t = e;
    while ((t instanceof CompletionException || t instanceof ExecutionException)
        && t.getCause() != null) {
      t = t.getCause();
    }
    return t;
  }

  /**
   * What a Redis failure says, for a {@link io.portcullis.limit.LimitBackendException} message: its
   * own message and, when the client wrapped the cause in another (a connection whose {@code
   * SELECT} or {@code AUTH} Redis refused is only "Unable to connect to Redis server"), the
   * innermost cause's too: {@code ERR DB index is out of range}, {@code WRONGPASS ...}, {@code
   * NOAUTH ...}, {@code Connection refused}. Redisson's "channel: ... data: ..." tail is left out
   * (it names the command's parameters; Redisson masks an AUTH password there, but other values
   * need not be logged).
   */
  static String describe(Throwable e) {
    Throwable t = unwrap(e);
    Throwable root = t;
    while (root.getCause() != null && root.getCause() != root) {
      root = root.getCause();
    }
    String message = withoutChannel(String.valueOf(t.getMessage()));
    String rootMessage = withoutChannel(String.valueOf(root.getMessage()));
    return root == t || message.contains(rootMessage) ? message : message + ": " + rootMessage;
  }

  private static String withoutChannel(String message) {
    int channel = message.indexOf(". channel: ");
    return channel < 0 ? message : message.substring(0, channel + 1);
  }

  private static boolean isNoScript(RedisException e) {
    return e instanceof RedisNoScriptException
        || (e.getMessage() != null && e.getMessage().contains("NOSCRIPT"));
  }

  private static String sha1(String s) {
    try {
      return HexFormat.of()
          .formatHex(MessageDigest.getInstance("SHA-1").digest(s.getBytes(StandardCharsets.UTF_8)));
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException(e);
    }
  }
}
