package io.portcullis.gateway;

import static org.assertj.core.api.Assertions.assertThat;

import io.envoyproxy.envoy.config.cluster.v3.Cluster;
import io.envoyproxy.envoy.config.route.v3.VirtualHost;
import io.envoyproxy.envoy.extensions.transport_sockets.tls.v3.CommonTlsContext;
import io.envoyproxy.envoy.extensions.transport_sockets.tls.v3.DownstreamTlsContext;
import io.envoyproxy.envoy.extensions.transport_sockets.tls.v3.SubjectAltNameMatcher;
import io.envoyproxy.envoy.extensions.transport_sockets.tls.v3.TlsCertificate;
import io.envoyproxy.envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext;
import io.grpc.Status;
import io.portcullis.config.RuntimeConfig;
import io.portcullis.config.RuntimeConfigLoader;
import io.portcullis.gateway.EnvoyConfig.Hcm;
import io.portcullis.server.grpc.GrpcServer;
import io.portcullis.testing.RepoRoot;
import io.portcullis.testing.TlsHealthChecks;
import java.io.InputStream;
import java.net.InetSocketAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.KeyFactory;
import java.security.cert.CertificateFactory;
import java.security.cert.X509Certificate;
import java.security.spec.PKCS8EncodedKeySpec;
import java.util.ArrayList;
import java.util.Base64;
import java.util.Collection;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code envoy/make-dev-certs.sh} writes every certificate {@code envoy/envoy.yaml} names, with the
 * names and SPIFFE IDs its listeners and the Portcullis cluster match on. Runs the real script
 * (needs {@code openssl}) into a temporary directory.
 */
class DevCertificatesTest {
  private static final String MOUNT = "/etc/envoy/certs/";
  private static final String CLIENT_AUTH = "1.3.6.1.5.5.7.3.2";
  private static final String SERVER_AUTH = "1.3.6.1.5.5.7.3.1";
  private static final int SAN_DNS = 2;
  private static final int SAN_URI = 6;

  @TempDir static Path certs;

  @BeforeAll
  static void runScript() throws Exception {
    DevCertificates.generate(certs);
  }

  @Test
  void everyCertificateFileEnvoyReferences_isWrittenByTheScript() {
    List<String> referenced =
        referencedFiles(EnvoyConfig.load(RepoRoot.resolve("envoy/envoy.yaml")));

    assertThat(referenced).isNotEmpty().allMatch(f -> f.startsWith(MOUNT), "under " + MOUNT);
    assertThat(referenced)
        .allSatisfy(f -> assertThat(certs.resolve(f.substring(MOUNT.length()))).isRegularFile());
  }

  @Test
  void envoyServerCertificate_coversEveryTlsVirtualHostDomain() throws Exception {
    X509Certificate server = cert("envoy-server.pem");
    List<String> domains = new ArrayList<>();
    for (Hcm hcm : EnvoyConfig.load(RepoRoot.resolve("envoy/envoy.yaml")).connectionManagers()) {
      if (hcm.tls().isPresent()) {
        for (VirtualHost vhost : hcm.virtualHosts()) {
          vhost.getDomainsList().stream().filter(d -> !d.contains("*")).forEach(domains::add);
        }
      }
    }

    assertThat(domains).isNotEmpty();
    assertThat(sans(server, SAN_DNS)).containsAll(domains);
    assertThat(server.getExtendedKeyUsage()).contains(SERVER_AUTH);
  }

  @Test
  void portcullisServerCertificate_matchesTheNameEnvoyVerifies() throws Exception {
    Cluster portcullis =
        EnvoyConfig.load(RepoRoot.resolve("envoy/envoy.yaml")).cluster("portcullis").orElseThrow();
    UpstreamTlsContext tls =
        EnvoyConfig.unpack(
            portcullis.getTransportSocket().getTypedConfig(), UpstreamTlsContext.class);
    List<String> expected =
        tls.getCommonTlsContext().getValidationContext().getMatchTypedSubjectAltNamesList().stream()
            .map(m -> m.getMatcher().getExact())
            .toList();

    assertThat(sans(cert("portcullis-server.pem"), SAN_DNS))
        .containsAll(expected)
        .contains(tls.getSni());
    assertThat(cert("envoy-client.pem").getExtendedKeyUsage()).contains(CLIENT_AUTH);
  }

  @Test
  void billingWorkloadCertificate_carriesItsSpiffeIdInTheMtlsListenersTrustDomain()
      throws Exception {
    X509Certificate billing = cert("billing.pem");
    String prefix =
        EnvoyConfig.load(RepoRoot.resolve("envoy/envoy.yaml")).connectionManagers().stream()
            .flatMap(h -> h.tls().stream())
            .filter(t -> t.getRequireClientCertificate().getValue())
            .flatMap(
                t ->
                    t
                        .getCommonTlsContext()
                        .getValidationContext()
                        .getMatchTypedSubjectAltNamesList()
                        .stream())
            .filter(m -> m.getSanType() == SubjectAltNameMatcher.SanType.URI)
            .map(m -> m.getMatcher().getPrefix())
            .findFirst()
            .orElseThrow();

    assertThat(sans(billing, SAN_URI))
        .containsExactly("spiffe://prod.example.com/ns/default/sa/billing")
        .allMatch(id -> id.startsWith(prefix));
    assertThat(billing.getExtendedKeyUsage()).contains(CLIENT_AUTH);
  }

  @Test
  void everyCertificate_isSignedByTheDevCa_andEveryKeyIsPkcs8() throws Exception {
    X509Certificate ca = cert("ca.pem");
    for (String name : List.of("envoy-server", "portcullis-server", "envoy-client", "billing")) {
      X509Certificate leaf = cert(name + ".pem");
      leaf.verify(ca.getPublicKey());
      assertThat(leaf.getBasicConstraints()).as("%s is not a CA", name).isEqualTo(-1);

      String pem = Files.readString(certs.resolve(name + ".key"));
      assertThat(pem).startsWith("-----BEGIN PRIVATE KEY-----");
      byte[] der =
          Base64.getMimeDecoder()
              .decode(pem.replaceAll("-----[A-Z ]+-----", "").replaceAll("\\s", ""));
      assertThat(KeyFactory.getInstance("EC").generatePrivate(new PKCS8EncodedKeySpec(der)))
          .isNotNull();
    }
  }

  @Test
  void deployConfiguration_admitsEnvoysClientCertificate_andRefusesTheBillingWorkloads()
      throws Exception {
    Path config =
        Files.writeString(
            certs.resolve("portcullis.yaml"),
            Files.readString(RepoRoot.resolve("deploy/portcullis.yaml"))
                .replace("/etc/portcullis-tls/", certs + "/"));
    RuntimeConfigLoader.Result loaded =
        RuntimeConfigLoader.load(
            config,
            null,
            Map.of("PORTCULLIS_ADMIN_TOKEN", "0123456789abcdef0123", "POSTGRES_PASSWORD", "pw")
                ::get);
    assertThat(loaded).as("%s", loaded).isInstanceOf(RuntimeConfigLoader.Loaded.class);
    RuntimeConfig.Tls tls = ((RuntimeConfigLoader.Loaded) loaded).config().grpc().tls();
    assertThat(tls.allowedClientIds()).isNotEmpty();

    try (GrpcServer server =
        GrpcServer.builder(new InetSocketAddress("127.0.0.1", 0))
            .tls(new GrpcServer.Tls(tls.cert(), tls.key(), tls.clientCa(), tls.allowedClientIds()))
            .build()
            .start()) {
      assertThat(healthCall(server, "envoy-client")).isEqualTo(Status.Code.OK);
      assertThat(healthCall(server, "billing")).isEqualTo(Status.Code.PERMISSION_DENIED);
    }
  }

  /** A health check from the client certificate {@code name}.pem, as its status code. */
  private static Status.Code healthCall(GrpcServer server, String name) throws Exception {
    return TlsHealthChecks.code(
        server.port(),
        certs.resolve("ca.pem"),
        certs.resolve(name + ".pem"),
        certs.resolve(name + ".key"));
  }

  private static List<String> referencedFiles(EnvoyConfig config) {
    List<String> files = new ArrayList<>();
    for (Hcm hcm : config.connectionManagers()) {
      hcm.tls().map(DownstreamTlsContext::getCommonTlsContext).ifPresent(c -> addFiles(c, files));
    }
    for (Cluster cluster : config.bootstrap().getStaticResources().getClustersList()) {
      if (cluster.getTransportSocket().getTypedConfig().is(UpstreamTlsContext.class)) {
        addFiles(
            EnvoyConfig.unpack(
                    cluster.getTransportSocket().getTypedConfig(), UpstreamTlsContext.class)
                .getCommonTlsContext(),
            files);
      }
    }
    return files;
  }

  private static void addFiles(CommonTlsContext tls, List<String> files) {
    for (TlsCertificate c : tls.getTlsCertificatesList()) {
      files.add(c.getCertificateChain().getFilename());
      files.add(c.getPrivateKey().getFilename());
    }
    if (tls.hasValidationContext()) {
      files.add(tls.getValidationContext().getTrustedCa().getFilename());
    }
  }

  private static X509Certificate cert(String file) throws Exception {
    try (InputStream in = Files.newInputStream(certs.resolve(file))) {
      return (X509Certificate) CertificateFactory.getInstance("X.509").generateCertificate(in);
    }
  }

  private static List<String> sans(X509Certificate cert, int type) throws Exception {
    Collection<List<?>> all = cert.getSubjectAlternativeNames();
    List<String> out = new ArrayList<>();
    if (all != null) {
      for (List<?> san : all) {
        if ((Integer) san.get(0) == type) {
          out.add((String) san.get(1));
        }
      }
    }
    return out;
  }
}
