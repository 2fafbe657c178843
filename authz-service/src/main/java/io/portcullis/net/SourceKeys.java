package io.portcullis.net;

import com.google.common.net.InetAddresses;
import java.net.Inet6Address;
import java.net.InetAddress;
import java.net.UnknownHostException;
import java.util.Arrays;
import org.jspecify.annotations.Nullable;

/**
 * How a source address names a limit bucket or a protection key.
 *
 * <ul>
 *   <li>IPv4: the address.
 *   <li>IPv6: its /64 ({@code 2001:db8:1:2::/64}). One subscriber normally gets a whole /64, so
 *       counting per /128 would let a single client rotate addresses past every per-IP limit and
 *       past failed-auth blocking.
 *   <li>Unknown (no or an unparseable source): {@value #UNKNOWN}, one shared bucket, so requests
 *       whose source cannot be established are limited together instead of not at all.
 * </ul>
 */
public final class SourceKeys {
  /** The key of every request whose source is unknown. */
  public static final String UNKNOWN = "unknown";

  private SourceKeys() {}

  public static String of(@Nullable InetAddress address) {
    if (address == null) {
      return UNKNOWN;
    }
    if (address instanceof Inet6Address) {
      byte[] prefix = Arrays.copyOf(address.getAddress(), 16);
      Arrays.fill(prefix, 8, 16, (byte) 0);
      try {
        return InetAddresses.toAddrString(InetAddress.getByAddress(prefix)) + "/64";
      } catch (UnknownHostException e) {
        throw new IllegalStateException("16 bytes are always an IPv6 address", e);
      }
    }
    return InetAddresses.toAddrString(address);
  }
}
