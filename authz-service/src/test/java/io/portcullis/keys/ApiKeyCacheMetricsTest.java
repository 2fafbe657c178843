package io.portcullis.keys;

import static org.assertj.core.api.Assertions.assertThat;

import io.micrometer.prometheusmetrics.PrometheusConfig;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import io.portcullis.store.Database;
import io.portcullis.store.StoreSettings;
import io.portcullis.testing.RepoRoot;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.LinkedHashSet;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Collectors;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The cache meters docs/api-keys.md ("Metrics") lists are the names {@code /metrics} really has for
 * the API key caches: Micrometer's Caffeine binder rendered by the Prometheus registry the service
 * scrapes (an operator copies these names into alert rules and dashboards).
 */
class ApiKeyCacheMetricsTest {
  private static final Pattern CACHE_METER = Pattern.compile("`(cache_[a-z_]+)");

  @TempDir Path dir;

  @Test
  void documentedCacheMeters_areTheNamesTheScrapeHas() throws Exception {
    PrometheusMeterRegistry meters = new PrometheusMeterRegistry(PrometheusConfig.DEFAULT);
    try (Database db = Database.open(StoreSettings.of("jdbc:sqlite:" + dir.resolve("k.db")));
        StoredKeyVerifier verifier =
            StoredKeyVerifier.builder(KeyStore.of(db), meters)
                .pollInterval(Duration.ofHours(1))
                .flushInterval(Duration.ofHours(1))
                .build()) {
      verifier.verify(KeyFormat.generate(new java.security.SecureRandom()));
      Set<String> scraped =
          meters
              .scrape()
              .lines()
              .filter(l -> !l.startsWith("#") && !l.isBlank())
              .map(l -> l.replaceFirst("[{ ].*", ""))
              .collect(Collectors.toSet());

      Set<String> documented = documentedCacheMeters();
      assertThat(documented)
          .as("docs/api-keys.md lists the cache meters")
          .contains("cache_gets_total", "cache_size", "cache_evictions_count");
      assertThat(scraped).as("names on /metrics").containsAll(documented);
      assertThat(meters.scrape())
          .contains("cache_gets_total{cache=\"portcullis.apikeys.known\",result=\"miss\"}")
          .contains("cache_evictions_count{cache=\"portcullis.apikeys.unknown\",cause=\"SIZE\"}");
    }
  }

  /** Every {@code cache_*} name in backquotes in the "Metrics" section of docs/api-keys.md. */
  private static Set<String> documentedCacheMeters() throws Exception {
    String doc = Files.readString(RepoRoot.resolve("docs/api-keys.md"));
    String section = doc.substring(doc.indexOf("\n## Metrics"));
    Matcher m = CACHE_METER.matcher(section);
    Set<String> names = new LinkedHashSet<>();
    while (m.find()) {
      names.add(m.group(1));
    }
    return names;
  }
}
