/**
 * Relational storage (SQLite embedded, PostgreSQL shared): connection pools and versioned schema
 * migrations used by the key store and the audit store.
 */
@NullMarked
package io.portcullis.store;

import org.jspecify.annotations.NullMarked;
