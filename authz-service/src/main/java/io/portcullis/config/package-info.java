/**
 * Runtime configuration ({@code portcullis.yaml}): server addresses, TLS, stores and backends.
 * Needs a restart to change, unlike the policy.
 */
@NullMarked
package io.portcullis.config;

import org.jspecify.annotations.NullMarked;
