package io.portcullis.payload;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assertions.assertTimeoutPreemptively;

import io.portcullis.request.Body;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

class JsonBodySchemaTest {
  private static final String ORDER =
      """
      {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "type": "object",
        "required": ["sku", "quantity"],
        "additionalProperties": false,
        "properties": {
          "sku": { "type": "string", "pattern": "^[A-Z0-9-]{3,32}$" },
          "quantity": { "type": "integer", "minimum": 1 },
          "lines": { "type": "array", "items": { "$ref": "line.json" } },
          "meta": { "type": "object", "additionalProperties": { "type": "integer" } }
        }
      }
      """;
  private static final String LINE =
      """
      { "type": "object", "required": ["price"],
        "properties": { "price": { "type": "number", "exclusiveMinimum": 0 } } }
      """;

  @TempDir Path dir;
  private JsonBodySchema schema;

  @BeforeEach
  void compileOrderSchema() throws IOException {
    Files.writeString(dir.resolve("order.json"), ORDER);
    Files.writeString(dir.resolve("line.json"), LINE);
    schema = compiled("order.json");
  }

  private JsonBodySchema compiled(String rel) {
    JsonBodySchema.Outcome o = JsonBodySchema.compile(dir, rel);
    assertThat(o).isInstanceOf(JsonBodySchema.Outcome.Compiled.class);
    return ((JsonBodySchema.Outcome.Compiled) o).schema();
  }

  private String failure(String rel) {
    JsonBodySchema.Outcome o = JsonBodySchema.compile(dir, rel);
    assertThat(o).isInstanceOf(JsonBodySchema.Outcome.Failed.class);
    return ((JsonBodySchema.Outcome.Failed) o).problem();
  }

  private String validate(String json) {
    return schema.validate(Body.of(json, false), "application/json");
  }

  @Test
  void validate_validBody_returnsNull() {
    assertThat(validate("{\"sku\":\"AB-123\",\"quantity\":2,\"lines\":[{\"price\":9.5}]}"))
        .isNull();
  }

  @Test
  void validate_belowMinimum_namesLocationAndKeyword() {
    assertThat(validate("{\"sku\":\"AB-123\",\"quantity\":0}")).isEqualTo("$.quantity: minimum");
  }

  @Test
  void validate_missingRequiredProperty_namesTheSchemaProperty() {
    assertThat(validate("{\"sku\":\"AB-123\"}")).isEqualTo("$: required 'quantity'");
  }

  @Test
  void validate_problemInReferencedSchema_showsArrayIndex() {
    assertThat(
            validate("{\"sku\":\"AB-123\",\"quantity\":1,\"lines\":[{\"price\":1},{\"price\":0}]}"))
        .isEqualTo("$.lines[1].price: exclusiveMinimum");
  }

  @Test
  void validate_severalProblems_reportsFirstAndCount() {
    assertThat(validate("{\"sku\":\"x\",\"quantity\":0}")).endsWith("(and 1 more problem)");
  }

  @Test
  void validate_neverQuotesBodyValuesOrUnknownKeys() {
    String secret = "sk_live_9f8e7d6c5b4a3210";
    String problem =
        validate(
            "{\"sku\":\""
                + secret
                + "\",\"quantity\":\""
                + secret
                + "\",\""
                + secret
                + "\":1,\"meta\":{\""
                + secret
                + "\":\"x\"}}");
    assertThat(problem).isNotNull().doesNotContain(secret).doesNotContain("sk_live");
    String meta =
        validate("{\"sku\":\"AB-123\",\"quantity\":1,\"meta\":{\"" + secret + "\":\"x\"}}");
    assertThat(meta).isEqualTo("$.meta.*: type");
  }

  @Test
  void validate_wrongContentType_isRejectedBeforeParsing() {
    Body body = Body.of("{\"sku\":\"AB-123\",\"quantity\":2}", false);
    assertThat(schema.validate(body, "text/plain")).contains("content-type");
    assertThat(schema.validate(body, null)).contains("content-type");
    assertThat(schema.validate(body, "application/jsonp")).contains("content-type");
    assertThat(schema.validate(body, "application/json; charset=utf-8")).isNull();
    assertThat(schema.validate(body, "Application/JSON")).isNull();
    assertThat(schema.validate(body, "application/vnd.orders+json;v=2")).isNull();
    assertThat(schema.validate(body, "application/+json")).contains("content-type");
  }

  /**
   * A body that is valid JSON for the schema and, read as a form, says {@code is_admin=1}: a
   * Content-Type that Rack or PHP reads as a form (they cut the value at the first {@code ,},
   * {@code ;} or blank) must not be judged as JSON, or the upstream sees a field the schema
   * forbids.
   */
  @ParameterizedTest
  @ValueSource(
      strings = {
        "application/x-www-form-urlencoded, application/vnd.a+json",
        "application/x-www-form-urlencoded,application/json",
        "application/json, application/x-www-form-urlencoded",
        "application/json,application/json",
        "application/x-www-form-urlencoded +json",
        "application/x-www-form-urlencoded\t+json",
        "text/plain,x/+json",
        "multipart/form-data; boundary=x, application/json",
        "application/json; a=\"x, application/x-www-form-urlencoded\"",
        "application /json",
        "application/ json",
        "application/json x",
        "application/json;charset =utf-8",
        "application/json;charset= utf-8",
        "application/json;charset",
        "application/json;=utf-8",
        "application/json;charset=\"utf-8",
        "application/json;charset=utf-8 x",
        "/json",
        "application/",
        "json",
        "",
        "application/j\u00e9son+json",
        "application/vnd.a+json\u0000",
        "application/json\r\nx-admin: 1"
      })
  void isJsonMediaType_refusesWhatIsNotOneJsonMediaType(String contentType) {
    assertThat(JsonBodySchema.isJsonMediaType(contentType)).isFalse();
    Body smuggled = Body.of("{\"sku\":\"AB-123\",\"quantity\":2}", false);
    assertThat(schema.validate(smuggled, contentType))
        .as("invalid_body before the schema is applied")
        .startsWith("content-type must be one JSON media type");
  }

  @ParameterizedTest
  @ValueSource(
      strings = {
        "application/json",
        "Application/JSON",
        " application/json\t",
        "application/json;charset=utf-8",
        "application/json ; charset=utf-8",
        "application/json;\tcharset=\"utf-8\"",
        "application/json; charset=\"utf\\-8\"; v=2",
        "application/json;",
        "application/json; ;v=2",
        "application/vnd.orders+json",
        "application/problem+JSON; v=2"
      })
  void isJsonMediaType_acceptsOneJsonMediaTypeWithParameters(String contentType) {
    assertThat(JsonBodySchema.isJsonMediaType(contentType)).isTrue();
  }

  @Test
  void validate_notJson_saysWhereWithoutEchoingTheBody() {
    String problem = validate("{\"sku\": hunter2-password}");
    assertThat(problem).startsWith("body is not valid JSON").doesNotContain("hunter2");
  }

  @ParameterizedTest
  @ValueSource(
      strings = {
        "{\"sku\":\"AB-123\",\"quantity\":1,\"quantity\":-5}",
        "{\"sku\":\"AB-123\",\"quantity\":1} trailing",
        "{\"sku\":\"AB-123\",\"quantity\":1}{}",
      })
  void validate_ambiguousJson_isInvalid(String json) {
    assertThat(validate(json)).startsWith("body is not valid JSON");
  }

  @Test
  void validate_emptyBody_isInvalid() {
    assertThat(schema.validate(Body.empty(), "application/json")).contains("empty");
  }

  @Test
  void validate_tooDeep_isRejectedByTheParser() {
    String deep =
        "[".repeat(JsonBodySchema.MAX_DEPTH + 1) + "]".repeat(JsonBodySchema.MAX_DEPTH + 1);
    assertThat(validate(deep)).contains("nesting depth");
  }

  @Test
  void validate_tooLarge_isRejectedWithoutParsing() {
    byte[] big = new byte[JsonBodySchema.MAX_BODY_BYTES + 1];
    java.util.Arrays.fill(big, (byte) ' ');
    assertThat(schema.validate(Body.of(big, false), "application/json")).contains("larger than");
  }

  @Test
  void compile_recordsEveryFileRead() {
    JsonBodySchema.Outcome.Compiled c =
        (JsonBodySchema.Outcome.Compiled) JsonBodySchema.compile(dir, "order.json");
    assertThat(c.files().keySet())
        .extracting(p -> p.getFileName().toString())
        .containsExactly("line.json", "order.json");
    assertThat(c.schema().source()).isEqualTo("order.json");
  }

  @Test
  void compile_missingFile_fails() {
    assertThat(failure("nope.json")).isEqualTo("schema file 'nope.json' does not exist");
  }

  @Test
  void compile_notJson_fails() throws IOException {
    Files.writeString(dir.resolve("bad.json"), "{ \"type\": ");
    assertThat(failure("bad.json")).contains("is not valid JSON");
  }

  @Test
  void compile_notAValidSchema_fails() throws IOException {
    Files.writeString(dir.resolve("bad.json"), "{ \"type\": \"strnig\" }");
    assertThat(failure("bad.json")).contains("is not a valid JSON Schema 2020-12");
  }

  @Test
  void compile_otherDraft_fails() throws IOException {
    Files.writeString(
        dir.resolve("draft7.json"),
        "{ \"$schema\": \"http://json-schema.org/draft-07/schema#\", \"type\": \"object\" }");
    assertThat(failure("draft7.json")).contains("body schemas are JSON Schema 2020-12");
  }

  @Test
  void compile_remoteRef_isRefusedWithoutNetwork() throws IOException {
    Files.writeString(
        dir.resolve("remote.json"),
        "{ \"properties\": { \"a\": { \"$ref\": \"https://schemas.example.com/a.json\" } } }");
    assertThat(failure("remote.json"))
        .contains("https://schemas.example.com/a.json")
        .contains("without network");
  }

  @Test
  void compile_missingLocalRef_fails() throws IOException {
    Files.writeString(
        dir.resolve("dangling.json"), "{ \"properties\": { \"a\": { \"$ref\": \"gone.json\" } } }");
    assertThat(failure("dangling.json")).endsWith("referenced schema 'gone.json' does not exist");
  }

  @Test
  void compile_refOutsidePolicyDirectory_fails() throws IOException {
    Path inner = Files.createDirectory(dir.resolve("policy"));
    Files.writeString(dir.resolve("secret.json"), "{ \"type\": \"object\" }");
    Files.writeString(
        inner.resolve("escape.json"),
        "{ \"properties\": { \"a\": { \"$ref\": \"../secret.json\" } } }");
    JsonBodySchema.Outcome o = JsonBodySchema.compile(inner, "escape.json");
    assertThat(o).isInstanceOf(JsonBodySchema.Outcome.Failed.class);
    assertThat(((JsonBodySchema.Outcome.Failed) o).problem())
        .contains("outside the policy directory");
  }

  @Test
  void compile_pathOutsidePolicyDirectoryOrAbsolute_fails() throws IOException {
    Path inner = Files.createDirectory(dir.resolve("policy"));
    assertThat(
            ((JsonBodySchema.Outcome.Failed) JsonBodySchema.compile(inner, "../order.json"))
                .problem())
        .contains("outside the policy directory");
    assertThat(
            ((JsonBodySchema.Outcome.Failed)
                    JsonBodySchema.compile(inner, dir.resolve("order.json").toString()))
                .problem())
        .contains("relative to the policy file");
  }

  @Test
  void compile_symlinkLeavingPolicyDirectory_fails() throws IOException {
    Path inner = Files.createDirectory(dir.resolve("policy"));
    Files.createSymbolicLink(inner.resolve("link.json"), dir.resolve("order.json"));
    assertThat(
            ((JsonBodySchema.Outcome.Failed) JsonBodySchema.compile(inner, "link.json")).problem())
        .contains("outside the policy directory");
  }

  // Patterns run on RE2/J, in time linear in the input: a pattern that backtracks exponentially on
  // the JDK engine, or recurses once per repetition, costs a request nothing special.

  private static final Duration FAST = Duration.ofSeconds(5);

  private JsonBodySchema patternSchema(String jsonPattern) throws IOException {
    Files.writeString(
        dir.resolve("ref.json"),
        "{ \"type\": \"object\", \"properties\": { \"ref\": { \"type\": \"string\", \"pattern\": \""
            + jsonPattern
            + "\" } } }");
    return compiled("ref.json");
  }

  // The JDK engine memoizes the starred form, but not the counted one: 2^32 steps there.
  @ParameterizedTest
  @ValueSource(strings = {"^([a-zA-Z0-9]+\\\\s?)*$", "^([a-zA-Z0-9]+\\\\s?){1,100}$"})
  void validate_catastrophicBacktrackingPattern_isJudgedInLinearTime(String jsonPattern)
      throws IOException {
    JsonBodySchema refs = patternSchema(jsonPattern);
    String evil = "{\"ref\":\"" + "a".repeat(32) + "!\"}";
    String good = "{\"ref\":\"" + "ab cd ".repeat(6) + "e\"}";
    assertTimeoutPreemptively(
        FAST,
        () -> {
          assertThat(refs.validate(Body.of(evil, false), "application/json"))
              .isEqualTo("$.ref: pattern");
          assertThat(refs.validate(Body.of(good, false), "application/json")).isNull();
        });
  }

  @Test
  void validate_longRepetitionOnLargeValue_neitherOverflowsTheStackNorStalls() throws IOException {
    JsonBodySchema refs = patternSchema("^(ab|cd)*$");
    String value = "abcd".repeat(15_000); // 60 KB
    assertTimeoutPreemptively(
        FAST,
        () -> {
          assertThat(
                  refs.validate(Body.of("{\"ref\":\"" + value + "\"}", false), "application/json"))
              .isNull();
          assertThat(
                  refs.validate(Body.of("{\"ref\":\"" + value + "x\"}", false), "application/json"))
              .isEqualTo("$.ref: pattern");
        });
  }

  @Test
  void validate_patternIsASearchNotAFullMatch() throws IOException {
    JsonBodySchema refs = patternSchema("b+");
    assertThat(refs.validate(Body.of("{\"ref\":\"abbbc\"}", false), "application/json")).isNull();
    assertThat(refs.validate(Body.of("{\"ref\":\"ac\"}", false), "application/json"))
        .isEqualTo("$.ref: pattern");
  }

  @Test
  void validate_ecmaUnicodeEscapeInAPattern_loadsAndMatches_asBeforeRe2() throws IOException {
    // The pattern is ^caf, backslash-u00e9, $: an ECMA-262 escape RE2 does not know.
    JsonBodySchema cafe = patternSchema("^caf\\\\u00e9$");
    assertThat(cafe.validate(Body.of("{\"ref\":\"caf\u00e9\"}", false), "application/json"))
        .isNull();
    assertThat(cafe.validate(Body.of("{\"ref\":\"cafe\"}", false), "application/json"))
        .isEqualTo("$.ref: pattern");
    assertThat(Re2jRegularExpressionFactory.unicodeEscapes("a\\\\u0041\\u0042"))
        .as("an escaped backslash before u is not an escape")
        .isEqualTo("a\\\\u0041\\x{0042}");
  }

  @Test
  void validate_patternPropertiesRunOnTheLinearEngine() throws IOException {
    Files.writeString(
        dir.resolve("tags.json"),
        "{ \"type\": \"object\", \"additionalProperties\": false,"
            + " \"patternProperties\": { \"^([a-z]+-?){1,100}$\": { \"type\": \"integer\" } } }");
    JsonBodySchema tags = compiled("tags.json");
    String evil = "{\"" + "a".repeat(32) + "!\":1}";
    assertTimeoutPreemptively(
        FAST,
        () -> {
          assertThat(tags.validate(Body.of(evil, false), "application/json"))
              .isEqualTo("$: additionalProperties");
          assertThat(tags.validate(Body.of("{\"ab-cd\":1}", false), "application/json")).isNull();
        });
  }

  @Test
  void compile_lookaheadPattern_isRefusedNamingFileAndPointer() throws IOException {
    Files.writeString(
        dir.resolve("code.json"),
        "{ \"properties\": { \"code\": { \"type\": \"string\","
            + " \"pattern\": \"^(?=.*[0-9])[a-z0-9]+$\" } } }");
    assertThat(failure("code.json"))
        .startsWith("schema file 'code.json' does not compile: ")
        .contains("pattern '^(?=.*[0-9])[a-z0-9]+$' at code.json#/properties/code/pattern")
        .contains("lookaround");
  }

  @Test
  void compile_backreferenceInReferencedPatternProperties_isRefusedNamingThatFile()
      throws IOException {
    Files.writeString(
        dir.resolve("pairs.json"),
        "{ \"patternProperties\": { \"^(a)\\\\1$\": { \"type\": \"string\" } } }");
    Files.writeString(
        dir.resolve("outer.json"), "{ \"properties\": { \"p\": { \"$ref\": \"pairs.json\" } } }");
    assertThat(failure("outer.json"))
        .startsWith("schema file 'outer.json' does not compile: ")
        .contains("at pairs.json#/patternProperties/^(a)\\1$");
  }
}
