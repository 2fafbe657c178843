package io.portcullis.request;

import java.util.Collections;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.function.BiConsumer;
import org.jspecify.annotations.Nullable;

/**
 * Request headers with lower-case names, as HTTP/2 and Envoy present them. A header sent several
 * times is one entry whose values are joined with {@code ","} (RFC 9110 §5.3), which is also how
 * Envoy's {@code CheckRequest} carries them. Immutable and thread-safe.
 */
public final class Headers {
  private static final Headers EMPTY = new Headers(Map.of());

  private final Map<String, String> values;

  private Headers(Map<String, String> values) {
    this.values = values;
  }

  public static Headers empty() {
    return EMPTY;
  }

  /** Copies {@code headers}, lower-casing names and joining repeated names with {@code ","}. */
  public static Headers of(Map<String, String> headers) {
    Builder b = builder();
    headers.forEach(b::add);
    return b.build();
  }

  public static Builder builder() {
    return new Builder();
  }

  /** The value of header {@code name} (any case), or {@code null}. */
  public @Nullable String get(String name) {
    String v = values.get(name);
    if (v == null && hasUpperCase(name)) {
      v = values.get(name.toLowerCase(Locale.ROOT));
    }
    return v;
  }

  public boolean contains(String name) {
    return get(name) != null;
  }

  /** Lower-case header names, in the order first seen. */
  public Set<String> names() {
    return Collections.unmodifiableSet(values.keySet());
  }

  public int size() {
    return values.size();
  }

  public void forEach(BiConsumer<String, String> action) {
    values.forEach(action);
  }

  /** Bytes of all names and values, as counted against the header size limits. */
  public long totalBytes() {
    long total = 0;
    for (Map.Entry<String, String> e : values.entrySet()) {
      total += e.getKey().length() + e.getValue().length();
    }
    return total;
  }

  public Map<String, String> asMap() {
    return Collections.unmodifiableMap(values);
  }

  /** Header names only: values can hold credentials. */
  @Override
  public String toString() {
    return "Headers" + values.keySet();
  }

  private static boolean hasUpperCase(String s) {
    for (int i = 0; i < s.length(); i++) {
      char c = s.charAt(i);
      if (c >= 'A' && c <= 'Z') {
        return true;
      }
    }
    return false;
  }

  /** Collects headers; not thread-safe. */
  public static final class Builder {
    private Map<String, String> values = new LinkedHashMap<>();
    // build() hands its map to the Headers without copying (once per request); a later change to
    // this builder then copies it first, so built Headers never change.
    private boolean built;
    // Repeated names being joined: appended to in place, so n repeats cost O(total length), not
    // O(n x length) as concatenating the joined value again for each repeat would (a CheckRequest
    // may carry a million entries of one name).
    private @Nullable Map<String, StringBuilder> joining;

    private Builder() {}

    /** Adds a header; a repeated name is joined to the earlier value with {@code ","}. */
    public Builder add(String name, String value) {
      String key = name.toLowerCase(Locale.ROOT);
      String earlier = writable().putIfAbsent(key, value);
      if (earlier != null) {
        if (joining == null) {
          joining = new HashMap<>();
        }
        joining.computeIfAbsent(key, k -> new StringBuilder(earlier)).append(',').append(value);
      }
      return this;
    }

    /** Sets a header, replacing any earlier value of that name. */
    public Builder set(String name, String value) {
      String key = name.toLowerCase(Locale.ROOT);
      if (joining != null) {
        joining.remove(key);
      }
      writable().put(key, value);
      return this;
    }

    public Builder remove(String name) {
      String key = name.toLowerCase(Locale.ROOT);
      if (joining != null) {
        joining.remove(key);
      }
      writable().remove(key);
      return this;
    }

    public Headers build() {
      if (joining != null) {
        for (Map.Entry<String, StringBuilder> e : joining.entrySet()) {
          values.put(e.getKey(), e.getValue().toString());
        }
        joining = null;
      }
      if (values.isEmpty()) {
        return EMPTY;
      }
      built = true;
      return new Headers(values);
    }

    private Map<String, String> writable() {
      if (built) {
        values = new LinkedHashMap<>(values);
        built = false;
      }
      return values;
    }
  }
}
