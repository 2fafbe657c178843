package io.portcullis.decision;

import io.portcullis.identity.Identity;
import io.portcullis.limit.LimitStatus;
import java.time.Instant;
import org.jspecify.annotations.Nullable;

/**
 * The facts of one decision that the audit record, metrics, dynamic metadata and explain share.
 * Never holds a credential, body or query string.
 *
 * @param decisionId the request's {@code x-request-id}, or a minted time-ordered UUID
 * @param time when the decision was made
 * @param policyVersion content hash of the deciding policy
 * @param method the method as sent
 * @param host the host as sent
 * @param path the normalized path; empty when the path was malformed
 * @param sourceIp the source address as text, or empty
 * @param country the source's country, or {@code null}
 * @param identity the verified identity; {@code null} when the request was refused before
 *     identification or its credential was rejected
 * @param segment the segment, or {@code null} before/without one
 * @param rule the rule that decided, or {@code null}
 * @param limit the tightest limit after this request, or {@code null} when no limit applied
 * @param dryRunRule for a dry-run allow, the dry-run rule or segment whose deny was waived
 * @param degraded set when a dependency failed and a fallback decided
 * @param latencyNanos time spent deciding
 */
public record DecisionContext(
    String decisionId,
    Instant time,
    String policyVersion,
    String method,
    String host,
    String path,
    String sourceIp,
    @Nullable String country,
    @Nullable Identity identity,
    @Nullable String segment,
    @Nullable String rule,
    @Nullable LimitStatus limit,
    @Nullable String dryRunRule,
    @Nullable String degraded,
    long latencyNanos) {}
