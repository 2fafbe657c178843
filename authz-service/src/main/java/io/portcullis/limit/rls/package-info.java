/**
 * The Envoy rate limit service's core, wire-free: the envoyproxy/ratelimit descriptor configuration
 * (YAML files, loaded and validated with file/line/column errors), descriptor matching, and the
 * fixed-window counting that answers {@code ShouldRateLimit} the way envoyproxy/ratelimit does.
 * Counters live in memory or in Redis behind {@link io.portcullis.limit.rls.FixedWindowCounters};
 * the gRPC adapter is {@code io.portcullis.server.grpc.EnvoyRateLimitService}.
 */
@NullMarked
package io.portcullis.limit.rls;

import org.jspecify.annotations.NullMarked;
