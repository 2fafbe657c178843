package io.portcullis.limit.rls;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.catchThrowableOfType;

import java.io.IOException;
import java.io.InputStream;
import java.net.URISyntaxException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

class RlsConfigLoaderTest {

  static Path resourceDir(String name) {
    try {
      return Path.of(RlsConfigLoaderTest.class.getResource("/rls/" + name).toURI());
    } catch (URISyntaxException e) {
      throw new IllegalStateException(e);
    }
  }

  static String resource(String name) throws IOException {
    try (InputStream in = RlsConfigLoaderTest.class.getResourceAsStream("/rls/" + name)) {
      return new String(in.readAllBytes(), StandardCharsets.UTF_8);
    }
  }

  static RlsRequest.Descriptor descriptor(String... keyValues) {
    List<RlsRequest.Entry> entries = new ArrayList<>();
    for (int i = 0; i < keyValues.length; i += 2) {
      entries.add(new RlsRequest.Entry(keyValues[i], keyValues[i + 1]));
    }
    return RlsRequest.Descriptor.of(entries);
  }

  @Test
  void readmeExamples_loadUnchanged_skippingDotFilesAndNonYaml() throws Exception {
    RlsConfig config = RlsConfig.load(resourceDir("readme"));

    assertThat(config.domains())
        .containsExactlyInAnyOrder(
            "mongo_cps",
            "messaging",
            "edge_proxy_per_ip",
            "example4",
            "internal",
            "example6",
            "example7",
            "example8",
            "example9");
  }

  @Test
  void limits_carryUnitRequestsNameShadowAndReplaces() throws Exception {
    RlsConfig config = RlsConfig.load(resourceDir("readme"));

    RlsLimit specific = config.find("example7", descriptor("key_1", "value_1", "user", "bkthomps"));
    RlsLimit replacing =
        config.find("example7", descriptor("key_2", "value_2", "user", "bkthomps"));
    RlsLimit shadow = config.find("example6", descriptor("service", "auth", "user", "user-a"));
    RlsLimit unlimited = config.find("internal", descriptor("ldap", "x"));

    assertThat(specific.name()).isEqualTo("specific_limit");
    assertThat(specific.requestsPerUnit()).isEqualTo(5);
    assertThat(specific.unit()).isEqualTo(RlsUnit.SECOND);
    assertThat(specific.fullKey()).isEqualTo("example7.key_1_value_1.user_bkthomps");
    assertThat(replacing.replaces()).containsExactly("specific_limit");
    assertThat(shadow.shadowMode()).isTrue();
    assertThat(unlimited.unlimited()).isTrue();
    assertThat(unlimited.unit()).isNull();
  }

  @Test
  void matching_prefersKeyValue_thenWildcard_thenKeyOnly_atTheDescriptorsDepth() throws Exception {
    RlsConfig config = RlsConfig.load(resourceDir("readme"));

    assertThat(config.find("edge_proxy_per_ip", descriptor("remote_address", "50.0.0.5")))
        .extracting(RlsLimit::requestsPerUnit)
        .isEqualTo(0L);
    assertThat(config.find("edge_proxy_per_ip", descriptor("remote_address", "50.0.0.1")))
        .extracting(RlsLimit::requestsPerUnit)
        .isEqualTo(10L);
    assertThat(config.find("example9", descriptor("key1", "value_2")))
        .extracting(RlsLimit::requestsPerUnit)
        .isEqualTo(20L);
    assertThat(config.find("example9", descriptor("key1", "other"))).isNull();
    assertThat(config.find("example8", descriptor("key1", "value1")))
        .extracting(RlsLimit::requestsPerUnit)
        .isEqualTo(20L);
    assertThat(config.find("example8", descriptor("key1", "something")))
        .extracting(RlsLimit::requestsPerUnit)
        .isEqualTo(10L);
    assertThat(config.find("example4", descriptor("key", "value", "subkey", "x")))
        .extracting(RlsLimit::requestsPerUnit)
        .isEqualTo(300L);
    assertThat(config.find("example4", descriptor("key", "value"))).as("too shallow").isNull();
    assertThat(config.find("messaging", descriptor("message_type", "marketing")))
        .as("placeholder without limit")
        .isNull();
    assertThat(config.find("nope", descriptor("a", "b"))).isNull();
  }

  @Test
  void aDescriptorDeeperThanTheConfiguration_getsNoLimit() throws Exception {
    RlsConfig flat = RlsConfig.load(resourceDir("example4-flat"));

    assertThat(flat.find("example4", descriptor("key", "value", "subkey", "subvalue"))).isNull();
    assertThat(flat.find("example4", descriptor("key", "value"))).isNotNull();
  }

  @Test
  void descriptorWithItsOwnLimit_getsThatLimitInAKnownDomain() throws Exception {
    RlsConfig config = RlsConfig.load(resourceDir("readme"));
    RlsRequest.Descriptor withLimit =
        new RlsRequest.Descriptor(
            descriptor("anything", "x").entries(),
            new RlsRequest.LimitOverride(42, RlsUnit.HOUR),
            null);

    RlsLimit l = config.find("example9", withLimit);

    assertThat(l.requestsPerUnit()).isEqualTo(42);
    assertThat(l.unit()).isEqualTo(RlsUnit.HOUR);
    assertThat(config.find("unknown", withLimit)).isNull();
  }

  @ParameterizedTest(name = "{0}")
  @CsvSource(
      delimiter = '|',
      textBlock =
          """
          bad_empty_domain.yaml              | 1 | 9  | domain                                      | config file cannot have empty domain
          bad_missing_domain.yaml            | 1 | 1  | domain                                      | config file cannot have empty domain
          bad_duplicate_key.yaml             | 6 | 5  | descriptors[1]                              | duplicate descriptor composite key 'dup.database_users'
          bad_unknown_key.yaml               | 4 | 5  | descriptors[0].rate_limits                  | unknown key 'rate_limits' (expected one of
          bad_unit.yaml                      | 5 | 13 | descriptors[0].rate_limit.unit              | invalid rate limit unit 'fortnight'
          bad_unlimited_with_unit.yaml       | 6 | 7  | descriptors[0].rate_limit.unit              | should not specify rate limit unit when unlimited
          bad_replaces_self.yaml             | 9 | 11 | descriptors[0].rate_limit.replaces[0].name  | replaces should not contain name of same descriptor
          bad_replaces_empty.yaml            | 8 | 11 | descriptors[0].rate_limit.replaces[0].name  | should not have an empty replaces entry
          bad_requests_per_unit.yaml         | 6 | 26 | descriptors[0].rate_limit.requests_per_unit | expected a whole number from 0 to 4294967295, got '-5'
          bad_missing_requests_per_unit.yaml | 5 | 7  | descriptors[0].rate_limit.requests_per_unit | missing
          bad_missing_key.yaml               | 3 | 5  | descriptors[0].key                          | descriptor has empty key
          bad_shadow_mode.yaml               | 4 | 18 | descriptors[0].shadow_mode                  | expected true or false, got 'maybe'
          bad_descriptors_not_a_list.yaml    | 3 | 3  | descriptors                                 | expected a list of descriptors
          """)
  void badConfig_isRefused_namingFileLineColumnAndField(
      String file, int line, int column, String field, String message) throws IOException {
    String text = resource("bad/" + file);

    RlsConfigException e =
        catchThrowableOfType(RlsConfigException.class, () -> RlsConfig.parse(Map.of(file, text)));

    assertThat(e).as("refused").isNotNull();
    assertThat(e.problems())
        .singleElement()
        .satisfies(
            p -> {
              assertThat(p.file()).isEqualTo(file);
              assertThat(p.field()).isEqualTo(field);
              assertThat(p.message()).contains(message);
              assertThat(p.line()).as("line").isEqualTo(line);
              assertThat(p.column()).as("column").isEqualTo(column);
            });
    assertThat(e.getMessage()).startsWith(file + ":" + line + ":" + column + ": " + field + ": ");
  }

  @Test
  void brokenYaml_isRefusedWithThePositionOfTheProblem() throws IOException {
    String text = resource("bad/bad_yaml_syntax.yaml");

    RlsConfigException e =
        catchThrowableOfType(
            RlsConfigException.class, () -> RlsConfig.parse(Map.of("bad_yaml_syntax.yaml", text)));

    assertThat(e.problems())
        .singleElement()
        .satisfies(
            p -> {
              assertThat(p.message()).startsWith("not valid YAML: ");
              assertThat(p.line()).isPositive();
            });
  }

  @Test
  void sameDomainInTwoFiles_isRefused_namingBothFiles() throws IOException {
    Map<String, String> files = new LinkedHashMap<>();
    files.put("a.yaml", resource("readme/example9.yaml"));
    files.put("b.yaml", resource("readme/example9.yaml"));

    assertThatThrownBy(() -> RlsConfig.parse(files))
        .isInstanceOf(RlsConfigException.class)
        .hasMessage("b.yaml:2:9: domain: duplicate domain 'example9' (also in a.yaml)");
  }

  @Test
  void everyProblemOfEveryFile_isReportedAtOnce() throws IOException {
    Map<String, String> files = new LinkedHashMap<>();
    files.put("bad_unit.yaml", resource("bad/bad_unit.yaml"));
    files.put("bad_shadow_mode.yaml", resource("bad/bad_shadow_mode.yaml"));

    RlsConfigException e =
        catchThrowableOfType(RlsConfigException.class, () -> RlsConfig.parse(files));

    assertThat(e.problems())
        .extracting(RlsConfigException.Problem::file)
        .containsExactly("bad_unit.yaml", "bad_shadow_mode.yaml");
  }
}
