package io.portcullis.net;

import inet.ipaddr.AddressStringException;
import inet.ipaddr.IPAddress;
import inet.ipaddr.IPAddressString;
import java.net.Inet4Address;
import java.net.Inet6Address;
import java.net.InetAddress;
import java.util.ArrayList;
import java.util.List;
import org.jspecify.annotations.Nullable;

/**
 * A set of CIDR blocks (IPv4 and IPv6), compiled for allocation-light matching: IPv4 blocks are
 * (network, mask) int pairs and IPv6 blocks (network, mask) long quadruples, scanned linearly,
 * which beats a trie for the handful of blocks a policy names. Parsing uses the IPAddress library
 * for exact error messages. Immutable and thread-safe.
 */
public final class CidrSet {
  private static final CidrSet EMPTY = new CidrSet(List.of(), new int[0], new long[0]);

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
      if (a.isIPv4()) {
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
      a = new IPAddressString(text.trim()).toAddress();
    } catch (AddressStringException e) {
      throw new IllegalArgumentException("'" + text + "' is not an IP address or CIDR block", e);
    }
    if (a == null || !(a.isIPv4() || a.isIPv6())) {
      throw new IllegalArgumentException("'" + text + "' is not an IP address or CIDR block");
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
      if (v4.length == 0) {
        return false;
      }
      int a = toInt(address.getAddress(), 0);
      for (int i = 0; i < v4.length; i += 2) {
        if ((a & v4[i + 1]) == v4[i]) {
          return true;
        }
      }
      return false;
    }
    if (address instanceof Inet6Address && v6.length > 0) {
      byte[] b = address.getAddress();
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
