package io.portcullis.server.http;

import tools.jackson.core.io.JsonStringEncoder;

/** JSON string escaping (Jackson's encoder) for the few hand-built documents (problems, health). */
final class Json {
  private Json() {}

  static String escape(String s) {
    StringBuilder b = new StringBuilder(s.length() + 8);
    JsonStringEncoder.getInstance().quoteAsString(s, b);
    return b.toString();
  }
}
