package io.portcullis.audit;

import java.time.Instant;

/**
 * A chain whose expired records retention cannot delete: deletion keeps the chain verifiable by
 * removing only a prefix of it, and the prefix ends at a record stamped at or after the cutoff
 * (typically one written while the clock was stepped ahead), while records after it in the chain
 * are older than the cutoff. They stay until that record's time passes.
 *
 * @param instance the chain
 * @param seq the blocking record: the oldest remaining record of the chain
 * @param time the blocking record's time, at or after the cutoff
 * @param expiredSeq a record after it in the chain that is older than the cutoff (the oldest such
 *     record of the instance)
 */
public record RetentionStall(String instance, long seq, Instant time, long expiredSeq) {}
