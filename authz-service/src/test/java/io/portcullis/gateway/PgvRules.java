package io.portcullis.gateway;

import com.google.protobuf.Any;
import com.google.protobuf.Descriptors.Descriptor;
import com.google.protobuf.Descriptors.EnumValueDescriptor;
import com.google.protobuf.Descriptors.FieldDescriptor;
import com.google.protobuf.Descriptors.OneofDescriptor;
import com.google.protobuf.DynamicMessage;
import com.google.protobuf.InvalidProtocolBufferException;
import com.google.protobuf.Message;
import com.google.protobuf.TypeRegistry;
import io.envoyproxy.pgv.validate.Validate;
import io.envoyproxy.pgv.validate.Validate.FieldRules;
import java.math.BigDecimal;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.regex.Pattern;
import java.util.stream.Collectors;
import org.jspecify.annotations.Nullable;

/**
 * Checks a message against the protoc-gen-validate constraints Envoy's protos carry ({@code
 * [(validate.rules)...]}), which Envoy enforces at start-up but protobuf's JSON parser does not,
 * and reports every deprecated field, enum value or message type in use (Envoy warns on those and
 * refuses the fatal-by-default ones).
 *
 * <p>Design note. The walk mirrors what PGV's generated validators do: every field of every
 * message, unset proto3 scalars included (a {@code min_len: 1} string that is absent is empty and
 * fails); only the set member of a oneof; {@code google.protobuf.Any} unpacked through the type
 * registry and validated as the concrete type. Implemented rules: message {@code required/skip},
 * oneof {@code required}, numeric {@code const/gt/gte/lt/lte/in/not_in} (PGV's inclusive and
 * exclusive ranges), string and bytes lengths, {@code prefix/suffix/contains/in/not_in/pattern},
 * the HTTP header {@code well_known_regex}es, enum {@code defined_only/const/in/not_in}, repeated
 * {@code min_items/max_items/unique/items}, map {@code min_pairs/max_pairs/keys/values}, duration
 * and any rules, and scalar rules on wrapper types. Not implemented (reported as nothing): string
 * formats such as {@code email}/{@code hostname}/{@code ip}, timestamp rules. Reference:
 * bufbuild/protoc-gen-validate {@code validate/validate.proto}.
 */
final class PgvRules {
  /** One broken constraint: the field path from the root message and what is wrong. */
  record Violation(String path, String problem) {
    @Override
    public String toString() {
      return path + ": " + problem;
    }
  }

  private final TypeRegistry registry;
  private final List<Violation> violations = new ArrayList<>();

  private PgvRules(TypeRegistry registry) {
    this.registry = registry;
  }

  /**
   * @return every violation in {@code root} and the messages it contains, in field order; empty if
   *     it satisfies the implemented rules
   */
  static List<Violation> check(Message root, TypeRegistry registry) {
    PgvRules rules = new PgvRules(registry);
    rules.message(root, root.getDescriptorForType().getName());
    return List.copyOf(rules.violations);
  }

  private void violation(String path, String problem) {
    violations.add(new Violation(path, problem));
  }

  private void message(Message m, String path) {
    Descriptor d = m.getDescriptorForType();
    if (d.getFullName().equals(Any.getDescriptor().getFullName())) {
      any(m, path);
      return;
    }
    if (d.getOptions().getDeprecated()) {
      violation(path, "deprecated message " + d.getFullName());
    }
    if (d.getOptions().getExtension(Validate.disabled)
        || d.getOptions().getExtension(Validate.ignored)) {
      return;
    }
    for (OneofDescriptor oneof : d.getRealOneofs()) {
      if (oneof.getOptions().getExtension(Validate.required) && !m.hasOneof(oneof)) {
        violation(
            path + "." + oneof.getName(),
            "one of "
                + oneof.getFields().stream()
                    .map(FieldDescriptor::getName)
                    .collect(Collectors.joining(", "))
                + " is required");
      }
    }
    for (FieldDescriptor f : d.getFields()) {
      OneofDescriptor oneof = f.getRealContainingOneof();
      if (oneof != null && m.getOneofFieldDescriptor(oneof) != f) {
        continue; // PGV validates only the member that is set
      }
      field(m, f, path + "." + f.getName());
    }
  }

  private void any(Message any, String path) {
    Any packed = any instanceof Any a ? a : Any.newBuilder().mergeFrom(any).build();
    Descriptor type;
    try {
      type = registry.getDescriptorForTypeUrl(packed.getTypeUrl());
    } catch (InvalidProtocolBufferException e) {
      violation(path, "malformed type URL " + packed.getTypeUrl());
      return;
    }
    if (type == null) {
      violation(path, "type " + packed.getTypeUrl() + " is not in the type registry");
      return;
    }
    try {
      message(DynamicMessage.parseFrom(type, packed.getValue()), path + "<" + type.getName() + ">");
    } catch (InvalidProtocolBufferException e) {
      violation(path, "cannot unpack " + type.getFullName() + ": " + e.getMessage());
    }
  }

  private void field(Message m, FieldDescriptor f, String path) {
    boolean set = isSet(m, f);
    if (set && f.getOptions().getDeprecated()) {
      violation(path, "deprecated field is set");
    }
    if (set && f.getJavaType() == FieldDescriptor.JavaType.ENUM && !f.isRepeated()) {
      EnumValueDescriptor e = (EnumValueDescriptor) m.getField(f);
      if (e.getOptions().getDeprecated()) {
        violation(path, "deprecated enum value " + e.getName());
      }
    }
    FieldRules rules = f.getOptions().getExtension(Validate.rules);
    boolean skip = rules.hasMessage() && rules.getMessage().getSkip();
    if (f.isMapField()) {
      map(m, f, rules, path);
    } else if (f.isRepeated()) {
      repeated(m, f, rules, path);
      FieldRules items = rules.getRepeated().getItems();
      for (int i = 0; i < m.getRepeatedFieldCount(f); i++) {
        Object element = m.getRepeatedField(f, i);
        value(element, f, items, path + "[" + i + "]");
        if (element instanceof Message child && !skip) {
          message(child, path + "[" + i + "]");
        }
      }
    } else if (f.getJavaType() == FieldDescriptor.JavaType.MESSAGE) {
      if (!set) {
        if (requiresPresence(rules)) {
          violation(path, "is required");
        }
        return;
      }
      Message child = (Message) m.getField(f);
      value(child, f, rules, path);
      if (!skip) {
        message(child, path);
      }
    } else {
      value(m.getField(f), f, rules, path);
    }
  }

  private static boolean isSet(Message m, FieldDescriptor f) {
    if (f.isRepeated()) {
      return m.getRepeatedFieldCount(f) > 0;
    }
    if (f.hasPresence()) {
      return m.hasField(f);
    }
    return !m.getField(f).equals(f.getDefaultValue());
  }

  private static boolean requiresPresence(FieldRules rules) {
    return (rules.hasMessage() && rules.getMessage().getRequired())
        || (rules.hasDuration() && rules.getDuration().getRequired())
        || (rules.hasAny() && rules.getAny().getRequired());
  }

  private void repeated(Message m, FieldDescriptor f, FieldRules rules, String path) {
    if (!rules.hasRepeated()) {
      return;
    }
    Validate.RepeatedRules r = rules.getRepeated();
    int n = m.getRepeatedFieldCount(f);
    if (r.getIgnoreEmpty() && n == 0) {
      return;
    }
    if (r.hasMinItems() && n < r.getMinItems()) {
      violation(path, "needs at least " + r.getMinItems() + " items, has " + n);
    }
    if (r.hasMaxItems() && n > r.getMaxItems()) {
      violation(path, "allows at most " + r.getMaxItems() + " items, has " + n);
    }
    if (r.getUnique()) {
      Set<Object> seen = new HashSet<>();
      for (int i = 0; i < n; i++) {
        if (!seen.add(m.getRepeatedField(f, i))) {
          violation(path + "[" + i + "]", "duplicate item");
        }
      }
    }
  }

  private void map(Message m, FieldDescriptor f, FieldRules rules, String path) {
    FieldDescriptor keyField = f.getMessageType().findFieldByName("key");
    FieldDescriptor valueField = f.getMessageType().findFieldByName("value");
    int n = m.getRepeatedFieldCount(f);
    Validate.MapRules r = rules.getMap();
    if (rules.hasMap() && !(r.getIgnoreEmpty() && n == 0)) {
      if (r.hasMinPairs() && n < r.getMinPairs()) {
        violation(path, "needs at least " + r.getMinPairs() + " entries, has " + n);
      }
      if (r.hasMaxPairs() && n > r.getMaxPairs()) {
        violation(path, "allows at most " + r.getMaxPairs() + " entries, has " + n);
      }
    }
    for (int i = 0; i < n; i++) {
      Message entry = (Message) m.getRepeatedField(f, i);
      Object key = entry.getField(keyField);
      Object value = entry.getField(valueField);
      String at = path + "[" + key + "]";
      value(key, keyField, r.getKeys(), at + "(key)");
      value(value, valueField, r.getValues(), at);
      if (value instanceof Message child) {
        message(child, at);
      }
    }
  }

  /** Applies the type-specific rules of {@code rules} to one present value of field {@code f}. */
  private void value(Object v, FieldDescriptor f, FieldRules rules, String path) {
    switch (rules.getTypeCase()) {
      case STRING -> string((String) unwrap(v), rules.getString(), path);
      case BYTES -> bytes(v, rules.getBytes(), path);
      case BOOL -> {
        if (rules.getBool().hasConst()
            && !Boolean.valueOf(rules.getBool().getConst()).equals(unwrap(v))) {
          violation(path, "must be " + rules.getBool().getConst());
        }
      }
      case ENUM -> enumeration((EnumValueDescriptor) v, f, rules.getEnum(), path);
      case DURATION -> duration((Message) v, rules.getDuration(), path);
      case ANY -> anyRules((Message) v, rules.getAny(), path);
      case FLOAT,
          DOUBLE,
          INT32,
          INT64,
          UINT32,
          UINT64,
          SINT32,
          SINT64,
          FIXED32,
          FIXED64,
          SFIXED32,
          SFIXED64 -> {
        Message numericRules = (Message) rules.getField(rules.getOneofFieldDescriptor(typeOneof()));
        FieldDescriptor valueType = v instanceof Message w ? wrapperValue(w) : f;
        numeric(number(unwrap(v), valueType.getType()), numericRules, path);
      }
      default -> {}
    }
  }

  private static OneofDescriptor typeOneof() {
    return FieldRules.getDescriptor().getRealOneofs().get(0);
  }

  private static FieldDescriptor wrapperValue(Message wrapper) {
    return wrapper.getDescriptorForType().findFieldByName("value");
  }

  /** The value inside a {@code google.protobuf.*Value} wrapper, or {@code v} itself. */
  private static Object unwrap(Object v) {
    if (v instanceof Message w
        && w.getDescriptorForType().getFile().getName().equals("google/protobuf/wrappers.proto")) {
      return w.getField(wrapperValue(w));
    }
    return v;
  }

  private void numeric(BigDecimal v, Message r, String path) {
    if (isEmptyIgnored(r, v.signum() == 0)) {
      return;
    }
    BigDecimal constant = bound(r, "const");
    if (constant != null && v.compareTo(constant) != 0) {
      violation(path, "must equal " + constant.toPlainString() + ", is " + v.toPlainString());
    }
    range(v, r, path, v.toPlainString());
    List<BigDecimal> in = list(r, "in");
    if (!in.isEmpty() && in.stream().noneMatch(x -> x.compareTo(v) == 0)) {
      violation(path, "must be one of " + in + ", is " + v.toPlainString());
    }
    if (list(r, "not_in").stream().anyMatch(x -> x.compareTo(v) == 0)) {
      violation(path, "must not be " + v.toPlainString());
    }
  }

  /**
   * PGV ranges: {@code gt/gte} and {@code lt/lte} together form an inclusive range when the upper
   * bound is above the lower one, and an exclusive one (outside) when it is below.
   */
  private void range(BigDecimal v, Message r, String path, String shown) {
    BigDecimal gt = bound(r, "gt");
    BigDecimal gte = bound(r, "gte");
    BigDecimal lt = bound(r, "lt");
    BigDecimal lte = bound(r, "lte");
    BigDecimal lower = gt != null ? gt : gte;
    BigDecimal upper = lt != null ? lt : lte;
    boolean lowerOk = gt != null ? v.compareTo(gt) > 0 : gte == null || v.compareTo(gte) >= 0;
    boolean upperOk = lt != null ? v.compareTo(lt) < 0 : lte == null || v.compareTo(lte) <= 0;
    boolean exclusive = lower != null && upper != null && upper.compareTo(lower) < 0;
    boolean ok = exclusive ? lowerOk || upperOk : lowerOk && upperOk;
    if (!ok) {
      violation(path, "is " + shown + ", outside " + describe(gt, gte, lt, lte, exclusive));
    }
  }

  private static String describe(
      @Nullable BigDecimal gt,
      @Nullable BigDecimal gte,
      @Nullable BigDecimal lt,
      @Nullable BigDecimal lte,
      boolean exclusive) {
    List<String> parts = new ArrayList<>();
    if (gt != null) {
      parts.add("> " + gt.toPlainString());
    }
    if (gte != null) {
      parts.add(">= " + gte.toPlainString());
    }
    if (lt != null) {
      parts.add("< " + lt.toPlainString());
    }
    if (lte != null) {
      parts.add("<= " + lte.toPlainString());
    }
    return String.join(exclusive ? " or " : " and ", parts);
  }

  private static boolean isEmptyIgnored(Message r, boolean empty) {
    FieldDescriptor ignoreEmpty = r.getDescriptorForType().findFieldByName("ignore_empty");
    return empty && ignoreEmpty != null && Boolean.TRUE.equals(r.getField(ignoreEmpty));
  }

  /** A rule bound as a number: numeric rule fields, or a Duration in seconds. */
  private static @Nullable BigDecimal bound(Message r, String name) {
    FieldDescriptor f = r.getDescriptorForType().findFieldByName(name);
    if (f == null || !r.hasField(f)) {
      return null;
    }
    return toNumber(r.getField(f), f);
  }

  private static List<BigDecimal> list(Message r, String name) {
    FieldDescriptor f = r.getDescriptorForType().findFieldByName(name);
    List<BigDecimal> out = new ArrayList<>();
    if (f != null) {
      for (int i = 0; i < r.getRepeatedFieldCount(f); i++) {
        out.add(toNumber(r.getRepeatedField(f, i), f));
      }
    }
    return out;
  }

  private static BigDecimal toNumber(Object v, FieldDescriptor f) {
    return v instanceof Message duration ? seconds(duration) : number(v, f.getType());
  }

  private static BigDecimal number(Object v, FieldDescriptor.Type type) {
    return switch (type) {
      case UINT32, FIXED32 -> BigDecimal.valueOf(Integer.toUnsignedLong((Integer) v));
      case UINT64, FIXED64 -> new BigDecimal(Long.toUnsignedString((Long) v));
      case INT32, SINT32, SFIXED32 -> BigDecimal.valueOf((Integer) v);
      case INT64, SINT64, SFIXED64 -> BigDecimal.valueOf((Long) v);
      case FLOAT -> BigDecimal.valueOf((Float) v);
      case DOUBLE -> BigDecimal.valueOf((Double) v);
      default -> throw new IllegalArgumentException("not a number type: " + type);
    };
  }

  private static BigDecimal seconds(Message duration) {
    Descriptor d = duration.getDescriptorForType();
    long seconds = (Long) duration.getField(d.findFieldByName("seconds"));
    int nanos = (Integer) duration.getField(d.findFieldByName("nanos"));
    return BigDecimal.valueOf(seconds).add(BigDecimal.valueOf(nanos, 9));
  }

  private void duration(Message v, Validate.DurationRules r, String path) {
    BigDecimal s = seconds(v);
    BigDecimal constant = bound(r, "const");
    if (constant != null && s.compareTo(constant) != 0) {
      violation(path, "must be " + constant.toPlainString() + "s");
    }
    range(s, r, path, s.toPlainString() + "s");
  }

  private void anyRules(Message v, Validate.AnyRules r, String path) {
    String url = (String) v.getField(v.getDescriptorForType().findFieldByName("type_url"));
    if (r.getInCount() > 0 && !r.getInList().contains(url)) {
      violation(path, "type " + url + " not among " + r.getInList());
    }
    if (r.getNotInList().contains(url)) {
      violation(path, "type " + url + " not allowed");
    }
  }

  private void enumeration(
      EnumValueDescriptor v, FieldDescriptor f, Validate.EnumRules r, String path) {
    int n = v.getNumber();
    if (r.getDefinedOnly() && f.getEnumType().findValueByNumber(n) == null) {
      violation(path, "undefined enum value " + n);
    }
    if (r.hasConst() && r.getConst() != n) {
      violation(path, "must be enum value " + r.getConst());
    }
    if (r.getInCount() > 0 && !r.getInList().contains(n)) {
      violation(path, "enum value " + n + " not among " + r.getInList());
    }
    if (r.getNotInList().contains(n)) {
      violation(path, "enum value " + n + " not allowed");
    }
  }

  private void bytes(Object v, Validate.BytesRules r, String path) {
    int n = ((com.google.protobuf.ByteString) unwrap(v)).size();
    if (r.getIgnoreEmpty() && n == 0) {
      return;
    }
    if (r.hasLen() && n != r.getLen()) {
      violation(path, "must be " + r.getLen() + " bytes, is " + n);
    }
    if (r.hasMinLen() && n < r.getMinLen()) {
      violation(path, "needs at least " + r.getMinLen() + " bytes, has " + n);
    }
    if (r.hasMaxLen() && n > r.getMaxLen()) {
      violation(path, "allows at most " + r.getMaxLen() + " bytes, has " + n);
    }
  }

  private static final Map<Validate.KnownRegex, Pattern> STRICT_HEADER_REGEX =
      Map.of(
          Validate.KnownRegex.HTTP_HEADER_NAME,
              Pattern.compile("^:?[0-9a-zA-Z!#$%&'*+\\-.^_|~`]+$"),
          Validate.KnownRegex.HTTP_HEADER_VALUE,
              Pattern.compile("^[^\\u0000-\\u0008\\u000A-\\u001F\\u007F]*$"));
  private static final Pattern LOOSE_HEADER_REGEX = Pattern.compile("^[^\\u0000\\n\\r]*$");

  private void string(String v, Validate.StringRules r, String path) {
    if (r.getIgnoreEmpty() && v.isEmpty()) {
      return;
    }
    long chars = v.codePointCount(0, v.length());
    long bytes = v.getBytes(StandardCharsets.UTF_8).length;
    if (r.hasConst() && !r.getConst().equals(v)) {
      violation(path, "must be \"" + r.getConst() + "\"");
    }
    if (r.hasLen() && chars != r.getLen()) {
      violation(path, "must be " + r.getLen() + " characters long");
    }
    if (r.hasMinLen() && chars < r.getMinLen()) {
      violation(path, "needs at least " + r.getMinLen() + " characters, has " + chars);
    }
    if (r.hasMaxLen() && chars > r.getMaxLen()) {
      violation(path, "allows at most " + r.getMaxLen() + " characters, has " + chars);
    }
    if (r.hasMinBytes() && bytes < r.getMinBytes()) {
      violation(path, "needs at least " + r.getMinBytes() + " bytes, has " + bytes);
    }
    if (r.hasMaxBytes() && bytes > r.getMaxBytes()) {
      violation(path, "allows at most " + r.getMaxBytes() + " bytes, has " + bytes);
    }
    if (r.hasPrefix() && !v.startsWith(r.getPrefix())) {
      violation(path, "must start with \"" + r.getPrefix() + "\"");
    }
    if (r.hasSuffix() && !v.endsWith(r.getSuffix())) {
      violation(path, "must end with \"" + r.getSuffix() + "\"");
    }
    if (r.hasContains() && !v.contains(r.getContains())) {
      violation(path, "must contain \"" + r.getContains() + "\"");
    }
    if (r.hasNotContains() && v.contains(r.getNotContains())) {
      violation(path, "must not contain \"" + r.getNotContains() + "\"");
    }
    if (r.getInCount() > 0 && !r.getInList().contains(v)) {
      violation(path, "\"" + v + "\" not among " + r.getInList());
    }
    if (r.getNotInList().contains(v)) {
      violation(path, "\"" + v + "\" not allowed");
    }
    if (r.hasPattern() && !Pattern.compile(r.getPattern()).matcher(v).find()) {
      violation(path, "does not match " + r.getPattern());
    }
    if (r.hasWellKnownRegex() && r.getWellKnownRegex() != Validate.KnownRegex.UNKNOWN) {
      boolean strict = !r.hasStrict() || r.getStrict();
      Pattern p = strict ? STRICT_HEADER_REGEX.get(r.getWellKnownRegex()) : LOOSE_HEADER_REGEX;
      if (p != null && !p.matcher(v).matches()) {
        violation(path, "not a valid " + r.getWellKnownRegex());
      }
    }
  }
}
