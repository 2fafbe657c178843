package io.portcullis.identity;

import org.jspecify.annotations.Nullable;

/**
 * How a caller proved who it is. The declaration order is the spec's precedence: when several
 * credentials are presented, all must verify and the principal comes from the first present in this
 * order.
 */
public enum CredentialType {
  JWT("jwt"),
  INTROSPECTION("introspection"),
  API_KEY("api_key"),
  MTLS("mtls"),
  ANONYMOUS("anonymous");

  private final String wireName;

  CredentialType(String wireName) {
    this.wireName = wireName;
  }

  /** The name used in policies, audit records, headers and metadata ({@code api_key}, ...). */
  public String wireName() {
    return wireName;
  }

  /** Parses a policy/wire name; {@code null} if unknown. */
  public static @Nullable CredentialType parse(String name) {
    for (CredentialType t : values()) {
      if (t.wireName.equals(name)) {
        return t;
      }
    }
    return null;
  }

  @Override
  public String toString() {
    return wireName;
  }
}
