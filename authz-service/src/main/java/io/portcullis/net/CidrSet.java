package io.portcullis.net;

import inet.ipaddr.AddressStringException;
import inet.ipaddr.AddressStringParameters;
import inet.ipaddr.IPAddress;
import inet.ipaddr.IPAddressString;
import inet.ipaddr.IPAddressStringParameters;
import inet.ipaddr.IncompatibleAddressException;
import java.net.Inet4Address;
import java.net.Inet6Address;
import java.net.InetAddress;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import org.jspecify.annotations.Nullable;

/**
 * A set of CIDR blocks (IPv4 and IPv6), compiled for allocation-light matching: IPv4 blocks are
 * (network, mask) int pairs and IPv6 blocks (network, mask) long quadruples, scanned linearly,
 * which beats a trie for the handful of blocks a policy names. Parsing uses the IPAddress library
 * for exact error messages, restricted to plain CIDR notation: no empty string (the library's
 * default reads it as loopback), no wildcards or ranges ({@code 10.*}, {@code 10.0.0.1-5}), no
 * inet_aton forms ({@code 10.1}, hex, octal), no leading zeros ({@code 010.0.0.1} is octal to some
 * parsers and decimal to others), no masks, no IPv6 zones.
 *
 * <p>IPv4-mapped IPv6 ({@code ::ffff:10.0.0.0/104}) is IPv4: such a block (prefix at least 96) is
 * stored as the IPv4 block it maps ({@code 10.0.0.0/8}), and an IPv4-mapped {@link Inet6Address} is
 * matched as the IPv4 address it carries, so both spellings of one client agree. Immutable and
 * thread-safe.
 */
public final class CidrSet {
  private static final CidrSet EMPTY = new CidrSet(List.of(), new int[0], new long[0]);

  private static final IPAddressStringParameters STRICT =
      new IPAddressStringParameters.Builder()
          .allowEmpty(false)
          .allowAll(false)
          .allowSingleSegment(false)
          .allowMask(false)
          .allowPrefixOnly(false)
          .allowWildcardedSeparator(false)
          .setRangeOptions(AddressStringParameters.RangeParameters.NO_RANGE)
          .allow_inet_aton(false)
          .getIPv4AddressParametersBuilder()
          .allowLeadingZeros(false)
          .allowBinary(false)
          .getParentBuilder()
          .getIPv6AddressParametersBuilder()
          .allowBinary(false)
          .allowZone(false)
          .getParentBuilder()
          .toParams();

  private final List<String> blocks;
  private final int[] v4; // network, mask pairs
  private final long[] v6; // networkHi, networkLo, maskHi, maskLo quadruples

  private CidrSet(List<String> blocks, int[] v4, long[] v6) {
    this.blocks = blocks;
    this.v4 = v4;
    this.v6 = v6;
  }

  public static CidrSet empty() {
    return EMPTY;
  }

  /**
   * Parses CIDR blocks ({@code 10.0.0.0/8}, {@code fd00::/8}) or single addresses.
   *
   * @throws IllegalArgumentException naming the first bad block and why, for a block that is not an
   *     address or prefix, or one with host bits set ({@code 10.0.0.1/8})
   */
  public static CidrSet parse(List<String> cidrs) {
    if (cidrs.isEmpty()) {
      return EMPTY;
    }
    List<Integer> four = new ArrayList<>();
    List<Long> six = new ArrayList<>();
    for (String text : cidrs) {
      IPAddress a = parseBlock(text);
      int prefix =
          a.getNetworkPrefixLength() == null ? a.getBitCount() : a.getNetworkPrefixLength();
      byte[] bytes = a.getLower().getBytes();
      if (a.isIPv6() && prefix >= 96 && a.getLower().toIPv6().isIPv4Mapped()) {
        bytes = Arrays.copyOfRange(bytes, 12, 16);
        prefix -= 96;
        int net = toInt(bytes, 0);
        int mask = prefix == 0 ? 0 : -1 << (32 - prefix);
        four.add(net & mask);
        four.add(mask);
      } else if (a.isIPv4()) {
        int net = toInt(bytes, 0);
        int mask = prefix == 0 ? 0 : -1 << (32 - prefix);
        four.add(net & mask);
        four.add(mask);
      } else {
        long hi = toLong(bytes, 0);
        long lo = toLong(bytes, 8);
        long maskHi = prefix >= 64 ? -1L : (prefix == 0 ? 0 : -1L << (64 - prefix));
        long maskLo = prefix <= 64 ? 0 : (prefix == 128 ? -1L : -1L << (128 - prefix));
        six.add(hi & maskHi);
        six.add(lo & maskLo);
        six.add(maskHi);
        six.add(maskLo);
      }
    }
    return new CidrSet(
        List.copyOf(cidrs),
        four.stream().mapToInt(Integer::intValue).toArray(),
        six.stream().mapToLong(Long::longValue).toArray());
  }

  /** Validates one block; see {@link #parse}. */
  public static void validate(String cidr) {
    parseBlock(cidr);
  }

  private static IPAddress parseBlock(String text) {
    IPAddress a;
    try {
      a = new IPAddressString(text.trim(), STRICT).toAddress();
    } catch (AddressStringException | IncompatibleAddressException e) {
      throw new IllegalArgumentException("'" + text + "' is not an IP address or CIDR block", e);
    }
    if (a == null || !(a.isIPv4() || a.isIPv6())) {
      throw new IllegalArgumentException("'" + text + "' is not an IP address or CIDR block");
    }
    if (a.getNetworkPrefixLength() == null && a.isMultiple()) {
      throw new IllegalArgumentException(
          "'" + text + "' is a range; write CIDR blocks such as 10.0.0.0/8");
    }
    if (a.getNetworkPrefixLength() != null && !a.isPrefixBlock()) {
      throw new IllegalArgumentException(
          "'"
              + text
              + "' has host bits set; did you mean "
              + a.toPrefixBlock().toCanonicalString()
              + "?");
    }
    return a;
  }

  /** Whether {@code address} lies in any block; {@code null} (unknown source) is in none. */
  public boolean contains(@Nullable InetAddress address) {
    if (address == null) {
      return false;
    }
    if (address instanceof Inet4Address) {
      return containsV4(toInt(address.getAddress(), 0));
    }
    if (address instanceof Inet6Address) {
      byte[] b = address.getAddress();
      if (isIPv4Mapped(b)) {
        return containsV4(toInt(b, 12));
      }
      if (v6.length == 0) {
        return false;
      }
      long hi = toLong(b, 0);
      long lo = toLong(b, 8);
      for (int i = 0; i < v6.length; i += 4) {
        if ((hi & v6[i + 2]) == v6[i] && (lo & v6[i + 3]) == v6[i + 1]) {
          return true;
        }
      }
    }
    return false;
  }

  private boolean containsV4(int a) {
    for (int i = 0; i < v4.length; i += 2) {
      if ((a & v4[i + 1]) == v4[i]) {
        return true;
      }
    }
    return false;
  }

  /** {@code ::ffff:a.b.c.d}. */
  private static boolean isIPv4Mapped(byte[] b) {
    for (int i = 0; i < 10; i++) {
      if (b[i] != 0) {
        return false;
      }
    }
    return b[10] == (byte) 0xff && b[11] == (byte) 0xff;
  }

  public boolean isEmpty() {
    return blocks.isEmpty();
  }

  /** The blocks as written. */
  public List<String> blocks() {
    return blocks;
  }

  @Override
  public String toString() {
    return blocks.toString();
  }

  private static int toInt(byte[] b, int off) {
    return ((b[off] & 0xff) << 24)
        | ((b[off + 1] & 0xff) << 16)
        | ((b[off + 2] & 0xff) << 8)
        | (b[off + 3] & 0xff);
  }

  private static long toLong(byte[] b, int off) {
    long v = 0;
    for (int i = 0; i < 8; i++) {
      v = (v << 8) | (b[off + i] & 0xff);
    }
    return v;
  }
}
