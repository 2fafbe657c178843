/**
 * API keys: format, hashing, verification with positive and negative caches, and the key lifecycle
 * (issue, rotate, revoke, expire).
 */
@NullMarked
package io.portcullis.keys;

import org.jspecify.annotations.NullMarked;
