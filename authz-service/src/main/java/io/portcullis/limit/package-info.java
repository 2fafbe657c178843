/**
 * Rate limits and quotas (spec step 8): limit definitions, bucket keys, and the {@link
 * io.portcullis.limit.RateLimiter} backends. A denied request consumes nothing from any limit.
 */
@NullMarked
package io.portcullis.limit;

import org.jspecify.annotations.NullMarked;
