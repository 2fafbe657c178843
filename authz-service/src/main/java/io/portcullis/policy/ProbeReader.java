package io.portcullis.policy;

import io.portcullis.identity.CredentialType;
import io.portcullis.identity.Identity;
import io.portcullis.request.Body;
import io.portcullis.request.RequestAttributes;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;
import org.jspecify.annotations.Nullable;
import tools.jackson.core.io.JsonStringEncoder;

/**
 * Binds requests and identities written as YAML or JSON (policy test cases, {@code POST
 * /admin/explain}, {@code portcullis explain --identity-json}) with the policy's positioned
 * machinery: every problem is reported with file, line, column and field, unknown keys with a
 * suggestion, and binding goes on to find them all.
 *
 * <p>A request: {@code method} (default {@code GET}; not validated here, so a malformed method can
 * be tested), {@code path} (required), {@code host}, {@code headers} (a mapping), {@code
 * source_ip}, {@code source_principal} (the mTLS peer identity the proxy reports), {@code tls}
 * (default false), {@code country} (ISO 3166-1 alpha-2), {@code context} (a mapping), {@code body}
 * (a string; a mapping or list is sent as JSON, with {@code content-type: application/json} unless
 * the headers set one) and {@code body_truncated} (the proxy cut the body off).
 *
 * <p>An identity, taken as already verified: {@code credential} (required: jwt, introspection,
 * api_key, mtls or anonymous), {@code principal} (required unless anonymous), {@code client},
 * {@code client_type}, {@code roles}, {@code scopes}, {@code api_key_id} (for {@code api_key}
 * defaults to the principal, which is the key id). An anonymous identity has none of the others.
 *
 * <p>One instance per document; not thread-safe.
 */
public class ProbeReader extends YamlReader {
  static final List<String> REQUEST_KEYS =
      List.of(
          "method",
          "path",
          "host",
          "headers",
          "source_ip",
          "source_principal",
          "tls",
          "country",
          "context",
          "body",
          "body_truncated");
  static final List<String> IDENTITY_KEYS =
      List.of("credential", "principal", "client", "client_type", "roles", "scopes", "api_key_id");
  private static final List<String> EXPLAIN_KEYS = List.of("request", "identity");

  ProbeReader(Diagnostics d) {
    super(d);
  }

  /**
   * Binds an explain request: {@code {"request": {...}, "identity": {...}}}, identity optional.
   *
   * @param text JSON or YAML
   * @param d receives every problem (its file name labels them, e.g. {@code request body})
   * @return the probe, or {@code null} when {@code d} has errors
   */
  public static @Nullable Probe explainRequest(String text, Diagnostics d) {
    YamlNode root = YamlTree.readData(text, d);
    if (root == null) {
      return null;
    }
    ProbeReader r = new ProbeReader(d);
    YamlNode.Mapping m = r.mapping(root, "");
    if (m == null) {
      return null;
    }
    Fields f = r.new Fields(m, "", EXPLAIN_KEYS);
    if (f.get("request") == null) {
      f.missing("request", "is required (a mapping with at least path)");
      return null;
    }
    Probe p = r.probe(f.get("request"), f.get("identity"), "request", f.path("identity"));
    return d.hasErrors() ? null : p;
  }

  /**
   * Binds an identity alone (JSON or YAML), e.g. {@code {"credential":"jwt","principal":"alice"}}.
   *
   * @return the identity, or {@code null} when {@code d} has errors
   */
  public static @Nullable Identity identity(String text, Diagnostics d) {
    YamlNode root = YamlTree.readData(text, d);
    if (root == null) {
      return null;
    }
    Identity id = new ProbeReader(d).identity(root, "");
    return d.hasErrors() ? null : id;
  }

  /**
   * Why {@code value} is not an upper-case ISO 3166-1 alpha-2 country code (as policies and GeoIP
   * use), or {@code null} if it is one.
   */
  public static @Nullable String countryProblem(String value) {
    return PolicyBinder.countryProblem(value);
  }

  /**
   * Binds a request mapping and an optional identity mapping.
   *
   * @return the probe; meaningful only when no error was reported
   */
  @Nullable Probe probe(
      YamlNode requestNode, @Nullable YamlNode identityNode, String path, String identityPath) {
    YamlNode.Mapping m = mapping(requestNode, path);
    Identity identity = identityNode == null ? null : identity(identityNode, identityPath);
    if (m == null) {
      return null;
    }
    Fields f = new Fields(m, path, REQUEST_KEYS);
    RequestAttributes.Builder b = RequestAttributes.builder();
    String method = optionalString(f, "method");
    if (method != null) {
      b.method(method);
    }
    if (f.get("path") == null) {
      f.missing("path", "is required (e.g. path: /v1/orders)");
    } else {
      String p = string(f.get("path"), f.path("path"));
      if (p != null) {
        b.path(p);
      }
    }
    String host = optionalString(f, "host");
    if (host != null) {
      b.host(host);
    }
    boolean hasContentType = false;
    YamlNode headers = f.get("headers");
    if (headers != null) {
      YamlNode.Mapping hm = mapping(headers, f.path("headers"));
      if (hm != null) {
        for (YamlNode.Entry e : hm.entries()) {
          String name = e.key().value();
          String p = f.path("headers") + "." + name;
          if (!PolicyBinder.isHeaderName(name)) {
            d.error(e.key(), p, "'" + name + "' is not a valid header name");
            continue;
          }
          String value = string(e.value(), p);
          if (value != null) {
            b.header(name, value);
            hasContentType |= name.equalsIgnoreCase("content-type");
          }
        }
      }
    }
    String ip = optionalString(f, "source_ip");
    if (ip != null) {
      if (RequestAttributes.parseIp(ip) == null) {
        d.error(
            f.get("source_ip"),
            f.path("source_ip"),
            "'" + ip + "' is not an IP address (e.g. 203.0.113.7 or 2001:db8::1)");
      } else {
        b.sourceIp(ip);
      }
    }
    String peer = optionalString(f, "source_principal");
    if (peer != null) {
      b.sourcePrincipal(peer);
    }
    boolean tls = false;
    if (f.get("tls") != null) {
      Boolean t = bool(f.get("tls"), f.path("tls"));
      tls = t != null && t;
    }
    b.tls(tls).scheme(tls ? "https" : "http");
    String country = optionalString(f, "country");
    if (country != null) {
      String problem = PolicyBinder.countryProblem(country);
      if (problem != null) {
        d.error(f.get("country"), f.path("country"), problem);
        country = null;
      }
    }
    YamlNode context = f.get("context");
    if (context != null) {
      YamlNode.Mapping cm = mapping(context, f.path("context"));
      if (cm != null) {
        for (YamlNode.Entry e : cm.entries()) {
          String v = string(e.value(), f.path("context") + "." + e.key().value());
          if (v != null) {
            b.context(e.key().value(), v);
          }
        }
      }
    }
    boolean truncated = false;
    if (f.get("body_truncated") != null) {
      Boolean t = bool(f.get("body_truncated"), f.path("body_truncated"));
      truncated = t != null && t;
    }
    YamlNode body = f.get("body");
    if (body instanceof YamlNode.Mapping || body instanceof YamlNode.Sequence) {
      b.body(Body.of(json(body), truncated));
      if (!hasContentType) {
        b.header("content-type", "application/json");
      }
    } else if (body != null) {
      String text = string(body, f.path("body"));
      if (text != null) {
        b.body(Body.of(text, truncated));
      }
    } else if (truncated) {
      b.body(Body.of(new byte[0], true));
    }
    return new Probe(b.build(), identity, country);
  }

  /** Binds an identity mapping; {@code null} after an error. */
  @Nullable Identity identity(YamlNode node, String path) {
    YamlNode.Mapping m = mapping(node, path);
    if (m == null) {
      return null;
    }
    Fields f = new Fields(m, path, IDENTITY_KEYS);
    YamlNode credentialNode = f.get("credential");
    if (credentialNode == null) {
      f.missing("credential", "is required (one of jwt, introspection, api_key, mtls, anonymous)");
      return null;
    }
    String c = string(credentialNode, f.path("credential"));
    if (c == null) {
      return null;
    }
    CredentialType credential = CredentialType.parse(c);
    if (credential == null) {
      d.error(credentialNode, f.path("credential"), PolicyBinder.unknownCredential(c));
      return null;
    }
    if (credential == CredentialType.ANONYMOUS) {
      for (String k : IDENTITY_KEYS.subList(1, IDENTITY_KEYS.size())) {
        YamlNode.Scalar key = f.key(k);
        if (key != null) {
          d.error(key, f.path(k), "an anonymous caller has no " + k);
        }
      }
      return Identity.anonymous();
    }
    String principal = null;
    if (f.get("principal") == null) {
      f.missing("principal", "is required for a " + credential + " caller");
    } else {
      principal = string(f.get("principal"), f.path("principal"));
      if (principal != null && principal.isEmpty()) {
        d.error(f.get("principal"), f.path("principal"), "must not be empty");
        principal = null;
      }
    }
    String client = optionalString(f, "client");
    String clientType = optionalString(f, "client_type");
    Set<String> roles = f.get("roles") == null ? Set.of() : set(f, "roles");
    Set<String> scopes = f.get("scopes") == null ? Set.of() : set(f, "scopes");
    String apiKeyId = optionalString(f, "api_key_id");
    if (apiKeyId == null && credential == CredentialType.API_KEY) {
      apiKeyId = principal;
    }
    if (principal == null) {
      return null;
    }
    return Identity.builder(credential, principal)
        .client(client)
        .clientType(clientType)
        .roles(roles)
        .scopes(scopes)
        .apiKeyId(apiKeyId)
        .build();
  }

  private Set<String> set(Fields f, String key) {
    return new LinkedHashSet<>(strings(f.get(key), f.path(key), false));
  }

  /** A string field's value, or {@code null} when absent or after an error. */
  protected @Nullable String optionalString(Fields f, String key) {
    YamlNode n = f.get(key);
    return n == null ? null : string(n, f.path(key));
  }

  /** The node as JSON text (a body written as YAML in a test case). */
  static String json(YamlNode node) {
    StringBuilder b = new StringBuilder();
    writeJson(node, b);
    return b.toString();
  }

  private static void writeJson(YamlNode node, StringBuilder b) {
    switch (node) {
      case YamlNode.Mapping m -> {
        b.append('{');
        for (int i = 0; i < m.entries().size(); i++) {
          YamlNode.Entry e = m.entries().get(i);
          if (i > 0) {
            b.append(',');
          }
          quote(e.key().value(), b);
          b.append(':');
          writeJson(e.value(), b);
        }
        b.append('}');
      }
      case YamlNode.Sequence s -> {
        b.append('[');
        for (int i = 0; i < s.items().size(); i++) {
          if (i > 0) {
            b.append(',');
          }
          writeJson(s.items().get(i), b);
        }
        b.append(']');
      }
      case YamlNode.Scalar s -> {
        switch (s.type()) {
          case INT, FLOAT -> {
            if (isJsonNumber(s.value())) {
              b.append(s.value());
            } else {
              quote(s.value(), b); // .inf, 0x1F and other YAML-only spellings
            }
          }
          case BOOL -> b.append(s.value().toLowerCase(java.util.Locale.ROOT));
          case NULL -> b.append("null");
          case STRING -> quote(s.value(), b);
        }
      }
    }
  }

  private static boolean isJsonNumber(String s) {
    return s.matches("-?(0|[1-9][0-9]*)(\\.[0-9]+)?([eE][+-]?[0-9]+)?");
  }

  private static void quote(String s, StringBuilder b) {
    b.append('"');
    JsonStringEncoder.getInstance().quoteAsString(s, b);
    b.append('"');
  }
}
