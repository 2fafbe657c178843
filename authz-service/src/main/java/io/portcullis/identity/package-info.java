/**
 * Who the caller is: credentials extracted from the request (JWT, opaque token, API key, mTLS
 * peer), their verification, and the resulting {@link io.portcullis.identity.Identity}. A
 * presented-but-invalid credential is a rejection, never a fallback to anonymous. {@link
 * io.portcullis.identity.Subject} is the request seen together with its verified identity; the
 * phases after identification read it.
 */
@NullMarked
package io.portcullis.identity;

import org.jspecify.annotations.NullMarked;
