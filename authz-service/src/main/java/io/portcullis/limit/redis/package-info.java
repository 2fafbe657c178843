/**
 * The Redis backends of limits and protection, through Redisson: {@link
 * io.portcullis.limit.redis.RedisGcraLimiter} (one Lua script call for the requests that arrive
 * together), {@link io.portcullis.limit.redis.RedisSourceProtection}, {@link
 * io.portcullis.limit.redis.RedisFixedWindowCounters} for the Envoy rate limit service, the
 * Redisson configuration for single, cluster and sentinel deployments, and {@link
 * io.portcullis.limit.redis.RedisLimitBackends}, which assembles them with the failure policy. The
 * only limit package that imports Redisson.
 */
@NullMarked
package io.portcullis.limit.redis;

import org.jspecify.annotations.NullMarked;
