package io.portcullis.geo;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.portcullis.testing.MmdbFiles;
import java.io.IOException;
import java.net.InetAddress;
import java.net.URISyntaxException;
import java.nio.file.Path;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

class MaxMindCountryResolverTest {
  @TempDir Path dir;

  /** MaxMind's test databases (src/test/resources/geoip/README.md). */
  static Path testDatabase(String name) {
    try {
      return Path.of(MaxMindCountryResolverTest.class.getResource("/geoip/" + name).toURI());
    } catch (URISyntaxException e) {
      throw new IllegalStateException(e);
    }
  }

  static InetAddress ip(String address) throws IOException {
    return InetAddress.getByName(address);
  }

  @Test
  void countryAndCityDatabases_answerTheCountry() throws IOException {
    try (MaxMindCountryResolver country =
            MaxMindCountryResolver.open(testDatabase("GeoIP2-Country-Test.mmdb"));
        MaxMindCountryResolver city =
            MaxMindCountryResolver.open(testDatabase("GeoIP2-City-Test.mmdb"))) {
      assertThat(country.lookup(ip("89.160.20.112"))).isEqualTo("SE");
      assertThat(country.lookup(ip("81.2.69.160"))).isEqualTo("GB");
      assertThat(country.lookup(ip("10.0.0.1"))).isNull();
      assertThat(city.lookup(ip("89.160.20.112"))).isEqualTo("SE");
    }
  }

  @Test
  void enterpriseDatabase_answersTheCountry() throws IOException {
    Path db =
        MmdbFiles.write(
            dir.resolve("enterprise.mmdb"),
            "GeoIP2-Enterprise",
            Map.of("country", Map.of("iso_code", "SE")));

    try (MaxMindCountryResolver r = MaxMindCountryResolver.open(db)) {
      assertThat(r.lookup(ip("192.0.2.1"))).isEqualTo("SE");
    }
  }

  @ParameterizedTest
  @ValueSource(
      strings = {
        "GeoLite2-ASN",
        "GeoIP2-ISP",
        "GeoIP2-Domain",
        "GeoIP2-Connection-Type",
        "GeoIP2-Anonymous-IP"
      })
  void databaseWithoutCountries_isRefusedAtOpen_namingTheFileAndItsType(String type)
      throws IOException {
    Path db =
        MmdbFiles.write(
            dir.resolve(type + ".mmdb"), type, Map.of("autonomous_system_number", 64500));

    assertThatThrownBy(() -> MaxMindCountryResolver.open(db).close())
        .isInstanceOf(IOException.class)
        .hasMessageContaining(db.toString())
        .hasMessageContaining("is a " + type + " database")
        .hasMessageContaining("Country, City or Enterprise");
  }

  @Test
  void fileThatIsNoMaxMindDatabase_isRefusedAtOpen_namingTheFile() throws IOException {
    Path db = java.nio.file.Files.writeString(dir.resolve("countries.mmdb"), "SE,GB\n");

    assertThatThrownBy(() -> MaxMindCountryResolver.open(db).close())
        .isInstanceOf(IOException.class)
        .hasMessageContaining(db.toString());
  }
}
