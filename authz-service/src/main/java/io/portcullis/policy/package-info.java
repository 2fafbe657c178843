/**
 * The policy file: YAML loading with file/line/column errors, complete validation, and compilation
 * into the immutable {@link io.portcullis.policy.Policy} the pipeline runs, with lint warnings.
 * Also the live policy that reloads atomically and keeps the last good one, the file watcher and
 * SIGHUP handler that reload it, and the offline policy test runner with its request/identity
 * reader.
 */
@NullMarked
package io.portcullis.policy;

import org.jspecify.annotations.NullMarked;
