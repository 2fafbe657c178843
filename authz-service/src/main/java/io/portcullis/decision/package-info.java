/**
 * The decision pipeline: one method that runs the phases of the spec's decision order and returns a
 * {@link io.portcullis.decision.Decision} value (allow or deny with a reason), plus the
 * wire-neutral response plan (upstream headers, headers to remove, problem+json body) that the
 * adapters translate. {@link io.portcullis.decision.ExplainService} runs the same pipeline with a
 * trace to explain a decision step by step.
 */
@NullMarked
package io.portcullis.decision;

import org.jspecify.annotations.NullMarked;
