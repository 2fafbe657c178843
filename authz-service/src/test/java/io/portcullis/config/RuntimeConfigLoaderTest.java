package io.portcullis.config;

import static org.assertj.core.api.Assertions.assertThat;

import io.portcullis.limit.BackendFailurePolicy;
import io.portcullis.limit.RateLimitSettings;
import io.portcullis.limit.RedisSettings;
import io.portcullis.policy.PolicyError;
import io.portcullis.testing.TestCertificates;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class RuntimeConfigLoaderTest {
  @TempDir Path dir;

  RuntimeConfigLoader.Result load(String yaml, Map<String, String> env) throws IOException {
    Path file = dir.resolve("portcullis.yaml");
    Files.writeString(file, yaml);
    return RuntimeConfigLoader.load(file, null, env::get);
  }

  List<PolicyError> errors(String yaml) throws IOException {
    RuntimeConfigLoader.Result r = load(yaml, Map.of());
    assertThat(r).isInstanceOf(RuntimeConfigLoader.Invalid.class);
    return ((RuntimeConfigLoader.Invalid) r).errors();
  }

  @Test
  void fullConfiguration_bindsEverySection() throws Exception {
    TestCertificates certs = certs();
    Files.copy(certs.serverCert(), dir.resolve("cert.pem"));
    Files.copy(certs.serverKey(), dir.resolve("key.pem"));
    RuntimeConfigLoader.Result r =
        load(
            """
            instance: pc-1
            server:
              grpc:  { address: "0.0.0.0:19191", tls: { cert: cert.pem, key: key.pem }, drain_grace: 3s,
                       max_in_flight: 2000, max_queue_time: 50ms }
              http:  { address: "127.0.0.1:19192", trusted_proxies: [10.0.0.0/8] }
              admin: { address: "127.0.0.1:19193", token: "${ADMIN_TOKEN}" }
            policy: { file: policy.yaml, watch: false }
            store: { url: "jdbc:postgresql://db/portcullis" }
            ratelimit:
              backend: redis
              redis: { addresses: ["redis://r1:6379", "redis://r2:6379"], mode: cluster, timeout: 20ms }
              on_backend_failure: deny
            rls: { config_dir: ratelimit/ }
            audit: { retention: 7d, queue_capacity: 5000, store_timeout: 2s }
            geoip: { header: CF-IPCountry }
            request_limits: { max_header_bytes: 8192 }
            """,
            Map.of("ADMIN_TOKEN", "0123456789abcdef0123"));
    assertThat(r).isInstanceOf(RuntimeConfigLoader.Loaded.class);
    RuntimeConfig c = ((RuntimeConfigLoader.Loaded) r).config();
    assertThat(c.instance()).isEqualTo("pc-1");
    assertThat(c.grpc().address().getPort()).isEqualTo(19191);
    assertThat(c.grpc().tls().cert()).isEqualTo(dir.resolve("cert.pem"));
    assertThat(c.grpc().drainGrace()).isEqualTo(Duration.ofSeconds(3));
    assertThat(c.grpc().maxInFlight()).isEqualTo(2000);
    assertThat(c.grpc().maxQueueTime()).isEqualTo(Duration.ofMillis(50));
    assertThat(c.http().trustedProxies()).containsExactly("10.0.0.0/8");
    assertThat(c.admin().token().matches("0123456789abcdef0123")).isTrue();
    assertThat(c.admin().token().toString()).doesNotContain("0123");
    assertThat(c.policy().file()).isEqualTo(dir.resolve("policy.yaml"));
    assertThat(c.policy().watch()).isFalse();
    assertThat(c.storeUrl()).isEqualTo("jdbc:postgresql://db/portcullis");
    assertThat(c.ratelimit().backend()).isEqualTo(RateLimitSettings.Backend.REDIS);
    assertThat(c.ratelimit().redis().addresses())
        .containsExactly("redis://r1:6379", "redis://r2:6379");
    assertThat(c.ratelimit().redis().mode()).isEqualTo(RedisSettings.Mode.CLUSTER);
    assertThat(c.ratelimit().redis().timeout()).isEqualTo(Duration.ofMillis(20));
    assertThat(c.ratelimit().onBackendFailure()).isEqualTo(BackendFailurePolicy.DENY);
    assertThat(c.rls()).isEqualTo(new RuntimeConfig.Rls(dir.resolve("ratelimit"), true));
    assertThat(c.audit().retention()).isEqualTo(Duration.ofDays(7));
    assertThat(c.audit().queueCapacity()).isEqualTo(5000);
    assertThat(c.audit().storeTimeout()).isEqualTo(Duration.ofSeconds(2));
    assertThat(c.geoip().header()).isEqualTo("cf-ipcountry");
    assertThat(c.requestLimits().maxHeaderBytes()).isEqualTo(8192);
    assertThat(c.requestLimits().maxCount()).isEqualTo(200);
  }

  @Test
  void minimalConfiguration_takesTheEmbeddedDefaults() throws IOException {
    RuntimeConfigLoader.Result r = load("policy: { file: p.yaml }\n", Map.of());
    RuntimeConfig c = ((RuntimeConfigLoader.Loaded) r).config();
    RuntimeConfig d = RuntimeConfig.defaults(dir.resolve("p.yaml"));
    assertThat(c.grpc()).isEqualTo(d.grpc());
    assertThat(c.admin().address()).isEqualTo(d.admin().address());
    assertThat(c.storeUrl()).isEqualTo(d.storeUrl());
    assertThat(c.ratelimit()).isEqualTo(d.ratelimit());
    assertThat(c.rls())
        .as("the default directory beside the configuration file, not in the working directory")
        .isEqualTo(new RuntimeConfig.Rls(dir.resolve("ratelimit"), false));
  }

  @Test
  void noPolicySection_takesPolicyYamlBesideTheConfiguration_asInterfacesMdDefaults()
      throws IOException {
    RuntimeConfigLoader.Result r = load("store: { url: \"jdbc:sqlite:x.db\" }\n", Map.of());
    RuntimeConfig c = ((RuntimeConfigLoader.Loaded) r).config();
    assertThat(c.policy().file()).isEqualTo(dir.resolve("policy.yaml"));
    assertThat(c.policy().watch()).isTrue();
  }

  @Test
  void aPolicySectionWithoutFile_takesPolicyYamlBesideTheConfigurationToo() throws IOException {
    RuntimeConfig c = loaded("policy: { watch: false }\n");
    assertThat(c.policy().file())
        .as("relative defaults resolve as relative values do, not against the working directory")
        .isEqualTo(dir.resolve("policy.yaml"));
    assertThat(c.policy().watch()).isFalse();
  }

  @Test
  void aGeoipSectionTrustsAHeader_onlyWhenItNamesOne() throws IOException {
    Path db = Files.writeString(dir.resolve("countries.mmdb"), "not opened by the loader");
    assertThat(loaded("geoip: { database: countries.mmdb }\n").geoip())
        .as("a database-only section must not start believing a client-settable header")
        .isEqualTo(new RuntimeConfig.GeoIp(null, db));
    assertThat(loaded("geoip: { header: X-Geo-Country, database: countries.mmdb }\n").geoip())
        .isEqualTo(new RuntimeConfig.GeoIp("x-geo-country", db));
    assertThat(loaded("instance: pc-1\n").geoip())
        .as("without a section, interfaces.md's default header")
        .isEqualTo(new RuntimeConfig.GeoIp("x-geo-country", null));
  }

  @Test
  void theEmbeddedDefaults_areInterfacesMds() throws IOException {
    // Literal values from interfaces.md's example configuration, not RuntimeConfig.defaults():
    // comparing the loader with the defaults would let both drift from the contract together.
    RuntimeConfig c = loaded("instance: pc-1\n");
    assertThat(c.grpc().address()).isEqualTo(new java.net.InetSocketAddress("0.0.0.0", 9191));
    assertThat(c.grpc().tls()).isNull();
    assertThat(c.http().address()).isEqualTo(new java.net.InetSocketAddress("0.0.0.0", 9192));
    assertThat(c.admin().address()).isEqualTo(new java.net.InetSocketAddress("127.0.0.1", 9193));
    assertThat(c.policy())
        .isEqualTo(new RuntimeConfig.PolicySettings(dir.resolve("policy.yaml"), true));
    assertThat(c.storeUrl()).isEqualTo("jdbc:sqlite:data/portcullis.db");
    assertThat(c.ratelimit().backend()).isEqualTo(RateLimitSettings.Backend.MEMORY);
    assertThat(c.ratelimit().onBackendFailure()).isEqualTo(BackendFailurePolicy.LOCAL);
    assertThat(c.ratelimit().redis().mode()).isEqualTo(RedisSettings.Mode.SINGLE);
    assertThat(c.ratelimit().redis().addresses()).containsExactly("redis://127.0.0.1:6379");
    assertThat(c.rls().configDir()).isEqualTo(dir.resolve("ratelimit"));
    assertThat(c.audit().retention()).isEqualTo(Duration.ofDays(30));
    assertThat(c.audit().queueCapacity()).isEqualTo(100_000);
    assertThat(c.audit().storeTimeout()).isEqualTo(Duration.ofSeconds(5));
    assertThat(c.geoip()).isEqualTo(new RuntimeConfig.GeoIp("x-geo-country", null));
  }

  private RuntimeConfig loaded(String yaml) throws IOException {
    RuntimeConfigLoader.Result r = load(yaml, Map.of());
    assertThat(r).as("%s", r).isInstanceOf(RuntimeConfigLoader.Loaded.class);
    return ((RuntimeConfigLoader.Loaded) r).config();
  }

  @Test
  void everyProblemIsReportedWithPosition() throws IOException {
    List<PolicyError> errors =
        errors(
            """
            server:
              grpc: { address: "nonsense", tls: { cert: missing.pem, key: missing.key } }
              admin: { token: "${NOT_SET}" }
              htp: {}
            policy: { file: p.yaml, watch: maybe }
            ratelimit: { backend: memcached, redis: { mode: sentinel }, on_backend_failure: panic }
            store: { url: "mysql://x" }
            """);
    assertThat(errors)
        .extracting(e -> e.line() + ":" + e.field())
        .contains(
            "2:server.grpc.address",
            "2:server.grpc.tls.cert",
            "2:server.grpc.tls.key",
            "3:server.admin.token",
            "4:server.htp",
            "5:policy.watch",
            "6:ratelimit.backend",
            "6:ratelimit.redis",
            "6:ratelimit.on_backend_failure",
            "7:store.url");
    assertThat(
            errors.stream().filter(e -> e.field().equals("server.htp")).findFirst().get().message())
        .contains("did you mean 'http'");
  }

  @Test
  void redisAddress_theDatabaseAndPasswordInTheUrl_areUsed() throws IOException {
    RuntimeConfigLoader.Result result =
        load(
            """
            ratelimit:
              backend: redis
              redis: { address: "redis://:${REDIS_PW}@cache:6379/7" }
            """,
            Map.of("REDIS_PW", "s3cret"));
    RedisSettings r = ((RuntimeConfigLoader.Loaded) result).config().ratelimit().redis();
    assertThat(r.addresses()).containsExactly("redis://cache:6379");
    assertThat(r.database()).isEqualTo(7);
    assertThat(r.password().matches("s3cret")).isTrue();
    assertThat(r.toString()).doesNotContain("s3cret");
  }

  @Test
  void redisAddress_underSentinel_theUrlPasswordIsTheSentinels_andPasswordThePrimarys()
      throws IOException {
    RuntimeConfigLoader.Result result =
        load(
            """
            ratelimit:
              backend: redis
              redis:
                mode: sentinel
                master_name: mymaster
                addresses: ["redis://:sentinelpw@s1:26379", "redis://:sentinelpw@s2:26379"]
                password: masterpw
            """,
            Map.of());
    assertThat(result).as("%s", result).isInstanceOf(RuntimeConfigLoader.Loaded.class);
    RedisSettings r = ((RuntimeConfigLoader.Loaded) result).config().ratelimit().redis();
    assertThat(r.addresses()).containsExactly("redis://s1:26379", "redis://s2:26379");
    assertThat(r.sentinelPassword().matches("sentinelpw")).isTrue();
    assertThat(r.password().matches("masterpw")).isTrue();
  }

  @Test
  void redisAddress_aDatabaseRedisCannotHonour_isAnErrorAtThatAddress() throws IOException {
    List<PolicyError> cluster =
        errors(
            """
            ratelimit:
              redis:
                mode: cluster
                addresses:
                  - "redis://r1:7000"
                  - "redis://:hunter2@r2:7000/3"
            """);
    assertThat(cluster)
        .singleElement()
        .satisfies(
            e -> {
              assertThat(e.line() + ":" + e.column() + ":" + e.field())
                  .isEqualTo("6:9:ratelimit.redis.addresses[1]");
              assertThat(e.message()).contains("Redis Cluster has only database 0");
              assertThat(e.format()).doesNotContain("hunter2");
            });
    assertThat(
            errors(
                """
                ratelimit:
                  redis:
                    address: "redis://cache:6379/db7"
                """))
        .singleElement()
        .satisfies(
            e -> {
              assertThat(e.line() + ":" + e.field()).isEqualTo("3:ratelimit.redis.address");
              assertThat(e.message()).contains("expected a database number");
            });
    assertThat(
            errors(
                """
                ratelimit:
                  redis: { address: "redis://:hunter2@cache:6379", password: other }
                """))
        .singleElement()
        .satisfies(
            e -> {
              assertThat(e.field()).isEqualTo("ratelimit.redis.address");
              assertThat(e.message()).contains("give the password once");
              assertThat(e.format()).doesNotContain("hunter2").doesNotContain("other");
            });
  }

  /**
   * A broken value in {@code ratelimit.redis} (an unset variable) is reported with every address
   * problem of the section, each at its address, in one go; the checks that compare a broken value
   * (here the sentinel's master name) make up nothing. The addresses used to go unchecked until the
   * variable was set, and then only the first bad one was reported.
   */
  @Test
  void redis_aBrokenVariable_isReportedWithEveryBadAddress_andNoErrorItWouldMakeUp()
      throws IOException {
    String yaml =
        """
        ratelimit:
          redis:
            mode: sentinel
            master_name: "${REDIS_MASTER}"
            password: "${REDIS_PASSWORD}"
            addresses:
              - "redis://s1:26379"
              - "s2:26379"
              - "redis://s3:26379/db1"
        """;
    List<PolicyError> errors = errors(yaml);
    assertThat(errors)
        .extracting(e -> e.line() + ":" + e.field() + ": " + e.message())
        .containsExactly(
            "4:ratelimit.redis.master_name: environment variable 'REDIS_MASTER' is not set",
            "5:ratelimit.redis.password: environment variable 'REDIS_PASSWORD' is not set",
            "8:ratelimit.redis.addresses[1]: expected a redis:// or rediss:// URL, got 's2:26379'"
                + " (redis[s]://[[user:]password@]host:port[/database])",
            "9:ratelimit.redis.addresses[2]: expected a database number (0 or more; Redis has 0 to"
                + " 15 unless its databases setting says otherwise) after the port, got '/db1' in"
                + " 'redis://s3:26379/db1'");

    // a command reading only the store skips the variables, not the addresses
    Path file = dir.resolve("portcullis.yaml");
    RuntimeConfigLoader.Result forStore =
        RuntimeConfigLoader.loadForCommands(file, null, k -> null, Set.of("store"));
    assertThat(((RuntimeConfigLoader.Invalid) forStore).errors())
        .extracting(e -> e.line() + ":" + e.field())
        .containsExactly("8:ratelimit.redis.addresses[1]", "9:ratelimit.redis.addresses[2]");

    // the checks across fields still run when what they compare is not broken
    assertThat(
            errors(
                """
                ratelimit:
                  redis:
                    mode: cluster
                    password: "${REDIS_PASSWORD}"
                    addresses: ["redis://r1:7000", "r2", "redis://r3:7000/3"]
                """))
        .extracting(e -> e.line() + ":" + e.field() + ": " + e.message())
        .containsExactly(
            "4:ratelimit.redis.password: environment variable 'REDIS_PASSWORD' is not set",
            "5:ratelimit.redis.addresses[1]: expected a redis:// or rediss:// URL, got 'r2'"
                + " (redis[s]://[[user:]password@]host:port[/database])",
            "5:ratelimit.redis.addresses[2]: names database 3, but Redis Cluster has only"
                + " database 0: remove /3 from redis://r3:7000");
    // a mode that is wrong is not read as single: two addresses are not an error of their own
    assertThat(
            errors(
                """
                ratelimit:
                  redis: { mode: sentinal, addresses: ["redis://s1:26379", "redis://s2:26379"] }
                """))
        .extracting(e -> e.line() + ":" + e.field() + ": " + e.message())
        .containsExactly("2:ratelimit.redis.mode: expected single, cluster or sentinel");
  }

  @Test
  void forCommands_onlyTheSectionsTheyReadNeedTheirVariables_serveNeedsThemAll()
      throws IOException {
    Path file = dir.resolve("portcullis.yaml");
    Files.writeString(
        file,
        """
        server:
          admin: { token: "${ADMIN_TOKEN}" }
          grpc: { tls: { cert: "${TLS_DIR}/s.pem", key: "${TLS_DIR}/s.key" } }
        store: { url: "jdbc:postgresql://db/p?password=${PG_PASSWORD}" }
        ratelimit: { redis: { mode: sentinel, master_name: "${REDIS_MASTER}" } }
        """);
    Map<String, String> env = Map.of("PG_PASSWORD", "pw");

    RuntimeConfigLoader.Result serve = RuntimeConfigLoader.load(file, null, env::get);
    assertThat(((RuntimeConfigLoader.Invalid) serve).errors())
        .extracting(e -> e.line() + ":" + e.field() + ": " + e.message())
        .containsExactly(
            "2:server.admin.token: environment variable 'ADMIN_TOKEN' is not set",
            "3:server.grpc.tls.cert: environment variable 'TLS_DIR' is not set",
            "3:server.grpc.tls.key: environment variable 'TLS_DIR' is not set",
            "5:ratelimit.redis.master_name: environment variable 'REDIS_MASTER' is not set");

    RuntimeConfigLoader.Result store =
        RuntimeConfigLoader.loadForCommands(file, null, env::get, Set.of("store"));
    assertThat(store).as("%s", store).isInstanceOf(RuntimeConfigLoader.Loaded.class);
    RuntimeConfig c = ((RuntimeConfigLoader.Loaded) store).config();
    assertThat(c.storeUrl()).isEqualTo("jdbc:postgresql://db/p?password=pw");
    assertThat(c.admin().token()).as("skipped: the default").isNull();
    assertThat(c.grpc().tls()).isNull();

    RuntimeConfigLoader.Result noStoreVariable =
        RuntimeConfigLoader.loadForCommands(file, null, k -> null, Set.of("store"));
    assertThat(((RuntimeConfigLoader.Invalid) noStoreVariable).errors())
        .extracting(e -> e.line() + ":" + e.column() + ":" + e.field() + ": " + e.message())
        .containsExactly("4:15:store.url: environment variable 'PG_PASSWORD' is not set");
  }

  /** Valid PEM files for {@code server.grpc.tls}, in {@code dir/tls}. */
  TestCertificates certs() throws Exception {
    return TestCertificates.create(dir.resolve("tls"), "spiffe://test/envoy");
  }

  /** A configuration whose {@code server.grpc.tls} has these lines, the first on line 5. */
  String tlsConfig(String... tls) {
    return "policy: { file: p.yaml }\nserver:\n  grpc:\n    tls:\n      "
        + String.join("\n      ", tls)
        + "\n";
  }

  /** The errors of {@link #tlsConfig}, as {@code line:field: message}. */
  List<String> tlsErrors(Map<String, String> env, String... tls) throws IOException {
    RuntimeConfigLoader.Result r = load(tlsConfig(tls), env);
    assertThat(r).as("must not load").isInstanceOf(RuntimeConfigLoader.Invalid.class);
    return ((RuntimeConfigLoader.Invalid) r)
        .errors().stream().map(e -> e.line() + ":" + e.field() + ": " + e.message()).toList();
  }

  @Test
  void emptyTlsCertOrKey_isAnError_neverPlaintext() throws Exception {
    assertThat(tlsErrors(Map.of(), "cert: \"\"", "key: \"\""))
        .hasSize(2)
        .anySatisfy(e -> assertThat(e).startsWith("5:server.grpc.tls.cert: is empty"))
        .anySatisfy(e -> assertThat(e).startsWith("6:server.grpc.tls.key: is empty"));
    certs();
    assertThat(tlsErrors(Map.of(), "cert: ${TLS_CERT:-}", "key: tls/server.key"))
        .singleElement()
        .satisfies(e -> assertThat(e).startsWith("5:server.grpc.tls.cert: is empty"));
    assertThat(tlsErrors(Map.of(), "cert: tls/server.pem", "key:"))
        .singleElement()
        .satisfies(e -> assertThat(e).startsWith("6:server.grpc.tls.key: is empty"));
  }

  @Test
  void emptyClientCa_isAnError_neverTlsWithoutClientAuthentication() throws Exception {
    certs();
    for (String ca : List.of("\"\"", "", "~", "${TLS_CA}", "${UNSET_CA:-}")) {
      assertThat(
              tlsErrors(
                  Map.of("TLS_CA", ""),
                  "cert: tls/server.pem",
                  "key: tls/server.key",
                  "client_ca: " + ca))
          .as("client_ca: %s", ca)
          .singleElement()
          .satisfies(e -> assertThat(e).startsWith("7:server.grpc.tls.client_ca: is empty"));
    }
  }

  @Test
  void unreadableClientCa_isReportedAtLoad_likeCertAndKey() throws Exception {
    certs();
    assertThat(
            tlsErrors(
                Map.of(), "cert: tls/server.pem", "key: tls/server.key", "client_ca: nope.pem"))
        .singleElement()
        .satisfies(
            e ->
                assertThat(e)
                    .startsWith("7:server.grpc.tls.client_ca: cannot read")
                    .contains("nope.pem"));
  }

  @Test
  void tlsWithClientCa_loads() throws Exception {
    TestCertificates c = certs();
    RuntimeConfigLoader.Result r =
        load(
            tlsConfig("cert: tls/server.pem", "key: tls/server.key", "client_ca: ${TLS_CA}"),
            Map.of("TLS_CA", "tls/ca.pem"));
    assertThat(r).as("%s", r).isInstanceOf(RuntimeConfigLoader.Loaded.class);
    assertThat(((RuntimeConfigLoader.Loaded) r).config().grpc().tls())
        .isEqualTo(new RuntimeConfig.Tls(c.serverCert(), c.serverKey(), c.caCert()));
  }

  @Test
  void tlsFilesThatCannotServe_areReportedAtTheirField_namingThePemFile() throws Exception {
    TestCertificates c = certs();
    Path encrypted =
        TestCertificates.encryptedTraditional(c.serverKey(), dir.resolve("tls/encrypted.key"));
    assertThat(
            tlsErrors(
                Map.of(),
                "cert: tls/server.pem",
                "key: tls/encrypted.key",
                "client_ca: tls/server.key"))
        .containsExactlyInAnyOrder(
            "6:server.grpc.tls.key: "
                + encrypted
                + " is encrypted (BEGIN EC PRIVATE KEY with Proc-Type: 4,ENCRYPTED): there is no"
                + " passphrase setting, so give the key unencrypted (decrypt it with 'openssl"
                + " pkey -in "
                + encrypted
                + " -out "
                + encrypted
                + ".plain')",
            "7:server.grpc.tls.client_ca: "
                + c.serverKey()
                + " holds a private key, not a CA certificate");
    assertThat(tlsErrors(Map.of(), "cert: tls/server.pem", "key: tls/client.key"))
        .singleElement()
        .satisfies(e -> assertThat(e).startsWith("6:server.grpc.tls.key: " + c.clientKey()));
  }

  @Test
  void aSec1Key_asCertManagerWritesByDefault_loads() throws Exception {
    TestCertificates c = certs();
    Path sec1 = TestCertificates.traditional(c.serverKey(), dir.resolve("tls/sec1.key"));
    RuntimeConfigLoader.Result r =
        load(tlsConfig("cert: tls/server.pem", "key: tls/sec1.key"), Map.of());
    assertThat(r).as("%s", r).isInstanceOf(RuntimeConfigLoader.Loaded.class);
    assertThat(((RuntimeConfigLoader.Loaded) r).config().grpc().tls().key()).isEqualTo(sec1);
  }

  @Test
  void anExpiredServerCertificate_isAConfigurationError() throws Exception {
    certs();
    Path file = dir.resolve("portcullis.yaml");
    Files.writeString(file, tlsConfig("cert: tls/server.pem", "key: tls/server.key"));
    Instant later = Instant.now().plus(Duration.ofDays(3)); // the test certificates last 2 days
    RuntimeConfigLoader.Result r = RuntimeConfigLoader.load(file, null, k -> null, () -> later);
    assertThat(((RuntimeConfigLoader.Invalid) r).errors())
        .singleElement()
        .satisfies(
            e -> {
              assertThat(e.line() + ":" + e.field()).isEqualTo("5:server.grpc.tls.cert");
              assertThat(e.message())
                  .contains("server.pem: the certificate 'CN=localhost' expired at");
            });
    assertThat(RuntimeConfigLoader.load(file, null, k -> null))
        .isInstanceOf(RuntimeConfigLoader.Loaded.class);
    assertThat(RuntimeConfigLoader.load(file, null, k -> null, null))
        .as("audit and keys commands open no listener: an expired certificate must not stop them")
        .isInstanceOf(RuntimeConfigLoader.Loaded.class);
  }

  @Test
  void allowedClientIds_areLoaded_andNeedClientCa_andTakeStarOnlyAsATrailingSlashStar()
      throws Exception {
    certs();
    RuntimeConfigLoader.Result r =
        load(
            tlsConfig(
                "cert: tls/server.pem",
                "key: tls/server.key",
                "client_ca: tls/ca.pem",
                "allowed_client_ids: [\"spiffe://prod.example.com/ns/edge/sa/envoy\","
                    + " \"spiffe://prod.example.com/ns/gw/*\", envoy.internal]"),
            Map.of());
    assertThat(((RuntimeConfigLoader.Loaded) r).config().grpc().tls().allowedClientIds())
        .containsExactly(
            "spiffe://prod.example.com/ns/edge/sa/envoy",
            "spiffe://prod.example.com/ns/gw/*",
            "envoy.internal");

    assertThat(
            tlsErrors(
                Map.of(),
                "cert: tls/server.pem",
                "key: tls/server.key",
                "allowed_client_ids: [\"spiffe://prod.example.com/ns/edge/sa/envoy\"]"))
        .singleElement()
        .satisfies(
            e -> assertThat(e).startsWith("7:server.grpc.tls.allowed_client_ids: needs client_ca"));
    assertThat(
            tlsErrors(
                Map.of(),
                "cert: tls/server.pem",
                "key: tls/server.key",
                "client_ca: tls/ca.pem",
                "allowed_client_ids: [\"spiffe://prod.example.com/*/sa/envoy\", \"\"]"))
        .extracting(e -> e.substring(0, e.indexOf(':', e.indexOf(':') + 1)))
        .containsExactlyInAnyOrder(
            "8:server.grpc.tls.allowed_client_ids[0]", "8:server.grpc.tls.allowed_client_ids[1]");
    assertThat(
            tlsErrors(
                Map.of(),
                "cert: tls/server.pem",
                "key: tls/server.key",
                "client_ca: tls/ca.pem",
                "allowed_client_ids: []"))
        .singleElement()
        .satisfies(
            e ->
                assertThat(e)
                    .startsWith("8:server.grpc.tls.allowed_client_ids: must not be empty"));
  }

  @Test
  void maxQueueTime_zeroTurnsTheBoundOff_andMoreThanAnHourIsRefused() throws IOException {
    RuntimeConfigLoader.Result off =
        load("policy: { file: p.yaml }\nserver: { grpc: { max_queue_time: 0s } }\n", Map.of());
    assertThat(((RuntimeConfigLoader.Loaded) off).config().grpc().maxQueueTime())
        .isEqualTo(Duration.ZERO);

    assertThat(errors("policy: { file: p.yaml }\nserver: { grpc: { max_queue_time: 2h } }\n"))
        .extracting(PolicyError::field)
        .containsExactly("server.grpc.max_queue_time");
  }

  @Test
  void shutdownDelay_defaultsTo15s_zeroDrainsAtOnce_andMoreThanTenMinutesIsRefused()
      throws IOException {
    RuntimeConfigLoader.Result none = load("policy: { file: p.yaml }\n", Map.of());
    assertThat(((RuntimeConfigLoader.Loaded) none).config().shutdownDelay())
        .isEqualTo(Duration.ofSeconds(15))
        .isEqualTo(RuntimeConfig.defaults(dir.resolve("p.yaml")).shutdownDelay());
    RuntimeConfigLoader.Result set =
        load("policy: { file: p.yaml }\nserver: { shutdown_delay: 20s }\n", Map.of());
    assertThat(((RuntimeConfigLoader.Loaded) set).config().shutdownDelay())
        .isEqualTo(Duration.ofSeconds(20));
    RuntimeConfigLoader.Result zero =
        load("policy: { file: p.yaml }\nserver: { shutdown_delay: 0s }\n", Map.of());
    assertThat(((RuntimeConfigLoader.Loaded) zero).config().shutdownDelay())
        .isEqualTo(Duration.ZERO);

    assertThat(errors("policy: { file: p.yaml }\nserver: { shutdown_delay: 11m }\n"))
        .singleElement()
        .satisfies(
            e -> {
              assertThat(e.field()).isEqualTo("server.shutdown_delay");
              assertThat(e.format()).contains("must be at most 10m (0s drains at once)");
            });
  }

  @Test
  void shortAdminToken_isRefused() throws IOException {
    assertThat(errors("policy: { file: p.yaml }\nserver: { admin: { token: short } }\n"))
        .extracting(PolicyError::field)
        .containsExactly("server.admin.token");
  }

  @Test
  void policyFlagOverridesPolicyFile() throws IOException {
    Path file = dir.resolve("portcullis.yaml");
    Files.writeString(file, "store: { url: \"jdbc:sqlite:x.db\" }\n");
    RuntimeConfigLoader.Result r =
        RuntimeConfigLoader.load(file, Path.of("/etc/p.yaml"), k -> null);
    assertThat(((RuntimeConfigLoader.Loaded) r).config().policy().file())
        .isEqualTo(Path.of("/etc/p.yaml"));
  }

  @Test
  void aListenerHostThatDoesNotResolve_isAnErrorAtItsLine() throws IOException {
    List<PolicyError> errors =
        errors(
            """
            policy: { file: p.yaml }
            server:
              grpc: { address: "nohost.invalid:9191" }
              http: { address: "localhost:9192" }
              admin: { address: "nohost.invalid:9193" }
            """);
    assertThat(errors)
        .extracting(e -> e.line() + ":" + e.field() + ": " + e.message())
        .containsExactly(
            "3:server.grpc.address: the host 'nohost.invalid' does not resolve to an address to"
                + " listen on (give an IP address such as 0.0.0.0, or a name this host resolves)",
            "5:server.admin.address: the host 'nohost.invalid' does not resolve to an address to"
                + " listen on (give an IP address such as 0.0.0.0, or a name this host resolves)");
  }

  @Test
  void addresses_parseIpv4Ipv6AndRejectGarbage() {
    assertThat(RuntimeConfigLoader.parseAddress("[::1]:9193").getPort()).isEqualTo(9193);
    assertThat(RuntimeConfigLoader.parseAddress("0.0.0.0:0").getPort()).isZero();
    assertThat(RuntimeConfigLoader.parseAddress("::1:9193")).isNull();
    assertThat(RuntimeConfigLoader.parseAddress("host:99999")).isNull();
    assertThat(RuntimeConfigLoader.parseAddress("9191")).isNull();
  }

  @Test
  void deployConfiguration_forDockerCompose_isValid() throws Exception {
    Path repo = io.portcullis.testing.RepoRoot.path();
    TestCertificates certs = certs();
    Path tls = dir.resolve("tls");
    Files.copy(certs.serverCert(), tls.resolve("portcullis-server.pem"));
    Files.copy(certs.serverKey(), tls.resolve("portcullis-server.key"));
    String yaml =
        Files.readString(repo.resolve("deploy/portcullis.yaml"))
            .replace("/etc/portcullis-tls/", tls + "/");
    RuntimeConfigLoader.Result r =
        load(
            yaml,
            Map.of("PORTCULLIS_ADMIN_TOKEN", "0123456789abcdef0123", "POSTGRES_PASSWORD", "pw"));
    assertThat(r).as("%s", r).isInstanceOf(RuntimeConfigLoader.Loaded.class);
    RuntimeConfig c = ((RuntimeConfigLoader.Loaded) r).config();
    assertThat(c.ratelimit().backend()).isEqualTo(RateLimitSettings.Backend.REDIS);
    assertThat(c.geoip().database()).isNull();
    assertThat(c.storeUrl()).startsWith("jdbc:postgresql://postgres:5432/portcullis");
    assertThat(c.grpc().tls().allowedClientIds())
        .containsExactly("spiffe://prod.example.com/ns/edge/sa/envoy");
  }
}
