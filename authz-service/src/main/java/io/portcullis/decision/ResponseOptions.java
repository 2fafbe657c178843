package io.portcullis.decision;

/**
 * The policy's {@code response:} section.
 *
 * @param stripCredentials remove the credential headers Portcullis verified before the upstream
 * @param upstreamHeaders set {@code x-portcullis-principal, -segment, -client, -credential,
 *     -decision-id} on allowed requests
 */
public record ResponseOptions(boolean stripCredentials, boolean upstreamHeaders) {
  public static final ResponseOptions DEFAULT = new ResponseOptions(true, true);
}
