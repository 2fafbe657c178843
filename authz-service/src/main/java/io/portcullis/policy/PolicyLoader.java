package io.portcullis.policy;

import io.portcullis.digest.Sha256;
import io.portcullis.identity.IdentityServices;
import io.portcullis.payload.JsonBodySchema;
import java.io.IOException;
import java.nio.file.InvalidPathException;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.time.InstantSource;
import java.util.HashMap;
import java.util.HexFormat;
import java.util.Map;
import java.util.Objects;
import java.util.SortedMap;
import java.util.SortedSet;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.function.Function;
import org.jspecify.annotations.Nullable;

/**
 * Loads a policy file: reads it (at most {@value #MAX_FILE_BYTES} bytes of UTF-8), parses the YAML
 * with positions, substitutes {@code ${NAME}} from the injected environment, validates everything
 * spec/policy.md says (reporting every problem at once), compiles the body schemas and then the
 * {@link Policy}.
 *
 * <p>The policy version is {@code sha256:} and the first 16 hex digits of SHA-256 over the policy
 * file's bytes followed by the bytes of every schema file it references (directly or by {@code
 * $ref}), in lexical order of their absolute paths — so editing a schema changes the version.
 *
 * <p>Thread-safe: each {@link #load} is independent. Loading does file I/O and compiles patterns
 * and schemas; call it off the request path (start-up, {@link LivePolicy#reload}). It never throws
 * for a bad policy: problems are values in {@link LoadResult.Invalid}.
 */
public final class PolicyLoader {
  /** Policy files larger than this are refused unread. */
  public static final int MAX_FILE_BYTES = 1 << 20;

  private final IdentityServices services;
  private final InstantSource clock;
  private final Function<String, @Nullable String> env;

  private PolicyLoader(
      IdentityServices services, InstantSource clock, Function<String, @Nullable String> env) {
    this.services = Objects.requireNonNull(services, "services");
    this.clock = Objects.requireNonNull(clock, "clock");
    this.env = Objects.requireNonNull(env, "env");
  }

  /**
   * A loader.
   *
   * @param services makes the credential verifiers ({@link IdentityServices#offline()} for {@code
   *     policy check} and policy tests)
   * @param clock stamps {@link Policy#loadedAt()}
   * @param env looks up {@code ${NAME}} variables ({@code System::getenv} in the service); returns
   *     {@code null} for an unset variable
   */
  public static PolicyLoader create(
      IdentityServices services, InstantSource clock, Function<String, @Nullable String> env) {
    return new PolicyLoader(services, clock, env);
  }

  /** Loads, validates and compiles {@code file}. */
  public LoadResult load(Path file) {
    String name = file.toString();
    Diagnostics d = new Diagnostics(name);
    YamlTree.Source source = YamlTree.readSource(file, "the policy file", MAX_FILE_BYTES, d);
    if (source == null) {
      return new LoadResult.Invalid(d.all());
    }
    byte[] bytes = source.bytes();
    String text = source.text();

    YamlNode root = YamlTree.read(text, d, env);
    if (root == null) {
      return new LoadResult.Invalid(d.all());
    }
    SchemaFiles schemas = new SchemaFiles(file.toAbsolutePath().getParent());
    PolicySpec spec = PolicyBinder.bind(root, d, schemas::compile);
    if (d.hasErrors()) {
      return new LoadResult.Invalid(d.all(), schemas.attempted());
    }
    PolicyLint.rules(spec, d);
    PolicyLint.unusedSchemas(schemas.directory, schemas.files.keySet(), d);
    String version = version(bytes, schemas.files);
    try {
      Policy policy = PolicyCompiler.compile(spec, services, version, name, clock.instant());
      return new LoadResult.Loaded(policy, d.warnings(), new TreeSet<>(schemas.files.keySet()));
    } catch (RuntimeException e) {
      // A verifier factory refused the configuration: the policy cannot run.
      d.error(0, 0, "identity", "cannot set up the credential verifiers: " + e.getMessage());
      return new LoadResult.Invalid(d.all(), schemas.attempted());
    }
  }

  /** {@code sha256:} + 16 hex digits over the policy bytes and each schema file's bytes. */
  static String version(byte[] policy, SortedMap<Path, byte[]> schemaFiles) {
    MessageDigest sha = Sha256.newDigest();
    sha.update(policy);
    for (byte[] b : schemaFiles.values()) {
      sha.update(b);
    }
    return "sha256:" + HexFormat.of().formatHex(sha.digest()).substring(0, 16);
  }

  /**
   * Compiles each referenced schema once per load and collects the files read (for the version) and
   * the files named inside the policy directory (for a watcher: a missing schema may appear later).
   */
  private static final class SchemaFiles {
    private final Path directory;
    private final Map<String, JsonBodySchema.Outcome> compiled = new HashMap<>();
    final SortedMap<Path, byte[]> files = new TreeMap<>();
    private final SortedSet<Path> named = new TreeSet<>();

    SchemaFiles(Path directory) {
      this.directory = directory;
    }

    JsonBodySchema.Outcome compile(String relativePath) {
      return compiled.computeIfAbsent(
          relativePath,
          rel -> {
            Path inside = insideDirectory(rel);
            if (inside != null) {
              named.add(inside);
            }
            JsonBodySchema.Outcome o = JsonBodySchema.compile(directory, rel);
            if (o instanceof JsonBodySchema.Outcome.Compiled c) {
              files.putAll(c.files());
            }
            return o;
          });
    }

    /**
     * The file {@code rel} names, if it lies inside the policy directory (and, when it exists, so
     * does its real path); else {@code null}. Only such a file is worth watching: the compiler
     * refuses every other, and a watcher must never read {@code /dev/zero} or a named pipe outside
     * the directory just because a rejected policy named it.
     */
    private @Nullable Path insideDirectory(String rel) {
      try {
        Path relative = Path.of(rel);
        if (rel.isEmpty() || relative.isAbsolute()) {
          return null;
        }
        Path base = directory.toAbsolutePath().normalize();
        Path named = base.resolve(relative).normalize();
        if (!named.startsWith(base)) {
          return null;
        }
        try {
          return named.toRealPath().startsWith(base.toRealPath()) ? named : null;
        } catch (IOException e) {
          return named; // missing for now: it may appear, and the watcher notices
        }
      } catch (InvalidPathException e) {
        return null; // reported by the compiler; there is nothing to watch
      }
    }

    /** Every schema file read or named so far. */
    SortedSet<Path> attempted() {
      SortedSet<Path> all = new TreeSet<>(named);
      all.addAll(files.keySet());
      return all;
    }
  }
}
