package io.portcullis.geo;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.InstanceOfAssertFactories.STRING;
import static org.awaitility.Awaitility.await;

import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import io.portcullis.metrics.MetricNames;
import io.portcullis.testing.FakeClock;
import io.portcullis.testing.LogCapture;
import io.portcullis.testing.MmdbFiles;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.net.InetAddress;
import java.net.URISyntaxException;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.time.Duration;
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

  private final SimpleMeterRegistry meters = new SimpleMeterRegistry();
  private final FakeClock clock = FakeClock.at("2026-12-07T10:00:00Z");

  private MaxMindCountryResolver open(Path database) throws IOException {
    return MaxMindCountryResolver.builder(database).meterRegistry(meters).clock(clock).open();
  }

  private double lookupErrors(String cause) {
    return meters
        .get(MetricNames.GEOIP_LOOKUP_ERRORS)
        .tag(MetricNames.TAG_CAUSE, cause)
        .counter()
        .count();
  }

  @Test
  void countryAndCityDatabases_answerTheCountry() throws IOException {
    try (MaxMindCountryResolver country = open(testDatabase("GeoIP2-Country-Test.mmdb"));
        MaxMindCountryResolver city = open(testDatabase("GeoIP2-City-Test.mmdb"))) {
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

    try (MaxMindCountryResolver r = open(db)) {
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

    assertThatThrownBy(() -> open(db).close())
        .isInstanceOf(IOException.class)
        .hasMessageContaining(db.toString())
        .hasMessageContaining("is a " + type + " database")
        .hasMessageContaining("Country, City or Enterprise");
  }

  @Test
  void fileThatIsNoMaxMindDatabase_isRefusedAtOpen_namingTheFile() throws IOException {
    Path db = Files.writeString(dir.resolve("countries.mmdb"), "SE,GB\n");

    assertThatThrownBy(() -> open(db).close())
        .isInstanceOf(IOException.class)
        .hasMessageContaining(db.toString());
  }

  @ParameterizedTest
  @ValueSource(strings = {"string", "number"})
  void recordOfTheWrongShape_isUnknownCountry_countedAndWarnedAtMostOnceAMinute(String shape)
      throws IOException {
    // a Country database whose record has "country" as a string, or an iso_code that is a number:
    // MaxMind's reader throws DeserializationException, a RuntimeException
    Map<String, ?> record =
        shape.equals("string")
            ? Map.of("country", "SE")
            : Map.of("country", Map.of("iso_code", 752));
    Path db = MmdbFiles.write(dir.resolve("bad.mmdb"), "GeoLite2-Country", record);

    try (MaxMindCountryResolver r = open(db);
        LogCapture logs = LogCapture.of(MaxMindCountryResolver.class)) {
      assertThat(r.lookup(ip("192.0.2.1"))).isNull();
      assertThat(r.lookup(ip("192.0.2.2"))).isNull();
      clock.advance(Duration.ofSeconds(59));
      assertThat(r.lookup(ip("192.0.2.3"))).isNull();

      assertThat(lookupErrors("bad_record")).isEqualTo(3);
      assertThat(logs.warnings())
          .singleElement(STRING)
          .contains(db.toString())
          .contains("shape")
          .contains("unknown");

      clock.advance(Duration.ofSeconds(1));
      assertThat(r.lookup(ip("192.0.2.4"))).isNull();
      assertThat(logs.warnings()).hasSize(2);
    }
  }

  @Test
  void fileOverwrittenInPlace_isUnknownCountry_warningToReplaceItByRename() throws IOException {
    Path db =
        Files.copy(testDatabase("GeoIP2-Country-Test.mmdb"), dir.resolve("GeoLite2-Country.mmdb"));

    try (MaxMindCountryResolver r = open(db);
        LogCapture logs = LogCapture.of(MaxMindCountryResolver.class)) {
      assertThat(r.lookup(ip("89.160.20.112"))).isEqualTo("SE");

      // what `cp new.mmdb GeoLite2-Country.mmdb` does first: truncate the mapped file (then
      // write into it), so the mapping's pages are past the end of the file
      try (FileChannel ch = FileChannel.open(db, StandardOpenOption.WRITE)) {
        ch.truncate(0);
      }

      assertThat(r.lookup(ip("89.160.20.112"))).isNull();
      assertThat(r.lookup(ip("81.2.69.160"))).isNull();
      assertThat(lookupErrors("changed_in_place")).isEqualTo(2);
      assertThat(logs.warnings())
          .singleElement(STRING)
          .contains(db.toString())
          .contains("changed in place")
          .contains("atomic rename");
    }
  }

  /** A Country database in which every IPv4 address is in {@code iso}. */
  private Path countryDatabase(String name, String iso) throws IOException {
    return MmdbFiles.write(
        dir.resolve(name), "GeoLite2-Country", Map.of("country", Map.of("iso_code", iso)));
  }

  private double reloads(String result) {
    return meters
        .get(MetricNames.GEOIP_RELOADS)
        .tag(MetricNames.TAG_RESULT, result)
        .counter()
        .count();
  }

  @Test
  void fileReplacedByRename_isOpenedByTheNextCheck_onceOnly() throws IOException {
    Path db = Files.copy(testDatabase("GeoIP2-Country-Test.mmdb"), dir.resolve("country.mmdb"));
    try (MaxMindCountryResolver r = open(db)) {
      assertThat(r.reloadIfChanged()).as("nothing changed").isFalse();
      assertThat(r.lookup(ip("89.160.20.112"))).isEqualTo("SE");

      // what geoipupdate does: write the new file beside, then rename it over the old one
      Files.move(countryDatabase("country.mmdb.new", "NO"), db, StandardCopyOption.ATOMIC_MOVE);

      assertThat(r.reloadIfChanged()).isTrue();
      assertThat(r.lookup(ip("89.160.20.112"))).isEqualTo("NO");
      assertThat(r.reloadIfChanged()).as("already running").isFalse();
      assertThat(reloads("success")).isEqualTo(1);
    }
  }

  @Test
  void fileOverwrittenInPlace_isOpenedAgainOnceRewritten() throws IOException {
    Path db = Files.copy(testDatabase("GeoIP2-Country-Test.mmdb"), dir.resolve("country.mmdb"));
    byte[] next = Files.readAllBytes(countryDatabase("next.mmdb", "NO"));
    try (MaxMindCountryResolver r = open(db)) {
      try (FileChannel ch = FileChannel.open(db, StandardOpenOption.WRITE)) {
        ch.truncate(0);
      }
      assertThat(r.lookup(ip("89.160.20.112"))).isNull();

      Files.write(db, next); // the rest of `cp`: the whole new file

      assertThat(r.reloadIfChanged()).isTrue();
      assertThat(r.lookup(ip("89.160.20.112"))).isEqualTo("NO");
    }
  }

  @Test
  void replacementThatCannotBeUsed_keepsTheRunningDatabase_loggedAndTriedOnce() throws IOException {
    Path db = Files.copy(testDatabase("GeoIP2-Country-Test.mmdb"), dir.resolve("country.mmdb"));
    try (MaxMindCountryResolver r = open(db);
        LogCapture logs = LogCapture.of(MaxMindCountryResolver.class)) {
      Path asn =
          MmdbFiles.write(
              dir.resolve("asn.mmdb"), "GeoLite2-ASN", Map.of("autonomous_system_number", 64500));
      Files.move(asn, db, StandardCopyOption.ATOMIC_MOVE);

      assertThat(r.reloadIfChanged()).isFalse();
      assertThat(r.reloadIfChanged()).as("the same file is not tried again").isFalse();
      assertThat(r.lookup(ip("89.160.20.112"))).as("the running database").isEqualTo("SE");
      assertThat(reloads("error")).isEqualTo(1);
      assertThat(logs.errors())
          .singleElement(STRING)
          .contains("running one stays")
          .contains(db.toString())
          .contains("GeoLite2-ASN");

      // a good file renamed over it later is picked up; so is anything on SIGHUP (reload)
      Files.move(countryDatabase("good.mmdb", "NO"), db, StandardCopyOption.ATOMIC_MOVE);
      assertThat(r.reloadIfChanged()).isTrue();
      assertThat(r.lookup(ip("89.160.20.112"))).isEqualTo("NO");
      Files.move(countryDatabase("again.mmdb", "DK"), db, StandardCopyOption.ATOMIC_MOVE);
      assertThat(r.reload().ok()).isTrue();
      assertThat(r.lookup(ip("89.160.20.112"))).isEqualTo("DK");
    }
  }

  @Test
  void replacementWithBadlyShapedMetadata_isAFailedReload_notAnException() throws IOException {
    Path db = Files.copy(testDatabase("GeoIP2-Country-Test.mmdb"), dir.resolve("country.mmdb"));
    try (MaxMindCountryResolver r = open(db)) {
      // The metadata marker followed by a string where the metadata map belongs: MaxMind's reader
      // throws a RuntimeException (not an IOException) while opening it.
      ByteArrayOutputStream bad = new ByteArrayOutputStream();
      bad.write(new byte[] {(byte) 0xAB, (byte) 0xCD, (byte) 0xEF});
      bad.write("MaxMind.com".getBytes(StandardCharsets.US_ASCII));
      bad.write(0x43); // a UTF-8 string of 3 bytes
      bad.write("abc".getBytes(StandardCharsets.US_ASCII));
      Path next = Files.write(dir.resolve("bad.mmdb"), bad.toByteArray());
      Files.move(next, db, StandardCopyOption.ATOMIC_MOVE);

      assertThat(r.reload().ok()).isFalse();
      assertThat(reloads("error")).isEqualTo(1);
      assertThat(r.lookup(ip("89.160.20.112"))).as("the running database").isEqualTo("SE");
      assertThatThrownBy(() -> open(db).close())
          .as("at start-up too: a start-up error naming the file, not a raw exception")
          .isInstanceOf(IOException.class)
          .hasMessageContaining(db.toString());
    }
  }

  @Test
  void checkEvery_picksUpARenamedFileOnItsOwn() throws IOException {
    Path db = Files.copy(testDatabase("GeoIP2-Country-Test.mmdb"), dir.resolve("country.mmdb"));
    try (MaxMindCountryResolver r =
        MaxMindCountryResolver.builder(db).checkEvery(Duration.ofMillis(20)).open()) {
      Files.move(countryDatabase("new.mmdb", "NO"), db, StandardCopyOption.ATOMIC_MOVE);

      await()
          .atMost(Duration.ofSeconds(10))
          .until(() -> "NO".equals(r.lookup(ip("89.160.20.112"))));
    }
  }
}
