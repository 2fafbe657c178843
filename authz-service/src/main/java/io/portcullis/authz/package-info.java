/**
 * Rules (spec step 6): which rules apply to a method and normalized path, deny-overrides, and the
 * allow conditions {@code roles_any}, {@code roles_all}, {@code scopes_any} and {@code clients}.
 * Owns the compiled path patterns.
 */
@NullMarked
package io.portcullis.authz;

import org.jspecify.annotations.NullMarked;
