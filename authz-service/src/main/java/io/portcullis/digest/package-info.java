/** Hashing shared by every part of the service. */
@NullMarked
package io.portcullis.digest;

import org.jspecify.annotations.NullMarked;
