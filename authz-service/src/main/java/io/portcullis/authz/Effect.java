package io.portcullis.authz;

/** A rule's effect. Any applicable {@code DENY} rule denies, whatever allow rules say. */
public enum Effect {
  ALLOW,
  DENY
}
