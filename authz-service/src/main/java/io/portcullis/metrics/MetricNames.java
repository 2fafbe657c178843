package io.portcullis.metrics;

/**
 * Micrometer meter names, defined once. The Prometheus names of interfaces.md follow from
 * Micrometer's naming convention (dots become underscores, counters gain {@code _total}, timers
 * {@code _seconds}).
 */
public final class MetricNames {
  private MetricNames() {}

  /** {@code portcullis_decisions_total{segment,decision,reason}}. */
  public static final String DECISIONS = "portcullis.decisions";

  /** {@code portcullis_check_duration_seconds} (histogram). */
  public static final String CHECK_DURATION = "portcullis.check.duration";

  /** {@code portcullis_ratelimit_backend_errors_total}. */
  public static final String RATELIMIT_BACKEND_ERRORS = "portcullis.ratelimit.backend.errors";

  /** {@code portcullis_ratelimit_backend_degraded_decisions_total{caller}}. */
  public static final String RATELIMIT_BACKEND_DEGRADED_DECISIONS =
      "portcullis.ratelimit.backend.degraded.decisions";

  /** {@code portcullis_ratelimit_backend_up}: 1 while the limit backend works, 0 while it fails. */
  public static final String RATELIMIT_BACKEND_UP = "portcullis.ratelimit.backend.up";

  public static final String RATELIMIT_MEMORY_BUCKETS = "portcullis.ratelimit.memory.buckets";
  public static final String RATELIMIT_MEMORY_FULL_REFUSALS =
      "portcullis.ratelimit.memory.full.refusals";

  /** {@code portcullis_jwks_refresh_total{issuer,result}}. */
  public static final String JWKS_REFRESH = "portcullis.jwks.refresh";

  /**
   * Cache name (tag {@code cache}) of the verified-JWT cache in Micrometer's Caffeine meters:
   * {@code cache_gets_total{cache="portcullis.jwt.verified",result="hit|miss"}}, {@code
   * cache_size}, the summary {@code cache_evictions_count|sum|max{cause}} (docs/api-keys.md,
   * "Metrics").
   */
  public static final String CACHE_JWT_VERIFIED = "portcullis.jwt.verified";

  /** Cache name of the negative cache of permanently rejected JWTs (same meters as above). */
  public static final String CACHE_JWT_REJECTED = "portcullis.jwt.rejected";

  /**
   * Cache name of the API keys cached by id (same Caffeine meters as above): hits are verifications
   * without a store query.
   */
  public static final String CACHE_API_KEYS_KNOWN = "portcullis.apikeys.known";

  /** Cache name of the negative cache of API key ids the store does not have. */
  public static final String CACHE_API_KEYS_UNKNOWN = "portcullis.apikeys.unknown";

  /** Cache name of active introspection results (by SHA-256 of the token). */
  public static final String CACHE_INTROSPECTION_ACTIVE = "portcullis.introspection.active";

  /** Cache name of inactive introspection results (by SHA-256 of the token). */
  public static final String CACHE_INTROSPECTION_INACTIVE = "portcullis.introspection.inactive";

  /**
   * {@code portcullis_introspection_errors_total{issuer,reason}}: tokens an introspection endpoint
   * answered {@code identity_unavailable} for; {@code issuer} is the endpoint's name in the policy.
   * {@code reason="call_failed"}: the call failed (unreachable, timeout, non-200, unreadable
   * answer); {@code reason="concurrency_limit"}: no call was made, the endpoint's {@code
   * max_concurrent_requests} calls were outstanding.
   */
  public static final String INTROSPECTION_ERRORS = "portcullis.introspection.errors";

  /** {@code portcullis_audit_queue_depth}. */
  public static final String AUDIT_QUEUE_DEPTH = "portcullis.audit.queue.depth";

  /** {@code portcullis_audit_written_total}. */
  public static final String AUDIT_WRITTEN = "portcullis.audit.written";

  /** {@code portcullis_audit_dropped_total}. */
  public static final String AUDIT_DROPPED = "portcullis.audit.dropped";

  /**
   * {@code portcullis_audit_journaled_total}: records spilled to the local journal while the audit
   * store was unavailable (each is counted in {@link #AUDIT_WRITTEN} too once replayed).
   */
  public static final String AUDIT_JOURNALED = "portcullis.audit.journaled";

  /**
   * {@code portcullis_audit_chain_rewound_total}: times the audit store answered this writer with a
   * chain head behind records the writer itself had committed: records at the end of its chain were
   * deleted and the head moved back, which {@code audit verify} cannot see from the database alone.
   */
  public static final String AUDIT_CHAIN_REWOUND = "portcullis.audit.chain.rewound";

  /**
   * {@code portcullis_audit_chain_blocked}: 1 while the audit store holds a row after this
   * instance's chain head that the writer did not write (inserted by hand, or by a second process
   * with the same instance id), so every record goes to the journal; 0 once an append succeeds.
   */
  public static final String AUDIT_CHAIN_BLOCKED = "portcullis.audit.chain.blocked";

  /**
   * {@code portcullis_audit_spilling}: 1 while the audit writer sends records to its local journal
   * instead of the store (the store failed, did not answer within {@code audit.store_timeout}, or
   * the chain is blocked); 0 once the journal is replayed into the store.
   */
  public static final String AUDIT_SPILLING = "portcullis.audit.spilling";

  /**
   * {@code portcullis_audit_journal_bytes}: the size of the audit writer's journal file, its 8-byte
   * header included (the size {@code audit.journal_max_bytes} limits).
   */
  public static final String AUDIT_JOURNAL_BYTES = "portcullis.audit.journal.bytes";

  /**
   * {@code portcullis_audit_store_file_missing}: 1 once the SQLite audit store's path no longer
   * names the file the service has open (deleted, or replaced by another file), so records go to
   * the journal until a restart; 0 otherwise, and always for PostgreSQL.
   */
  public static final String AUDIT_STORE_FILE_MISSING = "portcullis.audit.store.file.missing";

  /**
   * {@code portcullis_audit_retention_stalled}: 1 if the last audit retention run found records
   * older than the retention it could not delete, because a record before them in their chain is
   * stamped after the cutoff (a clock stepped ahead); 0 otherwise.
   */
  public static final String AUDIT_RETENTION_STALLED = "portcullis.audit.retention.stalled";

  /**
   * {@code portcullis_audit_unreadable_rows_total}: audit rows whose stored record cannot be read
   * (damaged or edited) that a query of the service met, each counted once, when it is first
   * returned as an {@code unreadable} entry (and logged).
   */
  public static final String AUDIT_UNREADABLE_ROWS = "portcullis.audit.unreadable.rows";

  /**
   * Records per batch the audit writer's store thread wrote (one transaction, or one journal
   * write): about {@code rate * flush_interval} while the writer keeps up, up to {@code max_batch}
   * under load. Its count is the number of batches.
   */
  public static final String AUDIT_BATCH_RECORDS = "portcullis.audit.batch.records";

  /** {@code portcullis_policy_reloads_total{result}}. */
  public static final String POLICY_RELOADS = "portcullis.policy.reloads";

  /** {@code portcullis_blocked_sources}. */
  public static final String BLOCKED_SOURCES = "portcullis.blocked.sources";

  /** {@code portcullis_grpc_rejected_calls_total}: calls refused because too many were running. */
  public static final String GRPC_REJECTED = "portcullis.grpc.rejected.calls";

  /**
   * {@code portcullis_forward_auth_undecided_total{reason}}: forward-auth requests answered without
   * a decision (not audited): {@code body_timeout} (408, the body did not arrive in time) or {@code
   * body_budget} (503, the server held as many unfinished bodies as it may).
   */
  public static final String FORWARD_AUTH_UNDECIDED = "portcullis.forward.auth.undecided";

  /**
   * {@code portcullis_geoip_lookup_errors_total{cause}}: GeoIP database lookups that failed and
   * answered the country as unknown; {@code cause} is {@code invalid_database}, {@code bad_record}
   * or {@code changed_in_place} (the file was overwritten in place while mapped).
   */
  public static final String GEOIP_LOOKUP_ERRORS = "portcullis.geoip.lookup.errors";

  /**
   * {@code portcullis_geoip_reloads_total{result}}: GeoIP database re-opens (on SIGHUP, or when the
   * file was replaced); {@code error} means the new file could not be used and the running database
   * stays.
   */
  public static final String GEOIP_RELOADS = "portcullis.geoip.reloads";

  /**
   * {@code portcullis_grpc_client_refused_total}: gRPC calls refused before any work because the
   * verified client certificate carries none of {@code server.grpc.tls.allowed_client_ids}.
   */
  public static final String GRPC_CLIENT_REFUSED = "portcullis.grpc.client.refused";

  /**
   * {@code portcullis_tls_certificate_expiry_seconds{listener}}: when the listener's server
   * certificate stops being valid, in seconds since the epoch ({@code listener="grpc"}); absent for
   * a listener without TLS. Alert on {@code portcullis_tls_certificate_expiry_seconds - time()}
   * falling below the renewal margin.
   */
  public static final String TLS_CERTIFICATE_EXPIRY = "portcullis.tls.certificate.expiry";

  /**
   * {@code portcullis_tls_reloads_total{listener,result}}: re-reads of a listener's TLS files (on
   * SIGHUP, or when one of them changed); {@code error} means the new files could not serve
   * (half-written, key not the certificate's, expired) and the running ones stay.
   */
  public static final String TLS_RELOADS = "portcullis.tls.reloads";

  public static final String TAG_LISTENER = "listener";

  public static final String TAG_SEGMENT = "segment";
  public static final String TAG_DECISION = "decision";
  public static final String TAG_REASON = "reason";
  public static final String TAG_RESULT = "result";
  public static final String TAG_ISSUER = "issuer";
  public static final String TAG_CAUSE = "cause";
}
