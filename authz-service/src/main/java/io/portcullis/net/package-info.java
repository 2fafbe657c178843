/** IP addresses and CIDR sets compiled for allocation-free matching. */
@NullMarked
package io.portcullis.net;

import org.jspecify.annotations.NullMarked;
