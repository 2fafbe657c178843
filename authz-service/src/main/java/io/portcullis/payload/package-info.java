/**
 * Request body validation (spec step 7): JSON Schema 2020-12 compiled once per policy, {@code
 * body_too_large} when the proxy truncated the body.
 */
@NullMarked
package io.portcullis.payload;

import org.jspecify.annotations.NullMarked;
