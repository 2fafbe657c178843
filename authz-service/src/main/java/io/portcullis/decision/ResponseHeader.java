package io.portcullis.decision;

import java.util.Objects;

/** One header to set: on the request to the upstream, or on the response to the client. */
public record ResponseHeader(String name, String value) {
  public ResponseHeader {
    Objects.requireNonNull(name, "name");
    Objects.requireNonNull(value, "value");
  }
}
