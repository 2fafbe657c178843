/**
 * The policy file: YAML loading with file/line/column errors, complete validation, and compilation
 * into the immutable {@link io.portcullis.policy.Policy} the pipeline runs. Also the live policy
 * that reloads atomically and keeps the last good one.
 */
@NullMarked
package io.portcullis.policy;

import org.jspecify.annotations.NullMarked;
