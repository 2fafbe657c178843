/**
 * HTTP adapters: forward-auth on the check port, and the admin port ({@code /metrics}, {@code
 * /healthz}, {@code /readyz}, {@code /admin/*}, the audit web page).
 */
@NullMarked
package io.portcullis.server.http;

import org.jspecify.annotations.NullMarked;
