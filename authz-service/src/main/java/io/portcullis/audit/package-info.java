/**
 * The decision audit log: one tamper-evident record per decision, written off the hot path, and
 * queried by the admin API, CLI and web page.
 */
@NullMarked
package io.portcullis.audit;

import org.jspecify.annotations.NullMarked;
