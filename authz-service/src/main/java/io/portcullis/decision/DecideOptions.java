package io.portcullis.decision;

import io.portcullis.identity.Identity;
import org.jspecify.annotations.Nullable;

/**
 * How to run one decision. The default enforces and records; {@code explain} and policy tests use
 * the other settings.
 *
 * @param trace receives what each phase found
 * @param identity an already-verified identity that replaces phase 3 (policy tests, explain with an
 *     identity); {@code null} to verify the request's credentials
 * @param country a country that replaces the GeoIP/header lookup, or {@code null}
 * @param consumeLimits whether limits and failed-auth counters are consumed (false: look only)
 * @param record whether the decision is audited and counted in metrics
 */
public record DecideOptions(
    Trace trace,
    @Nullable Identity identity,
    @Nullable String country,
    boolean consumeLimits,
    boolean record) {

  private static final DecideOptions ENFORCE =
      new DecideOptions(Trace.none(), null, null, true, true);

  /** Enforce and record: what every proxied request gets. */
  public static DecideOptions enforce() {
    return ENFORCE;
  }

  /** Explain: trace everything, consume nothing, record nothing. */
  public static DecideOptions explain(Trace trace, @Nullable Identity identity) {
    return new DecideOptions(trace, identity, null, false, false);
  }
}
