/**
 * What the proxy told us about one request, in one wire-neutral {@link
 * io.portcullis.request.RequestAttributes} record, and the checks that make it safe to decide on:
 * path normalization (spec "Paths"), known methods and header size limits. Adapters in {@code
 * server.*} build it; everything after reads it.
 */
@NullMarked
package io.portcullis.request;

import org.jspecify.annotations.NullMarked;
