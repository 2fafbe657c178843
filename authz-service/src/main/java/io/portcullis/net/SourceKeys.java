package io.portcullis.net;

import com.google.common.net.InetAddresses;
import io.portcullis.request.RequestAttributes;
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

  /**
   * The key that a source written by an operator (the admin API's {@code GET /admin/usage} and
   * {@code DELETE /admin/blocks}) is counted under, as {@link #of} keys a request from it: an
   * address in any spelling (IPv6 upper-case, compressed or not, in brackets or with a zone; an
   * IPv4-mapped IPv6 address) becomes its key, so {@code 2001:db8::1} names {@code 2001:db8::/64};
   * an IPv6 {@code /64} prefix is taken as the /64 it names; {@value #UNKNOWN} is itself. Not for
   * the decision path.
   *
   * @return the key, or {@code null} when {@code text} is none of these: nothing is ever counted
   *     under it ({@link #of} makes no other key), so reading it would only find an empty bucket
   */
  public static @Nullable String ofText(String text) {
    if (text.equals(UNKNOWN)) {
      return UNKNOWN;
    }
    int slash = text.indexOf('/');
    if (slash < 0) {
      InetAddress a = RequestAttributes.parseIp(text);
      return a == null ? null : of(a);
    }
    if (!text.substring(slash + 1).equals("64")) {
      return null;
    }
    InetAddress a = RequestAttributes.parseIp(text.substring(0, slash));
    return a instanceof Inet6Address ? of(a) : null;
  }

  /** What {@link #ofText} takes, for the message that refuses other text. */
  public static final String TEXT_FORMS =
      "an IPv4 or IPv6 address, an IPv6 /64 prefix, or '" + UNKNOWN + "'";
}
