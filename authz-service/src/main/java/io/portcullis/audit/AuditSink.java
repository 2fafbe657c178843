package io.portcullis.audit;

import io.portcullis.decision.Decision;

/**
 * Receives every decision for the audit log. {@link #append} is on the hot path: it only enqueues
 * (target: under a microsecond) and never blocks or throws; turning the decision into a chained
 * {@code DecisionRecord} and writing it happen on the writer's thread.
 */
public interface AuditSink {

  /** Queues a decision for the audit log. */
  void append(Decision decision);
}
