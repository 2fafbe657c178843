/**
 * Shared test fixtures: fake clock, the shared test Redis, private Redis server processes, log
 * capture, the limit backend's meters.
 */
@NullMarked
package io.portcullis.testing;

import org.jspecify.annotations.NullMarked;
