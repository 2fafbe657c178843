/** Metric names (defined once) and the Micrometer meters the service publishes. */
@NullMarked
package io.portcullis.metrics;

import org.jspecify.annotations.NullMarked;
