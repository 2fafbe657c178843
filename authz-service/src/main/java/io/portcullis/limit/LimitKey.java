package io.portcullis.limit;

import io.portcullis.digest.Sha256;
import io.portcullis.identity.CredentialType;
import io.portcullis.identity.Subject;
import io.portcullis.net.SourceKeys;
import io.portcullis.request.RequestAttributes;
import java.util.HexFormat;
import java.util.List;
import java.util.Locale;
import org.jspecify.annotations.Nullable;

/**
 * One attribute of a limit's {@code key}. A limit whose key names an attribute the request lacks
 * (say {@code api_key} for a JWT caller) does not apply to that request.
 */
public sealed interface LimitKey {

  /**
   * This part's value for a request, or {@code null} if the request lacks the attribute.
   *
   * @param segment the segment the request fell into
   * @param route the name of the rule that allowed it
   */
  @Nullable String value(Subject subject, String segment, @Nullable String route);

  /** Parses a policy key name; {@code null} if unknown. */
  static @Nullable LimitKey parse(String name) {
    return switch (name) {
      case "principal" -> Attribute.PRINCIPAL;
      case "api_key" -> Attribute.API_KEY;
      case "client" -> Attribute.CLIENT;
      case "ip" -> Attribute.IP;
      case "segment" -> Attribute.SEGMENT;
      case "route" -> Attribute.ROUTE;
      default -> {
        if (name.startsWith("header:") && name.length() > "header:".length()) {
          yield new Header(name.substring("header:".length()).toLowerCase(Locale.ROOT));
        }
        yield null;
      }
    };
  }

  /** The fixed attributes. */
  enum Attribute implements LimitKey {
    PRINCIPAL("principal"),
    API_KEY("api_key"),
    CLIENT("client"),
    IP("ip"),
    SEGMENT("segment"),
    ROUTE("route");

    private final String keyName;

    Attribute(String keyName) {
      this.keyName = keyName;
    }

    @Override
    public String keyName() {
      return keyName;
    }

    @Override
    public @Nullable String value(Subject s, String segment, @Nullable String route) {
      return switch (this) {
        case PRINCIPAL ->
            s.identity().credential() == CredentialType.ANONYMOUS ? null : s.identity().principal();
        case API_KEY -> s.identity().apiKeyId();
        case CLIENT -> s.identity().client();
        case IP -> SourceKeys.of(s.request().sourceIp());
        case SEGMENT -> segment;
        case ROUTE -> route;
      };
    }
  }

  /**
   * {@code header:<name>}: the value of a request header. A header that carries credentials ({@link
   * #carriesSecrets}: {@code authorization}, {@code cookie}, {@code x-api-key}, any name with
   * {@code auth}, {@code token}, {@code key}, {@code secret}, {@code session}, {@code cookie} or
   * {@code password} in it) is keyed by {@code sha256:} and the first 32 hex digits of the SHA-256
   * of its value, so a per-token limit never puts the token itself into memory dumps, Redis keys or
   * the admin API's usage and block listings. Any other header's value longer than {@value
   * #MAX_PLAIN_VALUE} characters is keyed by the same digest: header values come from the client
   * and may be kilobytes long, and a bucket key must stay small (the in-memory limiter's bound of
   * buckets assumes about 120 bytes each; Redis keys should be short).
   */
  record Header(String header, boolean hashed) implements LimitKey {
    /** The longest value of a non-credential header that is counted under the value itself. */
    public static final int MAX_PLAIN_VALUE = 64;

    private static final List<String> SECRET_HINTS =
        List.of("auth", "token", "key", "secret", "session", "cookie", "password");

    public Header(String header) {
      this(header, carriesSecrets(header));
    }

    /** Whether a header of this (lower-case) name is treated as carrying a credential. */
    static boolean carriesSecrets(String header) {
      for (String hint : SECRET_HINTS) {
        if (header.contains(hint)) {
          return true;
        }
      }
      return false;
    }

    @Override
    public String keyName() {
      return "header:" + header;
    }

    @Override
    public @Nullable String value(Subject s, String segment, @Nullable String route) {
      return value(s.request());
    }

    /**
     * The key value of this header in {@code request}: its digest if the header carries credentials
     * or the value is longer than {@value #MAX_PLAIN_VALUE} characters, otherwise the value itself;
     * {@code null} if the header is absent or empty.
     */
    public @Nullable String value(RequestAttributes request) {
      String v = request.header(header);
      if (v == null || v.isEmpty()) {
        return null;
      }
      return hashed || v.length() > MAX_PLAIN_VALUE ? digest(v) : v;
    }

    /**
     * For the admin API: the key value a header value {@code v} given by an operator is counted
     * under (as {@link #value(RequestAttributes)} counts a request's), or {@code v} itself when it
     * is already a digest as the admin API lists it ({@code sha256:} and 32 hex digits). Never used
     * for request values: a client could send a digest-looking credential.
     */
    public String keyValue(String v) {
      if (v.length() == 39 && v.startsWith("sha256:") && v.substring(7).matches("[0-9a-f]{32}")) {
        return v;
      }
      return hashed || v.length() > MAX_PLAIN_VALUE ? digest(v) : v;
    }

    /** The key value a credential-bearing header's value {@code v} is counted under. */
    public static String digest(String v) {
      return "sha256:" + HexFormat.of().formatHex(Sha256.of(v), 0, 16);
    }
  }

  /** The part's name as written in the policy ({@code client}, {@code header:x-tenant}, ...). */
  String keyName();

  /**
   * The bucket that a limit's key values name, in the order of the limit's {@code key}: the values
   * joined with {@code ','}, each with {@code '%'} and {@code ','} percent-encoded, so different
   * value lists never share a bucket (a client named {@code a,b} is not the pair {@code a}, {@code
   * b}). The decision pipeline counts under it and the admin API looks buckets up with it.
   */
  static String bucket(List<String> values) {
    StringBuilder b = new StringBuilder(32);
    for (int i = 0; i < values.size(); i++) {
      if (i > 0) {
        b.append(',');
      }
      String v = values.get(i);
      for (int j = 0; j < v.length(); j++) {
        char c = v.charAt(j);
        switch (c) {
          case '%' -> b.append("%25");
          case ',' -> b.append("%2C");
          default -> b.append(c);
        }
      }
    }
    return b.toString();
  }
}
