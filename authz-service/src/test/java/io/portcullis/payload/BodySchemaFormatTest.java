package io.portcullis.payload;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assertions.assertTimeoutPreemptively;

import com.networknt.schema.format.Format;
import com.networknt.schema.format.Formats;
import io.portcullis.request.Body;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;
import java.util.Random;
import java.util.function.Function;
import java.util.stream.Collectors;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * {@code format} in body schemas: asserted for the formats of {@link BodyFormats}, each in time
 * linear in the value; any other format fails the load, naming the file and the JSON pointer.
 */
class BodySchemaFormatTest {
  @TempDir Path dir;

  private JsonBodySchema.Outcome compile(String json) throws IOException {
    Files.writeString(dir.resolve("s.json"), json);
    return JsonBodySchema.compile(dir, "s.json");
  }

  private JsonBodySchema compiled(String json) throws IOException {
    JsonBodySchema.Outcome o = compile(json);
    assertThat(o).isInstanceOf(JsonBodySchema.Outcome.Compiled.class);
    return ((JsonBodySchema.Outcome.Compiled) o).schema();
  }

  private String failure(String json) throws IOException {
    JsonBodySchema.Outcome o = compile(json);
    assertThat(o).isInstanceOf(JsonBodySchema.Outcome.Failed.class);
    return ((JsonBodySchema.Outcome.Failed) o).problem();
  }

  private static String string(String value) {
    StringBuilder sb = new StringBuilder("\"");
    for (char c : value.toCharArray()) {
      if (c == '"' || c == '\\') {
        sb.append('\\').append(c);
      } else if (c < 0x20) {
        sb.append(String.format("\\u%04x", (int) c));
      } else {
        sb.append(c);
      }
    }
    return sb.append('"').toString();
  }

  private static JsonBodySchema formatSchema(Path dir, String format) throws IOException {
    Files.writeString(
        dir.resolve("f.json"),
        "{ \"type\": \"object\", \"properties\": { \"v\": { \"type\": \"string\", \"format\": \""
            + format
            + "\" } } }");
    return ((JsonBodySchema.Outcome.Compiled) JsonBodySchema.compile(dir, "f.json")).schema();
  }

  private static String check(JsonBodySchema schema, String value) {
    return schema.validate(Body.of("{\"v\":" + string(value) + "}", false), "application/json");
  }

  // ------------------------------------------------------------------ asserted

  @Test
  void validate_notAnEmail_isInvalidNamingTheFormatKeyword() throws IOException {
    JsonBodySchema s =
        compiled(
            "{\"type\":\"object\",\"properties\":{\"email\":{\"type\":\"string\",\"format\":\"email\"}}}");
    assertThat(s.validate(Body.of("{\"email\":\"not an email\"}", false), "application/json"))
        .isEqualTo("$.email: format");
    assertThat(s.validate(Body.of("{\"email\":\"ops@example.com\"}", false), "application/json"))
        .isNull();
  }

  @ParameterizedTest(name = "{0}: {1} is valid, {2} is not")
  @CsvSource(
      delimiter = '|',
      value = {
        "date                  | 2026-11-22                           | 2026-02-30",
        "date-time             | 2026-11-22T10:00:00.5+01:00          | 2026-11-22 10:00:00",
        "time                  | 10:00:00Z                            | 25:00:00Z",
        "duration              | P1DT12H                              | 1D",
        "email                 | ops@example.com                      | ops@@example.com",
        "idn-email             | ops@b\u00fccher.de                  | ops",
        "hostname              | api.example.com                      | -api.example.com",
        "idn-hostname          | b\u00fccher.example                 | -b\u00fccher.example",
        "ipv4                  | 192.0.2.1                            | 192.0.2.256",
        "ipv6                  | 2001:db8::1                          | 2001:db8:::1",
        "uri                   | https://example.com/a?b=c            | /relative/path",
        "uri-reference         | /relative/path?q                     | has space",
        "iri                   | https://b\u00fccher.example/         | b\u00fccher",
        "iri-reference         | b\u00fccher/x                         | a b",
        "uuid                  | 0f8fad5b-d9cb-469f-a165-70867728950e | 0f8fad5b-d9cb-469f-a165",
        "json-pointer          | /a~1b/~0c                            | a/b",
        "relative-json-pointer | 1/a~0                                | /a",
      })
  void validate_eachSupportedFormat_isAsserted(String format, String valid, String invalid)
      throws IOException {
    JsonBodySchema s = formatSchema(dir, format);
    assertThat(check(s, valid)).as(valid).isNull();
    assertThat(check(s, invalid)).as(invalid).isEqualTo("$.v: format");
  }

  /** Schemas generated from an OpenAPI description carry its formats on nearly every number. */
  @ParameterizedTest(name = "{0}: {1} is valid, {2} is not")
  @CsvSource(
      delimiter = '|',
      value = {
        "int32 | 2147483647          | 2147483648",
        "int32 | -2147483648         | 1.5",
        "int32 | 7.0                 | -2147483649",
        "int64 | 9223372036854775807 | 9223372036854775808",
        "int64 | 0                   | 1e30",
      })
  void validate_openApiIntegerFormats_areAssertedOnNumbers(
      String format, String valid, String invalid) throws IOException {
    Files.writeString(
        dir.resolve("n.json"),
        "{\"type\":\"object\",\"properties\":{\"v\":{\"type\":\"number\",\"format\":\""
            + format
            + "\"}}}");
    JsonBodySchema s =
        ((JsonBodySchema.Outcome.Compiled) JsonBodySchema.compile(dir, "n.json")).schema();
    assertThat(s.validate(Body.of("{\"v\":" + valid + "}", false), "application/json"))
        .as(valid)
        .isNull();
    assertThat(s.validate(Body.of("{\"v\":" + invalid + "}", false), "application/json"))
        .as(invalid)
        .isEqualTo("$.v: format");
  }

  /** {@code 1e400} is valid JSON that parses to infinity: invalid, never an exception. */
  @ParameterizedTest
  @ValueSource(
      strings = {
        "{\"type\":\"number\",\"format\":\"int32\"}",
        "{\"type\":\"integer\"}",
        "{\"type\":\"number\",\"maximum\":10}",
        "{\"type\":\"number\",\"multipleOf\":0.5}",
      })
  void validate_aNumberBeyondADoublesRange_isInvalid_notAnException(String property)
      throws IOException {
    JsonBodySchema s = compiled("{\"type\":\"object\",\"properties\":{\"v\":" + property + "}}");

    assertThat(s.validate(Body.of("{\"v\":1e400}", false), "application/json"))
        .as(property)
        .isNotNull();
    assertThat(s.validate(Body.of("{\"v\":-1e400}", false), "application/json"))
        .as(property)
        .isNotNull();
  }

  @Test
  void validate_openApiByte_isBase64_andTheAnnotationsCheckNothing() throws IOException {
    JsonBodySchema bytes = formatSchema(dir, "byte");
    assertThat(check(bytes, "aGVsbG8=")).isNull();
    assertThat(check(bytes, "aGVsbG8")).isEqualTo("$.v: format");
    assertThat(check(bytes, "not base64!")).isEqualTo("$.v: format");
    for (String annotation : new String[] {"float", "double", "password", "binary"}) {
      assertThat(check(formatSchema(dir, annotation), "anything at all")).as(annotation).isNull();
    }
  }

  @Test
  void validate_formatOnANonString_isIgnored_asJsonSchemaSays() throws IOException {
    JsonBodySchema s = formatSchema(dir, "email");
    assertThat(s.validate(Body.of("{\"v\":42}", false), "application/json")).isEqualTo("$.v: type");
    JsonBodySchema any =
        compiled("{\"properties\":{\"v\":{\"format\":\"email\"}}}"); // no "type": any value
    assertThat(any.validate(Body.of("{\"v\":42}", false), "application/json")).isNull();
  }

  @Test
  void validate_beyondTheLengthTheRfcAllows_isInvalid() throws IOException {
    // RFC 5321: at most 254 characters for an address; RFC 1035: 253 for a host name.
    String domain = ("a".repeat(60) + ".").repeat(3) + "example.com"; // 194 characters
    JsonBodySchema email = formatSchema(dir, "email");
    String longest = "b".repeat(59) + "@" + domain;
    assertThat(check(email, longest)).as("%d characters", longest.length()).isNull();
    assertThat(check(email, "b" + longest)).isEqualTo("$.v: format");

    JsonBodySchema host = formatSchema(dir, "hostname");
    String name = ("a".repeat(62) + ".").repeat(3) + "b".repeat(62); // 251
    assertThat(check(host, name + ".c")).as("253 characters").isNull();
    assertThat(check(host, name + ".cd")).as("254 characters").isEqualTo("$.v: format");
  }

  // ------------------------------------------------------------------ refused at load

  @Test
  void compile_unknownFormat_isRefusedNamingFileAndPointer() throws IOException {
    String problem =
        failure(
            "{\"type\":\"object\",\"properties\":{\"contact\":{\"type\":\"object\",\"properties\":"
                + "{\"email\":{\"type\":\"string\",\"format\":\"emial\"}}}}}");
    assertThat(problem)
        .startsWith("schema file 's.json' does not compile: ")
        .contains("format 'emial' at s.json#/properties/contact/properties/email/format")
        .contains("is not supported: not a format body schemas check")
        .contains("body schemas check binary, byte, date, date-time, double, duration, email");
  }

  @ParameterizedTest
  @ValueSource(strings = {"regex", "uri-template", "int16", "alpha", "phone", "Email"})
  void compile_formatTheValidatorDoesNotCheckSafely_isRefused(String format) throws IOException {
    assertThat(failure("{\"type\":\"string\",\"format\":\"" + format + "\"}"))
        .contains("format '" + format + "' at s.json#/format is not supported");
  }

  @Test
  void compile_regexFormat_saysItWouldCompileTheBody() throws IOException {
    assertThat(failure("{\"type\":\"string\",\"format\":\"regex\"}"))
        .contains("would compile a regular expression taken from the body");
  }

  @Test
  void compile_unknownFormatInAReferencedFile_isRefusedNamingThatFile() throws IOException {
    Files.createDirectories(dir.resolve("common"));
    Files.writeString(
        dir.resolve("common/contact.json"),
        "{\"$defs\":{\"phone\":{\"type\":\"string\",\"format\":\"phone\"}}}");
    assertThat(failure("{\"properties\":{\"p\":{\"$ref\":\"common/contact.json#/$defs/phone\"}}}"))
        .contains("format 'phone' at common/contact.json#/$defs/phone/format is not supported");
  }

  @Test
  void compile_unknownFormatInUnusedDefs_isRefusedToo() throws IOException {
    assertThat(failure("{\"$defs\":{\"unused\":{\"format\":\"zip-code\"}},\"type\":\"object\"}"))
        .contains("format 'zip-code' at s.json#/$defs/unused/format is not supported");
  }

  @Test
  void compile_formatAsAPropertyNameOrInsideAValue_isNotAKeyword() throws IOException {
    JsonBodySchema s =
        compiled(
            "{\"type\":\"object\",\"properties\":{\"format\":{\"type\":\"string\"}},"
                + "\"default\":{\"format\":\"anything\"},\"examples\":[{\"format\":\"x\"}]}");
    assertThat(s.validate(Body.of("{\"format\":\"pdf\"}", false), "application/json")).isNull();
  }

  @Test
  void compile_referencedFileOfAnotherDraft_isRefused() throws IOException {
    // Draft 7 asserts every format the validator knows, hostname and email included.
    Files.writeString(
        dir.resolve("old.json"),
        "{\"$schema\":\"http://json-schema.org/draft-07/schema#\",\"type\":\"string\","
            + "\"format\":\"hostname\"}");
    assertThat(failure("{\"properties\":{\"h\":{\"$ref\":\"old.json\"}}}")).contains("draft-07");
  }

  @Test
  void compile_draft202012DeclaredWithTrailingHash_stillCompiles() throws IOException {
    compiled(
        "{\"$schema\":\"https://json-schema.org/draft/2020-12/schema#\","
            + "\"type\":\"string\",\"format\":\"uuid\"}");
  }

  // ------------------------------------------------------------------ same answers as the library

  /**
   * Where {@link BodyFormats} does not use the validator's check as it is (RE2 instead of the JDK
   * engine, a length bound, a shape test before the email check), it must answer as the validator
   * does on every value within the bound.
   */
  @ParameterizedTest
  @ValueSource(
      strings = {"hostname", "json-pointer", "relative-json-pointer", "email", "idn-email"})
  void formatsNotRunAsTheValidatorRunsThem_answerAsTheValidatorDoes(String name) {
    Map<String, Format> library =
        Formats.DEFAULT.stream().collect(Collectors.toMap(Format::getName, Function.identity()));
    Format ours = BodyFormats.ENABLED.get(name);
    Format theirs =
        switch (name) {
          case "email" -> new com.networknt.schema.format.EmailFormat();
          case "idn-email" -> new com.networknt.schema.format.IdnEmailFormat();
          default -> library.get(name);
        };
    String[] pieces = {
      "a",
      "Z",
      "0",
      "9",
      "-",
      ".",
      "/",
      "~",
      "~0",
      "~1",
      "~2",
      "#",
      "@",
      " ",
      "\t",
      "\n",
      "\r",
      "\u0085",
      "\u2028",
      "\"",
      "\\",
      "[",
      "]",
      ":",
      "%",
      "'",
      "(",
      "b\u00fc",
      "xn--",
      "a.b",
      "@example.com",
      "[IPv6:::1]",
      "[192.0.2.1]",
      "\"a b\""
    };
    Random random = new Random(20261122);
    int disagreements = 0;
    StringBuilder examples = new StringBuilder();
    for (int i = 0; i < 50_000; i++) {
      StringBuilder v = new StringBuilder();
      int parts = random.nextInt(12);
      for (int p = 0; p < parts; p++) {
        v.append(pieces[random.nextInt(pieces.length)]);
      }
      String value = v.toString();
      boolean expected = theirs.matches(null, null, value);
      boolean actual = ours.matches(null, null, value);
      if (expected != actual) {
        disagreements++;
        if (examples.length() < 500) {
          examples.append(string(value)).append(" (library ").append(expected).append(") ");
        }
      }
    }
    assertThat(disagreements).as("%s disagrees on %s", name, examples).isZero();
  }

  // ------------------------------------------------------------------ linear time

  // The body is attacker input: no value may make a format check slow or overflow the stack. The
  // shapes are the ones that make the validator's own checks quadratic or recursive (measured:
  // 20 s for the first email value at 60 KB; hostname, json-pointer and uri-template overflow).
  // A string value is as large as the largest body a schema reads.

  private static final Duration FAST = Duration.ofSeconds(5);
  private static final int LARGE = JsonBodySchema.MAX_BODY_BYTES - 64;

  private static String fill(String head, String unit, String tail) {
    int n = (LARGE - utf8(head) - utf8(tail)) / utf8(unit);
    return head + unit.repeat(n) + tail;
  }

  private static int utf8(String s) {
    return s.getBytes(java.nio.charset.StandardCharsets.UTF_8).length;
  }

  @ParameterizedTest(name = "{0} on {1}…{2}{3}")
  @CsvSource(
      delimiter = '|',
      value = {
        "email                 | ''                    | '@'    | ' '",
        "email                 | ''                    | 'a@'   | ' '",
        "email                 | a                     | '@'    | '\n'",
        "idn-email             | ''                    | '@'    | ' '",
        "hostname              | ''                    | 'a.'   | '!'",
        "hostname              | ''                    | 'a-'   | 'a'",
        "idn-hostname          | ''                    | '\u00e9' | ''",
        "idn-hostname          | ''                    | 'a.'   | '-'",
        "json-pointer          | ''                    | '/'    | '~'",
        "relative-json-pointer | 0                     | '/a'   | '~'",
        "date-time             | 2026-11-22T10:00:00.  | '9'    | 'X'",
        "time                  | 10:00:00.             | '9'    | 'X'",
        "date                  | ''                    | '9'    | ''",
        "duration              | P                     | '1'    | 'X'",
        "uri                   | http://               | 'a.'   | ' '",
        "uri                   | ''                    | '['    | ''",
        "uri-reference         | ''                    | ':'    | ' '",
        "iri                   | http://               | 'a@'   | ' '",
        "iri-reference         | ''                    | '\u200d' | ' '",
        "ipv6                  | ''                    | '1:'   | '!'",
        "ipv6                  | ::1%                  | 'a'    | ''",
        "ipv4                  | ''                    | '1.'   | '1'",
        "uuid                  | ''                    | 'a'    | ''",
      })
  void validate_pathologicalMegabyteValue_isJudgedQuickly(
      String format, String head, String unit, String tail) throws IOException {
    JsonBodySchema s = formatSchema(dir, format);
    String value = fill(head, unit, tail);
    assertTimeoutPreemptively(FAST, () -> assertThat(check(s, value)).isEqualTo("$.v: format"));
  }

  /**
   * The email check is superlinear within its 254 characters: a body full of the worst such values
   * is what bounds its cost per request.
   */
  @Test
  void validate_megabyteOfWorstCaseEmails_isJudgedQuickly() throws IOException {
    Files.writeString(
        dir.resolve("list.json"),
        "{\"type\":\"array\",\"items\":{\"type\":\"string\",\"format\":\"email\"}}");
    JsonBodySchema s =
        ((JsonBodySchema.Outcome.Compiled) JsonBodySchema.compile(dir, "list.json")).schema();
    String[] worst = {
      "@".repeat(253) + " ", // no domain without whitespace
      "a".repeat(63) + "@" + "a.".repeat(94) + "a", // valid shape, longest domain
      "\"" + "\\\".".repeat(20) + "\"@" + "a".repeat(189), // quoted local part, backtracking
      "@".repeat(252) + "\n@", // line terminator before the last @
    };
    StringBuilder body = new StringBuilder("[");
    for (int i = 0; body.length() < LARGE - 300; i++) {
      body.append(i == 0 ? "" : ",").append(string(worst[i % worst.length]));
    }
    String json = body.append(']').toString();
    assertTimeoutPreemptively(
        FAST,
        () ->
            assertThat(s.validate(Body.of(json, false), "application/json"))
                .startsWith("$[0]: format"));
  }
}
