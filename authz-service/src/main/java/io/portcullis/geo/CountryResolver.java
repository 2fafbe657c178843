package io.portcullis.geo;

import io.portcullis.request.RequestAttributes;
import java.util.Locale;
import org.jspecify.annotations.Nullable;

/**
 * Finds the country of a request's source (spec "Identity attributes": trusted header or GeoIP
 * database). Thread-safe; no blocking I/O (databases are memory-mapped).
 */
public interface CountryResolver {

  /** ISO 3166-1 alpha-2 upper-case code, or {@code null} when unknown. */
  @Nullable String country(RequestAttributes request);

  /** Never knows the country. */
  static CountryResolver none() {
    return request -> null;
  }

  /**
   * Reads a header the proxy sets (e.g. a CDN's country header). The proxy must strip any
   * client-sent copy; the shipped Envoy configuration does. Values that are not two ASCII letters
   * are ignored.
   */
  static CountryResolver header(String name) {
    String lower = name.toLowerCase(Locale.ROOT);
    return request -> normalize(request.header(lower));
  }

  /** Asks {@code first}, then {@code second} when the first does not know. */
  static CountryResolver firstOf(CountryResolver first, CountryResolver second) {
    return request -> {
      String c = first.country(request);
      return c != null ? c : second.country(request);
    };
  }

  /**
   * An upper-case two-letter code, or {@code null} for anything else. Only ASCII letters count:
   * {@link Character#toUpperCase(char)} would fold other letters into ASCII ({@code U+017F 'ſ'} to
   * {@code S}, dotless {@code 'ı'} to {@code I}), turning a value that is no country code into one.
   */
  static @Nullable String normalize(@Nullable String value) {
    if (value == null || value.length() != 2) {
      return null;
    }
    char a = asciiUpper(value.charAt(0));
    char b = asciiUpper(value.charAt(1));
    if (a < 'A' || a > 'Z' || b < 'A' || b > 'Z') {
      return null;
    }
    return "" + a + b;
  }

  private static char asciiUpper(char c) {
    return c >= 'a' && c <= 'z' ? (char) (c - ('a' - 'A')) : c;
  }
}
