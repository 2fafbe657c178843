/**
 * gRPC adapters: Envoy ext_authz {@code Check} and rate limit service, health, reflection, and the
 * gRPC server lifecycle (TLS/mTLS, graceful drain). Translates Envoy's messages to and from the
 * wire-neutral core.
 */
@NullMarked
package io.portcullis.server.grpc;

import org.jspecify.annotations.NullMarked;
