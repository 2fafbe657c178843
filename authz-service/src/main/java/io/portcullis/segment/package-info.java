/**
 * Segments: the first segment whose {@code match} holds decides which rules, guards and limits
 * apply (spec step 4), and the segment guards {@code require_tls}, {@code network} and {@code geo}
 * (step 5). Everything here is compiled once per policy and is allocation-free per request.
 */
@NullMarked
package io.portcullis.segment;

import org.jspecify.annotations.NullMarked;
