package io.portcullis.payload;

import com.networknt.schema.AbsoluteIri;
import com.networknt.schema.Error;
import com.networknt.schema.Schema;
import com.networknt.schema.SchemaException;
import com.networknt.schema.SchemaLocation;
import com.networknt.schema.SchemaRegistry;
import com.networknt.schema.SchemaRegistryConfig;
import com.networknt.schema.SpecificationVersion;
import com.networknt.schema.ValidationLimitExceededException;
import com.networknt.schema.path.NodePath;
import com.networknt.schema.resource.InputStreamSource;
import com.networknt.schema.resource.SchemaLoader;
import io.portcullis.request.Body;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.InvalidPathException;
import java.nio.file.Path;
import java.util.Collections;
import java.util.HashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.SortedMap;
import java.util.TreeMap;
import org.jspecify.annotations.Nullable;
import tools.jackson.core.JacksonException;
import tools.jackson.core.StreamReadConstraints;
import tools.jackson.core.StreamReadFeature;
import tools.jackson.core.TokenStreamLocation;
import tools.jackson.core.exc.StreamConstraintsException;
import tools.jackson.core.json.JsonFactory;
import tools.jackson.databind.DeserializationFeature;
import tools.jackson.databind.JsonNode;
import tools.jackson.databind.json.JsonMapper;

/**
 * A {@code body_schema}: JSON Schema 2020-12 (networknt json-schema-validator) compiled once per
 * policy load.
 *
 * <p>Loading ({@link #compile}) is offline and confined: the schema file and every file it
 * references by a relative {@code $ref} must lie inside the policy directory (symbolic links are
 * resolved first); remote references ({@code http:}, {@code https:}, anything but {@code file:})
 * are refused at load time. The schema document is checked against the 2020-12 meta-schema, and
 * every {@code $ref} is resolved before the policy is accepted.
 *
 * <p>Validation ({@link #validate}) accepts one {@code application/json} or {@code *}{@code
 * /*+json} media type (parameters allowed, parsed strictly: see {@link #isJsonMediaType}), parses
 * the body with Jackson with strict limits, and reports the first failing instance location and
 * keyword, e.g. {@code $.quantity: minimum}. Problems never quote the body: values are never shown,
 * and object keys are shown only when the schema itself names them (otherwise {@code *}). Limits:
 * bodies of at most {@value #MAX_BODY_BYTES} bytes, nesting depth {@value #MAX_DEPTH}, numbers of
 * at most 100 digits, and at most {@value #MAX_EVALUATION_STEPS} schema evaluation steps. Duplicate
 * object keys and trailing content are invalid, so that Portcullis and the upstream cannot read one
 * body two ways.
 *
 * <p>Regular expressions ({@code pattern}, {@code patternProperties}) are compiled at load with
 * RE2/J ({@link Re2jRegularExpressionFactory}) and match in time linear in the value; a pattern RE2
 * cannot run (lookaround, backreferences) is refused at load, naming the file and the JSON pointer
 * where it is written.
 *
 * <p>{@code format} is asserted, not just an annotation: a string that is not a valid {@code email}
 * (or {@code uuid}, {@code date-time}, ...) fails like any other keyword. Only the formats of
 * {@link BodyFormats} are allowed, each checked in time linear in the value (or on a value no
 * longer than its RFC allows); a schema naming any other format, {@code regex} included, is refused
 * at load, naming the file and the JSON pointer of the keyword. A referenced file that declares
 * another {@code $schema} than 2020-12 is refused too.
 *
 * <p>Immutable and thread-safe; {@link #validate} does no I/O and compiles nothing.
 */
public final class JsonBodySchema implements BodySchema {
  /** Bodies larger than this are invalid without parsing. */
  public static final int MAX_BODY_BYTES = 1 << 20;

  /** Deepest nesting of arrays and objects in a body. */
  public static final int MAX_DEPTH = 64;

  /** Bound on schema evaluation work per body (guards against pathological schemas/bodies). */
  public static final long MAX_EVALUATION_STEPS = 100_000;

  static final int MAX_SCHEMA_BYTES = 1 << 20;

  private static final String DRAFT_2020_12 = "https://json-schema.org/draft/2020-12/schema";

  /** Every schema's regular expressions run on RE2/J (linear time), never on java.util.regex. */
  private static final SchemaRegistryConfig REGISTRY_CONFIG =
      SchemaRegistryConfig.builder()
          .regularExpressionFactory(Re2jRegularExpressionFactory.INSTANCE)
          .build();

  private static final JsonMapper BODY_MAPPER = strictMapper(MAX_BODY_BYTES);
  private static final JsonMapper SCHEMA_MAPPER = strictMapper(MAX_SCHEMA_BYTES);

  private final String source;
  private final Schema schema;
  private final Set<String> schemaNames;

  private JsonBodySchema(String source, Schema schema, Set<String> schemaNames) {
    this.source = source;
    this.schema = schema;
    this.schemaNames = Set.copyOf(schemaNames);
  }

  /** What {@link #compile} produced. */
  public sealed interface Outcome permits Outcome.Compiled, Outcome.Failed {

    /**
     * The schema compiled.
     *
     * @param schema the compiled schema
     * @param files every file read (the schema and what it references), by absolute normalized path
     *     in lexical order, with the bytes that were compiled (for the policy version hash)
     */
    record Compiled(JsonBodySchema schema, SortedMap<Path, byte[]> files) implements Outcome {
      public Compiled {
        files = Collections.unmodifiableSortedMap(new TreeMap<>(files));
      }
    }

    /**
     * The schema cannot be used.
     *
     * @param problem what is wrong, naming the file (relative as written) and, where known, the
     *     place in it
     */
    record Failed(String problem) implements Outcome {}
  }

  /**
   * Loads and compiles a schema file.
   *
   * @param policyDirectory the directory of the policy file; the schema and its references must be
   *     inside it
   * @param relativePath the {@code body_schema} value, relative to {@code policyDirectory}
   * @return the compiled schema, or why it cannot be used; never throws for a bad schema
   */
  public static Outcome compile(Path policyDirectory, String relativePath) {
    Path root;
    try {
      root = policyDirectory.toAbsolutePath().normalize().toRealPath();
    } catch (IOException e) {
      return new Outcome.Failed("cannot resolve the policy directory: " + e.getMessage());
    }
    Path file;
    try {
      Path rel = Path.of(relativePath);
      if (relativePath.isEmpty() || rel.isAbsolute()) {
        return new Outcome.Failed(
            "'" + relativePath + "' must be a path relative to the policy file");
      }
      file = root.resolve(rel).normalize();
    } catch (InvalidPathException e) {
      return new Outcome.Failed("'" + relativePath + "' is not a valid path");
    }
    Confined loader = new Confined(root);
    byte[] bytes;
    try {
      bytes = loader.read(file);
    } catch (IOException e) {
      return new Outcome.Failed(describe(relativePath, e));
    }
    if (bytes == null) {
      return new Outcome.Failed(
          "schema file '" + relativePath + "' is outside the policy directory");
    }
    JsonNode node;
    try {
      node = SCHEMA_MAPPER.readTree(bytes);
    } catch (JacksonException e) {
      return new Outcome.Failed(
          "schema file '"
              + relativePath
              + "' is not valid JSON"
              + at(e.getLocation())
              + ": "
              + e.getOriginalMessage());
    }
    if (node == null || !(node.isObject() || node.isBoolean())) {
      return new Outcome.Failed(
          "schema file '" + relativePath + "' must hold a JSON object (or a boolean) schema");
    }
    JsonNode declared = node.isObject() ? node.get("$schema") : null;
    if (declared != null && !(declared.isString() && isDraft202012(declared.asString()))) {
      return new Outcome.Failed(
          "schema file '"
              + relativePath
              + "' declares $schema "
              + declared
              + "; body schemas are JSON Schema 2020-12 ("
              + DRAFT_2020_12
              + ")");
    }
    String metaProblem = metaSchemaProblem(node);
    if (metaProblem != null) {
      return new Outcome.Failed(
          "schema file '" + relativePath + "' is not a valid JSON Schema 2020-12: " + metaProblem);
    }
    SchemaLoader schemaLoader =
        SchemaLoader.builder()
            .allow(iri -> "file".equals(iri.getScheme()))
            .resourceLoaders(r -> r.add(loader::resource))
            .build();
    // Only the body-schema dialect: a referenced file declaring another $schema is refused too,
    // so every format keyword is one of BodyFormats.
    SchemaRegistry registry =
        SchemaRegistry.withDialect(
            BodyFormats.DIALECT,
            b -> b.schemaLoader(schemaLoader).schemaRegistryConfig(REGISTRY_CONFIG));
    Schema schema;
    try {
      // Builds every keyword validator now, so every pattern is compiled and every format looked
      // up at load, not per request.
      schema = registry.getSchema(SchemaLocation.of(file.toUri().toString()), node);
      schema.initializeValidators();
    } catch (RuntimeException e) {
      Re2jRegularExpressionFactory.UnsupportedPattern unsupported =
          cause(e, Re2jRegularExpressionFactory.UnsupportedPattern.class);
      BodyFormats.UnsupportedFormat format = cause(e, BodyFormats.UnsupportedFormat.class);
      // The confined loader's own reason (outside the directory, missing file) is clearer than
      // the validator's wrapping of it.
      String problem =
          unsupported != null
              ? "pattern '"
                  + unsupported.pattern()
                  + "'"
                  + locate(unsupported.pattern(), relativePath, node, loader)
                  + " is not supported: "
                  + unsupported.reason()
              : format != null
                  ? "format '"
                      + format.format()
                      + "'"
                      + locate(format.location(), root)
                      + " is not supported: "
                      + format.reason()
                  : loader.failure != null
                      ? loader.failure
                      : e instanceof SchemaException se ? schemaProblem(se, root) : e.getMessage();
      return new Outcome.Failed("schema file '" + relativePath + "' does not compile: " + problem);
    }
    if (loader.failure != null) {
      return new Outcome.Failed(
          "schema file '" + relativePath + "' does not compile: " + loader.failure);
    }
    Set<String> names = new HashSet<>();
    collectNames(node, names);
    for (byte[] referenced : loader.files.values()) {
      try {
        collectNames(SCHEMA_MAPPER.readTree(referenced), names);
      } catch (JacksonException e) {
        // Already compiled by the validator; a file it read must have parsed there too.
      }
    }
    return new Outcome.Compiled(new JsonBodySchema(relativePath, schema, names), loader.files);
  }

  @Override
  public @Nullable String validate(Body body, @Nullable String contentType) {
    if (!isJsonMediaType(contentType)) {
      return "content-type must be one JSON media type (application/json or */*+json)";
    }
    if (body.isEmpty()) {
      return "body is empty; expected JSON";
    }
    if (body.length() > MAX_BODY_BYTES) {
      return "body is larger than " + MAX_BODY_BYTES + " bytes";
    }
    JsonNode node;
    try {
      node = BODY_MAPPER.readTree(body.unsafeBytes());
    } catch (StreamConstraintsException e) {
      return "body exceeds the JSON limits (nesting depth "
          + MAX_DEPTH
          + ", 100-digit numbers, "
          + MAX_BODY_BYTES
          + " bytes)";
    } catch (JacksonException e) {
      // Jackson's messages quote the offending input: report only where it failed.
      return "body is not valid JSON" + at(e.getLocation());
    }
    if (node == null || node.isMissingNode()) {
      return "body is empty; expected JSON";
    }
    List<Error> errors;
    try {
      errors =
          schema.validate(
              node,
              ctx ->
                  ctx.executionConfig(
                      c ->
                          c.maxEvaluationSteps(MAX_EVALUATION_STEPS)
                              .formatAssertionsEnabled(true)));
    } catch (ValidationLimitExceededException e) {
      return "body is too complex to validate";
    } catch (RuntimeException e) {
      // A keyword that throws on a value (a number beyond a double's range is infinity, which some
      // checks cannot compare) judges the body invalid: a deny like any other, audited, and no
      // 500 with a stack trace per request for a client to flood the log with.
      return "body cannot be validated: a value no check of the schema can judge";
    }
    if (errors.isEmpty()) {
      return null;
    }
    String first = render(errors.get(0));
    return errors.size() == 1
        ? first
        : first
            + " (and "
            + (errors.size() - 1)
            + " more problem"
            + (errors.size() > 2 ? "s" : "")
            + ")";
  }

  @Override
  public String source() {
    return source;
  }

  @Override
  public String toString() {
    return "JsonBodySchema[" + source + "]";
  }

  /**
   * {@code $.items[2].quantity: minimum}: the instance location with object keys the schema does
   * not name replaced by {@code *}, and the failing keyword. Never a value from the body.
   */
  private String render(Error e) {
    StringBuilder sb = new StringBuilder("$");
    NodePath location = e.getInstanceLocation();
    if (location != null) {
      for (int i = 0; i < location.getNameCount(); i++) {
        Object element = location.getElement(i);
        if (element instanceof Integer index) {
          sb.append('[').append(index).append(']');
        } else {
          String name = String.valueOf(element);
          sb.append('.').append(schemaNames.contains(name) ? name : "*");
        }
      }
    }
    String keyword = e.getKeyword() == null ? "invalid" : e.getKeyword();
    sb.append(": ").append(keyword);
    String property = e.getProperty();
    if (property != null
        && schemaNames.contains(property)
        && (keyword.equals("required") || keyword.equals("dependentRequired"))) {
      sb.append(" '").append(property).append('\'');
    }
    return sb.toString();
  }

  /**
   * Whether {@code contentType} is one JSON media type: {@code application/json} or {@code
   * <type>/<subtype>+json}, parsed strictly by RFC 9110 §8.3.1: {@code type "/" subtype} (tokens,
   * compared case-insensitively), then {@code *( OWS ";" OWS [ name "=" ( token / quoted-string ) ]
   * )}, with optional blanks around the whole value. Anything else is not JSON, however it ends: a
   * list ({@code ,} anywhere, also the form repeated {@code Content-Type} headers take once
   * joined), blanks inside or around the {@code /}, an empty type or subtype, a character outside
   * the grammar (non-ASCII included). Frameworks that cut the value at the first {@code ,} or blank
   * (Rack, PHP) would read another media type there, and a body this service judged as JSON could
   * reach the upstream as a form.
   */
  static boolean isJsonMediaType(@Nullable String contentType) {
    if (contentType == null || contentType.indexOf(',') >= 0) {
      return false;
    }
    int start = 0;
    int end = contentType.length();
    while (start < end && isBlank(contentType.charAt(start))) {
      start++;
    }
    while (end > start && isBlank(contentType.charAt(end - 1))) {
      end--;
    }
    String s = contentType.substring(start, end);
    int slash = tokenEnd(s, 0);
    if (slash == 0 || slash == s.length() || s.charAt(slash) != '/') {
      return false;
    }
    int subtypeEnd = tokenEnd(s, slash + 1);
    if (subtypeEnd == slash + 1 || !parameters(s, subtypeEnd)) {
      return false;
    }
    String type = s.substring(0, slash).toLowerCase(Locale.ROOT);
    String subtype = s.substring(slash + 1, subtypeEnd).toLowerCase(Locale.ROOT);
    if (type.equals("application") && subtype.equals("json")) {
      return true;
    }
    return subtype.endsWith("+json") && subtype.length() > "+json".length();
  }

  /**
   * {@code *( OWS ";" OWS [ token "=" ( token / quoted-string ) ] )} from {@code at} to the end.
   */
  private static boolean parameters(String s, int at) {
    int i = at;
    while (true) {
      while (i < s.length() && isBlank(s.charAt(i))) {
        i++;
      }
      if (i == s.length()) {
        return true;
      }
      if (s.charAt(i) != ';') {
        return false;
      }
      i++;
      while (i < s.length() && isBlank(s.charAt(i))) {
        i++;
      }
      if (i == s.length() || s.charAt(i) == ';') {
        continue; // an empty parameter (RFC 9110 allows "a/b;" and "a/b; ;c=d")
      }
      int nameEnd = tokenEnd(s, i);
      if (nameEnd == i || nameEnd == s.length() || s.charAt(nameEnd) != '=') {
        return false;
      }
      i = nameEnd + 1;
      if (i < s.length() && s.charAt(i) == '"') {
        i = quotedStringEnd(s, i);
        if (i < 0) {
          return false;
        }
      } else {
        int valueEnd = tokenEnd(s, i);
        if (valueEnd == i) {
          return false;
        }
        i = valueEnd;
      }
    }
  }

  /** The index after the quoted-string opening at {@code open}, or -1 (no obs-text accepted). */
  private static int quotedStringEnd(String s, int open) {
    for (int i = open + 1; i < s.length(); i++) {
      char c = s.charAt(i);
      if (c == '"') {
        return i + 1;
      }
      if (c == '\\') {
        i++;
        if (i == s.length() || !(isBlank(s.charAt(i)) || isVisible(s.charAt(i)))) {
          return -1;
        }
      } else if (!(isBlank(c) || isVisible(c))) {
        return -1;
      }
    }
    return -1;
  }

  /** The index after the longest run of RFC 9110 tchar starting at {@code from}. */
  private static int tokenEnd(String s, int from) {
    int i = from;
    while (i < s.length() && isTchar(s.charAt(i))) {
      i++;
    }
    return i;
  }

  private static boolean isTchar(char c) {
    return (c >= 'a' && c <= 'z')
        || (c >= 'A' && c <= 'Z')
        || (c >= '0' && c <= '9')
        || "!#$%&'*+-.^_`|~".indexOf(c) >= 0;
  }

  private static boolean isBlank(char c) {
    return c == ' ' || c == '\t';
  }

  private static boolean isVisible(char c) {
    return c >= 0x21 && c <= 0x7e;
  }

  private static boolean isDraft202012(String id) {
    String s = id.endsWith("#") ? id.substring(0, id.length() - 1) : id;
    return s.equals(DRAFT_2020_12);
  }

  private static final class MetaSchemaHolder {
    static final Schema META =
        SchemaRegistry.withDefaultDialect(
                SpecificationVersion.DRAFT_2020_12, b -> b.schemaRegistryConfig(REGISTRY_CONFIG))
            .getSchema(SchemaLocation.of(DRAFT_2020_12));
  }

  /** Checks the schema document against the 2020-12 meta-schema (bundled; no network). */
  private static @Nullable String metaSchemaProblem(JsonNode schemaDocument) {
    List<Error> errors = MetaSchemaHolder.META.validate(schemaDocument);
    if (errors.isEmpty()) {
      return null;
    }
    Error e = errors.get(0);
    NodePath at = e.getInstanceLocation();
    return (at == null ? "$" : at.toString()) + ": " + e.getMessage();
  }

  private static <T extends Throwable> @Nullable T cause(Throwable e, Class<T> type) {
    for (Throwable t = e; t != null; t = t.getCause()) {
      if (type.isInstance(t)) {
        return type.cast(t);
      }
    }
    return null;
  }

  /**
   * {@code " at order.json#/properties/email/format"}: the keyword's file, relative to the policy
   * directory, and its JSON pointer; empty if the file is not one under {@code root}.
   */
  private static String locate(SchemaLocation location, Path root) {
    try {
      Path file = Path.of(URI.create(location.getAbsoluteIri().toString())).normalize();
      if (!file.startsWith(root)) {
        return "";
      }
      return " at " + root.relativize(file) + "#" + location.getFragment();
    } catch (IllegalArgumentException | java.nio.file.FileSystemNotFoundException e) {
      return "";
    }
  }

  /**
   * {@code " at order.json#/properties/code/pattern"}: where a refused pattern is written, as the
   * file (relative to the policy directory) and the JSON pointer of the {@code pattern} keyword or
   * {@code patternProperties} member; empty if it cannot be found. The validator does not say which
   * keyword it was compiling, so the schema documents are searched for the pattern's text.
   */
  private static String locate(String pattern, String relativePath, JsonNode node, Confined read) {
    String pointer = pointerTo(pattern, node, "");
    if (pointer != null) {
      return " at " + relativePath + "#" + pointer;
    }
    for (Map.Entry<Path, byte[]> f : read.files.entrySet()) {
      try {
        pointer = pointerTo(pattern, SCHEMA_MAPPER.readTree(f.getValue()), "");
      } catch (JacksonException e) {
        continue; // compiled by the validator, so it parsed there
      }
      if (pointer != null) {
        return " at " + read.root.relativize(f.getKey()) + "#" + pointer;
      }
    }
    return "";
  }

  private static @Nullable String pointerTo(String pattern, JsonNode n, String at) {
    if (n.isObject()) {
      for (Map.Entry<String, JsonNode> e : n.properties()) {
        String here = at + "/" + e.getKey().replace("~", "~0").replace("/", "~1");
        JsonNode v = e.getValue();
        if (e.getKey().equals("pattern") && v.isString() && v.asString().equals(pattern)) {
          return here;
        }
        if (e.getKey().equals("patternProperties") && v.isObject() && v.has(pattern)) {
          return here + "/" + pattern.replace("~", "~0").replace("/", "~1");
        }
        String inside = pointerTo(pattern, v, here);
        if (inside != null) {
          return inside;
        }
      }
    } else if (n.isArray()) {
      for (int i = 0; i < n.size(); i++) {
        String inside = pointerTo(pattern, n.get(i), at + "/" + i);
        if (inside != null) {
          return inside;
        }
      }
    }
    return null;
  }

  private static String schemaProblem(SchemaException e, Path root) {
    String message = e.getMessage() == null ? e.getClass().getSimpleName() : e.getMessage();
    if (message.contains("is not allowed to be loaded")) {
      return "a $ref names a remote or non-file schema ("
          + message.replaceAll(".*'(.*)'.*", "$1")
          + "): references must be relative files inside the policy directory; schemas are"
          + " loaded without network";
    }
    return message.replace(root.toUri().toString(), "");
  }

  private static String describe(String relativePath, IOException e) {
    if (e instanceof java.nio.file.NoSuchFileException) {
      return "schema file '" + relativePath + "' does not exist";
    }
    if (e instanceof Unreadable) {
      return "schema file '" + relativePath + "' " + e.getMessage();
    }
    return "cannot read schema file '" + relativePath + "': " + e.getClass().getSimpleName();
  }

  private static String at(@Nullable TokenStreamLocation l) {
    if (l == null || l.getLineNr() < 1) {
      return "";
    }
    return " (line " + l.getLineNr() + ", column " + l.getColumnNr() + ")";
  }

  /** Property names the schema declares: safe to show, because they come from the policy. */
  private static void collectNames(@Nullable JsonNode n, Set<String> names) {
    if (n == null) {
      return;
    }
    if (n.isObject()) {
      for (Map.Entry<String, JsonNode> e : n.properties()) {
        String k = e.getKey();
        JsonNode v = e.getValue();
        if ((k.equals("properties")
                || k.equals("dependentRequired")
                || k.equals("dependentSchemas"))
            && v.isObject()) {
          v.propertyNames().forEach(names::add);
        } else if (k.equals("required") && v.isArray()) {
          v.forEach(x -> names.add(x.asString()));
        }
        collectNames(v, names);
      }
    } else if (n.isArray()) {
      n.forEach(x -> collectNames(x, names));
    }
  }

  private static JsonMapper strictMapper(int maxBytes) {
    JsonFactory factory =
        JsonFactory.builder()
            .streamReadConstraints(
                StreamReadConstraints.builder()
                    .maxNestingDepth(MAX_DEPTH)
                    .maxNumberLength(100)
                    .maxStringLength(maxBytes)
                    .maxNameLength(1024)
                    .maxDocumentLength(maxBytes)
                    .build())
            .enable(StreamReadFeature.STRICT_DUPLICATE_DETECTION)
            .build();
    return JsonMapper.builder(factory)
        .enable(DeserializationFeature.FAIL_ON_TRAILING_TOKENS)
        .build();
  }

  /** A schema file that exists but cannot be used as one; the message says why. */
  private static final class Unreadable extends IOException {
    private static final long serialVersionUID = 1L;

    Unreadable(String why) {
      super(why);
    }
  }

  /**
   * Reads files only inside {@code root} (after resolving symbolic links), remembering what it
   * read. Used by the schema loader for relative {@code $ref}s.
   */
  private static final class Confined {
    private final Path root;
    final SortedMap<Path, byte[]> files = new TreeMap<>();
    @Nullable String failure;

    Confined(Path root) {
      this.root = root;
    }

    /**
     * The file's bytes, or {@code null} if it lies outside the root.
     *
     * @throws Unreadable if it is not a regular file or is too large
     */
    byte @Nullable [] read(Path file) throws IOException {
      Path normalized = file.toAbsolutePath().normalize();
      if (!normalized.startsWith(root)) {
        return null;
      }
      Path real = normalized.toRealPath();
      if (!real.startsWith(root)) {
        return null;
      }
      // A named pipe would block the reload until something writes to it, and a device's size
      // says nothing about what reading it returns (/dev/zero never ends): read regular files
      // only, and never more than the cap, whatever the size claims.
      if (!Files.isRegularFile(real)) {
        throw new Unreadable("is not a regular file");
      }
      byte[] bytes;
      try (InputStream in = Files.newInputStream(real)) {
        bytes = in.readNBytes(MAX_SCHEMA_BYTES + 1);
      }
      if (bytes.length > MAX_SCHEMA_BYTES) {
        throw new Unreadable("is larger than " + MAX_SCHEMA_BYTES + " bytes");
      }
      files.put(normalized, bytes);
      return bytes;
    }

    @Nullable InputStreamSource resource(AbsoluteIri iri) {
      if (!"file".equals(iri.getScheme())) {
        return null;
      }
      String text = iri.toString();
      int hash = text.indexOf('#');
      Path file;
      try {
        file = Path.of(URI.create(hash < 0 ? text : text.substring(0, hash)));
      } catch (IllegalArgumentException e) {
        failure = "invalid $ref '" + text + "'";
        return null;
      }
      String shown = root.relativize(file.toAbsolutePath().normalize()).toString();
      try {
        byte[] bytes = read(file);
        if (bytes == null) {
          failure = "a $ref points outside the policy directory ('" + shown + "')";
          return null;
        }
        return () -> new ByteArrayInputStream(bytes);
      } catch (IOException e) {
        failure =
            e instanceof java.nio.file.NoSuchFileException
                ? "referenced schema '" + shown + "' does not exist"
                : e instanceof Unreadable
                    ? "referenced schema '" + shown + "' " + e.getMessage()
                    : "cannot read referenced schema '" + shown + "'";
        return null;
      }
    }
  }
}
