/**
 * The {@code portcullis} command line (picocli): serve, policy check/test, keys, audit, explain.
 */
@NullMarked
package io.portcullis.cli;

import org.jspecify.annotations.NullMarked;
