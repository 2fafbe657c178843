/** Shared test fixtures: fake clock, the shared test Redis, private Redis server processes. */
@NullMarked
package io.portcullis.testing;

import org.jspecify.annotations.NullMarked;
