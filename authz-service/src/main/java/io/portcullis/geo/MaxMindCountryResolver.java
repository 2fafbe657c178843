package io.portcullis.geo;

import com.maxmind.db.CHMCache;
import com.maxmind.geoip2.DatabaseReader;
import com.maxmind.geoip2.exception.GeoIp2Exception;
import io.portcullis.request.RequestAttributes;
import java.io.Closeable;
import java.io.IOException;
import java.net.InetAddress;
import java.nio.file.Path;
import java.util.Optional;
import org.jspecify.annotations.Nullable;

/**
 * Country from a MaxMind GeoIP2/GeoLite2 Country or City database, memory-mapped and read with
 * MaxMind's reader and its node cache. Lookups do no I/O beyond page faults of the mapped file.
 */
public final class MaxMindCountryResolver implements CountryResolver, Closeable {
  private final DatabaseReader reader;
  private final String databaseType;

  private MaxMindCountryResolver(DatabaseReader reader) {
    this.reader = reader;
    this.databaseType = reader.getMetadata().databaseType();
  }

  /**
   * Opens a database.
   *
   * @throws IOException if the file cannot be read, is not a MaxMind database, or is a database
   *     without countries (ASN, ISP, Domain, Connection-Type, Anonymous-IP: MaxMind's reader opens
   *     them and then refuses every country lookup); the message names the file
   */
  public static MaxMindCountryResolver open(Path database) throws IOException {
    DatabaseReader reader;
    try {
      reader = new DatabaseReader.Builder(database.toFile()).withCache(new CHMCache()).build();
    } catch (IOException e) {
      throw new IOException(
          "cannot open the GeoIP database " + database + ": " + e.getMessage(), e);
    }
    String type = reader.getMetadata().databaseType();
    if (!holdsCountries(type)) {
      reader.close();
      throw new IOException(
          "the GeoIP database "
              + database
              + " is a "
              + type
              + " database, which has no countries: use a Country, City or Enterprise database"
              + " (GeoLite2-Country, GeoIP2-Country, GeoLite2-City, GeoIP2-City, GeoIP2-Enterprise)");
    }
    return new MaxMindCountryResolver(reader);
  }

  /**
   * Whether MaxMind's reader answers country lookups on a database of this type: it does for types
   * naming Country, City or Enterprise (its own test of {@code database_type}), and throws {@link
   * UnsupportedOperationException} on every lookup otherwise.
   */
  static boolean holdsCountries(String databaseType) {
    return databaseType.contains("Country")
        || databaseType.contains("City")
        || databaseType.contains("Enterprise");
  }

  @Override
  public @Nullable String country(RequestAttributes request) {
    return lookup(request.sourceIp());
  }

  /** The country of an address, or {@code null} if the database does not know it. */
  public @Nullable String lookup(@Nullable InetAddress address) {
    if (address == null) {
      return null;
    }
    try {
      Optional<String> iso =
          databaseType.contains("City")
              ? reader.tryCity(address).map(c -> c.country().isoCode())
              : reader.tryCountry(address).map(c -> c.country().isoCode());
      return CountryResolver.normalize(iso.orElse(null));
    } catch (IOException | GeoIp2Exception e) {
      return null;
    }
  }

  @Override
  public void close() throws IOException {
    reader.close();
  }
}
