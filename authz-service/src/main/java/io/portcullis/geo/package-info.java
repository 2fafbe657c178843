/** Country of the caller: a trusted header set by the proxy, or a MaxMind GeoIP2 database. */
@NullMarked
package io.portcullis.geo;

import org.jspecify.annotations.NullMarked;
