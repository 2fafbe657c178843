package io.portcullis.payload;

import com.networknt.schema.ExecutionContext;
import com.networknt.schema.Schema;
import com.networknt.schema.SchemaContext;
import com.networknt.schema.SchemaLocation;
import com.networknt.schema.dialect.Dialect;
import com.networknt.schema.dialect.Dialects;
import com.networknt.schema.format.DateFormat;
import com.networknt.schema.format.DateTimeFormat;
import com.networknt.schema.format.DurationFormat;
import com.networknt.schema.format.EmailFormat;
import com.networknt.schema.format.Format;
import com.networknt.schema.format.Formats;
import com.networknt.schema.format.IPv6Format;
import com.networknt.schema.format.IdnEmailFormat;
import com.networknt.schema.format.IdnHostnameFormat;
import com.networknt.schema.format.IriFormat;
import com.networknt.schema.format.IriReferenceFormat;
import com.networknt.schema.format.TimeFormat;
import com.networknt.schema.format.UriFormat;
import com.networknt.schema.format.UriReferenceFormat;
import com.networknt.schema.keyword.FormatKeyword;
import com.networknt.schema.keyword.KeywordValidator;
import java.util.Map;
import java.util.SortedMap;
import java.util.TreeMap;
import java.util.function.Predicate;
import tools.jackson.databind.JsonNode;

/**
 * The {@code format} values a body schema may name, each checked (asserted) on the body, and the
 * JSON Schema 2020-12 dialect that uses them ({@link #DIALECT}).
 *
 * <p>Design note. JSON Schema 2020-12 makes {@code format} an annotation unless a validator opts
 * in; operators writing {@code "format": "email"} expect it checked, so body schemas opt in. The
 * values come from attackers, and the validator's own checks are not all safe to run on them: the
 * {@code hostname}, {@code json-pointer} and {@code uri-template} checks are {@link
 * java.util.regex} patterns that recurse once per repeated group (a 60 KB value overflows the
 * stack); the {@code email} and {@code idn-email} check starts with {@code ^(.+)@(\S+)$}, which
 * backtracks quadratically ({@code "@"} repeated 60,000 times and a space: 20 s); {@code
 * idn-hostname} throws on a label longer than the IDNA encoder takes; {@code regex} compiles the
 * value it is given. So each format here is one of:
 *
 * <ul>
 *   <li>the validator's check, which was measured linear on 1 MB values of every shape tried (the
 *       largest body a schema reads): {@code date}, {@code date-time}, {@code time}, {@code
 *       duration} (hand-written parsers, or a regular expression without nested repetition), {@code
 *       ipv4}, {@code ipv6}, {@code uuid} (bounded repetition only), {@code uri}, {@code
 *       uri-reference}, {@code iri}, {@code iri-reference} ({@link java.net.URI}'s parser);
 *   <li>the validator's check behind the length the RFCs allow, so its superlinear cost is paid on
 *       at most that many characters: {@code email}, {@code idn-email} (254, RFC 5321 §4.5.3.1.3),
 *       which must in addition end in {@code @domain} without whitespace before the matcher runs,
 *       so that its first regular expression runs in one pass; {@code idn-hostname} (253, RFC 1035
 *       §2.3.4);
 *   <li>the validator's regular expression run on RE2/J, in linear time: {@code hostname} (also
 *       bounded to 253 characters), {@code json-pointer}, {@code relative-json-pointer} (the
 *       lookahead {@code ~(?=[01])} written as {@code ~[01]}, which accepts the same strings).
 * </ul>
 *
 * <p>OpenAPI's formats load too, as schemas generated from an API description carry them: {@code
 * int32} and {@code int64} are checked (a whole number in range), {@code byte} is checked as base64
 * (RE2/J), and {@code float}, {@code double}, {@code password} and {@code binary}, which nothing a
 * JSON value holds can fail, check nothing.
 *
 * <p>Every other name is refused when the policy loads ({@link UnsupportedFormat}): {@code regex}
 * and {@code uri-template}, the validator's non-standard formats ({@code alpha}, {@code phone},
 * ...), and typos, which would otherwise check nothing without a word. A check that throws anyway
 * judges the value invalid (the request is denied, never allowed).
 *
 * <p>Immutable and thread-safe.
 */
final class BodyFormats {
  /** RFC 5321 §4.5.3.1.3: a path is at most 256 octets, angle brackets included. */
  static final int MAX_EMAIL_LENGTH = 254;

  /** RFC 1035 §2.3.4: 255 octets on the wire, 253 characters written out. */
  static final int MAX_HOSTNAME_LENGTH = 253;

  /** Formats asserted on bodies, by name. */
  static final SortedMap<String, Format> ENABLED = enabled();

  /** Formats the validator knows that are refused at load, with why. */
  private static final Map<String, String> REFUSED =
      Map.of(
          "regex",
          "checking it would compile a regular expression taken from the body",
          "uri-template",
          "the validator checks it with a backtracking regular expression that a long value"
              + " drives into a stack overflow");

  /** JSON Schema 2020-12 with {@link #ENABLED} as its formats; any other format fails the load. */
  static final Dialect DIALECT =
      Dialect.builder(Dialects.getDraft202012())
          .formats(
              formats -> {
                formats.clear();
                formats.putAll(ENABLED);
              })
          .formatKeywordFactory(CheckedFormatKeyword::new)
          .build();

  private BodyFormats() {}

  private static SortedMap<String, Format> enabled() {
    SortedMap<String, Format> m = new TreeMap<>();
    for (Format f :
        new Format[] {
          new DateFormat(),
          new DateTimeFormat(),
          new TimeFormat(),
          new DurationFormat(),
          new IPv6Format(),
          new UriFormat(),
          new UriReferenceFormat(),
          new IriFormat(),
          new IriReferenceFormat(),
          new Bounded(new EmailFormat(), MAX_EMAIL_LENGTH, BodyFormats::emailShaped),
          new Bounded(new IdnEmailFormat(), MAX_EMAIL_LENGTH, BodyFormats::emailShaped),
          new Bounded(new IdnHostnameFormat(), MAX_HOSTNAME_LENGTH, value -> true),
          // The validator's expression for each, run on RE2/J.
          new Re2Format(
              "hostname",
              "^([a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9\\-]{0,61}[a-zA-Z0-9])"
                  + "(\\.([a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9\\-]{0,61}[a-zA-Z0-9]))*$",
              MAX_HOSTNAME_LENGTH),
          new Re2Format("json-pointer", "^(/([^/#~]|~[01])*)*$", Integer.MAX_VALUE),
          new Re2Format(
              "relative-json-pointer",
              "^(0|([1-9]\\d*))(#|(/([^/#~]|~[01])*)*)$",
              Integer.MAX_VALUE),
        }) {
      m.put(f.getName(), f);
    }
    // OpenAPI's formats (OpenAPI 3.1 "Data Types"), which schemas generated from an API description
    // carry on nearly every number: a policy built from one must load.
    for (Format f :
        new Format[] {
          new OpenApiInteger("int32", Integer.MIN_VALUE, Integer.MAX_VALUE),
          new OpenApiInteger("int64", Long.MIN_VALUE, Long.MAX_VALUE),
          new Annotation("float"),
          new Annotation("double"),
          new Annotation("password"),
          new Annotation("binary"),
          new Re2Format(
              "byte",
              "^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$",
              Integer.MAX_VALUE),
        }) {
      m.put(f.getName(), f);
    }
    // ipv4 and uuid: fixed-length alternatives without nested repetition, so the validator's own.
    for (Format f : Formats.DEFAULT) {
      if (f.getName().equals("ipv4") || f.getName().equals("uuid")) {
        m.put(f.getName(), f);
      }
    }
    return java.util.Collections.unmodifiableSortedMap(m);
  }

  /** A {@code format} a body schema may not use: refused when the policy loads. */
  static final class UnsupportedFormat extends RuntimeException {
    private static final long serialVersionUID = 1L;
    private final String format;
    private final transient SchemaLocation location;

    UnsupportedFormat(String format, SchemaLocation location) {
      super("format '" + format + "' is not supported");
      this.format = format;
      this.location = location;
    }

    /** The format as written in the schema. */
    String format() {
      return format;
    }

    /** Where the {@code format} keyword is: the schema file and the JSON pointer in it. */
    SchemaLocation location() {
      return location;
    }

    /** Why it is refused, naming what is supported. */
    String reason() {
      String why = REFUSED.get(format);
      return (why != null ? why : "not a format body schemas check")
          + "; body schemas check "
          + String.join(", ", ENABLED.keySet())
          + " (for anything else, write a 'pattern')";
    }
  }

  /** The {@code format} keyword, refusing at load any format not in the dialect. */
  private static final class CheckedFormatKeyword extends FormatKeyword {
    private final Map<String, Format> formats;

    CheckedFormatKeyword(Map<String, Format> formats) {
      super(formats);
      this.formats = Map.copyOf(formats);
    }

    @Override
    public KeywordValidator newValidator(
        SchemaLocation location, JsonNode schemaNode, Schema parent, SchemaContext context) {
      if (schemaNode.isString() && !formats.containsKey(schemaNode.asString())) {
        throw new UnsupportedFormat(schemaNode.asString(), location);
      }
      return super.newValidator(location, schemaNode, parent, context);
    }
  }

  /**
   * The validator's check for values up to {@code maxLength} characters that pass {@code
   * precondition}; other values do not match, nor does a value the check throws on.
   */
  private record Bounded(Format format, int maxLength, Predicate<String> precondition)
      implements Format {
    @Override
    public String getName() {
      return format.getName();
    }

    @Override
    public String getMessageKey() {
      return format.getMessageKey();
    }

    @Override
    public boolean matches(ExecutionContext execution, SchemaContext schema, String value) {
      if (value.length() > maxLength || !precondition.test(value)) {
        return false;
      }
      try {
        return format.matches(execution, schema, value);
      } catch (RuntimeException e) {
        return false;
      }
    }
  }

  /**
   * Whether {@code value} has what every address the validator accepts has: a non-empty part before
   * the last {@code @} without line terminators, and a non-empty part after it without whitespace.
   * (Its expression {@code ^(.+)@(\S+)$} then matches in one pass; on other values it tries every
   * {@code @} against the rest of the value, quadratic in the length.) The validator finds the
   * domain after the last such {@code @}, and a domain never contains {@code @}.
   */
  static boolean emailShaped(String value) {
    int at = value.lastIndexOf('@');
    if (at < 1 || at == value.length() - 1) {
      return false;
    }
    for (int i = 0; i < at; i++) {
      char c = value.charAt(i);
      if (c == '\n' || c == '\r' || c == '\u0085' || c == '\u2028' || c == '\u2029') {
        return false;
      }
    }
    for (int i = at + 1; i < value.length(); i++) {
      char c = value.charAt(i);
      if (c == ' ' || c == '\t' || c == '\n' || c == '\u000b' || c == '\f' || c == '\r') {
        return false;
      }
    }
    return true;
  }

  /**
   * OpenAPI's {@code int32} and {@code int64}: a JSON number must be a whole number in the range (a
   * JSON number has no size of its own, and an upstream reading it into an {@code int} would
   * overflow); a value of another type is not the format's concern, as for every format.
   */
  private record OpenApiInteger(String name, long min, long max) implements Format {
    @Override
    public String getName() {
      return name;
    }

    @Override
    public String getMessageKey() {
      return "format." + name;
    }

    @Override
    public boolean matches(ExecutionContext execution, SchemaContext schema, JsonNode value) {
      if (!value.isNumber()) {
        return true;
      }
      if ((value.isDouble() || value.isFloat()) && !Double.isFinite(value.doubleValue())) {
        return false; // 1e400 parses to infinity, which no integer is (and has no BigDecimal)
      }
      // Body numbers are bounded in length when the body is parsed, so this stays cheap.
      java.math.BigDecimal v = value.decimalValue();
      return v.signum() == 0
          || (v.stripTrailingZeros().scale() <= 0
              && v.compareTo(java.math.BigDecimal.valueOf(min)) >= 0
              && v.compareTo(java.math.BigDecimal.valueOf(max)) <= 0);
    }
  }

  /**
   * An OpenAPI format that constrains nothing a JSON value can get wrong ({@code float}, {@code
   * double}: any JSON number; {@code password}, {@code binary}: any string): accepted so that
   * schemas generated from an API description load, and checks nothing.
   */
  private record Annotation(String name) implements Format {
    @Override
    public String getName() {
      return name;
    }

    @Override
    public boolean matches(ExecutionContext execution, SchemaContext schema, JsonNode value) {
      return true;
    }
  }

  /** A full match of an RE2/J expression, on values up to {@code maxLength} characters. */
  private static final class Re2Format implements Format {
    private final String name;
    private final com.google.re2j.Pattern pattern;
    private final int maxLength;

    Re2Format(String name, String regex, int maxLength) {
      this.name = name;
      this.pattern = com.google.re2j.Pattern.compile(regex);
      this.maxLength = maxLength;
    }

    @Override
    public String getName() {
      return name;
    }

    @Override
    public String getMessageKey() {
      return "format." + name;
    }

    @Override
    public boolean matches(ExecutionContext execution, String value) {
      return value.length() <= maxLength && pattern.matcher(value).matches();
    }
  }
}
