package io.portcullis.config;

import java.nio.ByteBuffer;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;

/**
 * Decodes the files the service and CLI read (policy, configuration, export checkpoint) as UTF-8
 * that must be valid: {@code new String(bytes, UTF_8)} would replace bad bytes silently and change
 * a name or value without a word.
 */
public final class StrictUtf8 {
  private StrictUtf8() {}

  /**
   * {@code bytes} as text.
   *
   * @throws CharacterCodingException if they are not valid UTF-8
   */
  public static String decode(byte[] bytes) throws CharacterCodingException {
    return StandardCharsets.UTF_8
        .newDecoder()
        .onMalformedInput(CodingErrorAction.REPORT)
        .onUnmappableCharacter(CodingErrorAction.REPORT)
        .decode(ByteBuffer.wrap(bytes))
        .toString();
  }
}
