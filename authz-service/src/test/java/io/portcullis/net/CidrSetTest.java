package io.portcullis.net;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.net.Inet6Address;
import java.net.InetAddress;
import java.net.UnknownHostException;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

class CidrSetTest {

  private static InetAddress ip(String literal) {
    try {
      return InetAddress.getByName(literal); // literals only: no DNS lookup
    } catch (UnknownHostException e) {
      throw new AssertionError(e);
    }
  }

  /** An IPv4-mapped address kept as an Inet6Address (getByName would turn it into IPv4). */
  private static InetAddress mapped(int a, int b, int c, int d) throws UnknownHostException {
    byte[] bytes = new byte[16];
    bytes[10] = (byte) 0xff;
    bytes[11] = (byte) 0xff;
    bytes[12] = (byte) a;
    bytes[13] = (byte) b;
    bytes[14] = (byte) c;
    bytes[15] = (byte) d;
    return Inet6Address.getByAddress(null, bytes, -1);
  }

  @Test
  void contains_ipv4Block_matchesInsideOnly() {
    CidrSet set = CidrSet.parse(List.of("10.0.0.0/8", "192.168.1.0/24"));
    assertThat(set.contains(ip("10.0.0.0"))).isTrue();
    assertThat(set.contains(ip("10.255.255.255"))).isTrue();
    assertThat(set.contains(ip("11.0.0.0"))).isFalse();
    assertThat(set.contains(ip("192.168.1.77"))).isTrue();
    assertThat(set.contains(ip("192.168.2.1"))).isFalse();
  }

  @Test
  void contains_singleAddress_isSlash32() {
    CidrSet set = CidrSet.parse(List.of("203.0.113.7"));
    assertThat(set.contains(ip("203.0.113.7"))).isTrue();
    assertThat(set.contains(ip("203.0.113.8"))).isFalse();
  }

  @Test
  void contains_zeroPrefix_matchesEveryAddressOfThatFamilyOnly() {
    CidrSet v4 = CidrSet.parse(List.of("0.0.0.0/0"));
    assertThat(v4.contains(ip("1.2.3.4"))).isTrue();
    assertThat(v4.contains(ip("255.255.255.255"))).isTrue();
    assertThat(v4.contains(ip("2001:db8::1"))).isFalse();
    CidrSet v6 = CidrSet.parse(List.of("::/0"));
    assertThat(v6.contains(ip("2001:db8::1"))).isTrue();
    assertThat(v6.contains(ip("1.2.3.4"))).isFalse();
  }

  @Test
  void contains_ipv6Blocks_respectPrefixOnBothHalves() {
    CidrSet set = CidrSet.parse(List.of("fd00::/8", "2001:db8:0:0:8000::/65", "::1"));
    assertThat(set.contains(ip("fd12:3456::1"))).isTrue();
    assertThat(set.contains(ip("fe00::1"))).isFalse();
    // /65: the first bit of the low 64 bits must be set.
    assertThat(set.contains(ip("2001:db8::8000:0:0:1"))).isTrue();
    assertThat(set.contains(ip("2001:db8::7fff:0:0:1"))).isFalse();
    assertThat(set.contains(ip("2001:db8:0:1:8000::1"))).isFalse();
    assertThat(set.contains(ip("::1"))).isTrue();
    assertThat(set.contains(ip("::2"))).isFalse();
  }

  @Test
  void contains_slash64_ignoresInterfaceIdentifier() {
    CidrSet set = CidrSet.parse(List.of("2001:db8:1:2::/64"));
    assertThat(set.contains(ip("2001:db8:1:2:ffff:ffff:ffff:ffff"))).isTrue();
    assertThat(set.contains(ip("2001:db8:1:3::"))).isFalse();
  }

  @Test
  void contains_ipv4MappedClient_matchesIpv4Block() throws UnknownHostException {
    CidrSet set = CidrSet.parse(List.of("10.0.0.0/8"));
    assertThat(set.contains(mapped(10, 1, 2, 3))).isTrue();
    assertThat(set.contains(mapped(11, 1, 2, 3))).isFalse();
  }

  @Test
  void contains_ipv4MappedBlock_matchesIpv4Clients() throws UnknownHostException {
    CidrSet set = CidrSet.parse(List.of("::ffff:10.0.0.0/104"));
    assertThat(set.contains(ip("10.9.8.7"))).isTrue();
    assertThat(set.contains(mapped(10, 9, 8, 7))).isTrue();
    assertThat(set.contains(ip("11.0.0.1"))).isFalse();
  }

  @Test
  void contains_unknownSource_isInNoBlock() {
    assertThat(CidrSet.parse(List.of("0.0.0.0/0", "::/0")).contains(null)).isFalse();
    assertThat(CidrSet.empty().contains(ip("10.0.0.1"))).isFalse();
    assertThat(CidrSet.empty().isEmpty()).isTrue();
  }

  @Test
  void parse_hostBitsSet_isRejectedWithTheBlockMeant() {
    assertThatThrownBy(() -> CidrSet.parse(List.of("10.0.0.1/8")))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("'10.0.0.1/8' has host bits set")
        .hasMessageContaining("10.0.0.0/8");
    assertThatThrownBy(() -> CidrSet.validate("fd00::1/8"))
        .hasMessageContaining("host bits set")
        .hasMessageContaining("fd00::/8");
  }

  @ParameterizedTest
  @ValueSource(
      strings = {
        "",
        "not-an-ip",
        "10.*",
        "10.0.0.0-10.0.0.5",
        "10.1",
        "010.0.0.1",
        "0x0a000001",
        "10.0.0.0/255.0.0.0",
        "10.0.0.0/33",
        "fe80::1%eth0",
        "*"
      })
  void validate_notPlainCidr_isRejected(String text) {
    assertThatThrownBy(() -> CidrSet.validate(text))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("'" + text + "'");
  }

  @Test
  void blocks_areKeptAsWritten() {
    CidrSet set = CidrSet.parse(List.of("10.0.0.0/8", "fd00::/8"));
    assertThat(set.blocks()).containsExactly("10.0.0.0/8", "fd00::/8");
    assertThat(set).hasToString("[10.0.0.0/8, fd00::/8]");
  }
}
