package io.portcullis.server.grpc;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowableOfType;

import io.portcullis.server.grpc.TlsMaterial.Part;
import io.portcullis.server.grpc.TlsMaterial.Problem;
import io.portcullis.testing.TestCertificates;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import org.bouncycastle.asn1.x509.GeneralName;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class TlsMaterialTest {
  @TempDir Path tmp;

  TestCertificates certs;
  final Instant now = Instant.now();

  @BeforeEach
  void certificates() throws Exception {
    certs = TestCertificates.create(tmp, "spiffe://test/envoy");
  }

  List<Problem> problems(Path cert, Path key, Path clientCa) {
    return catchThrowableOfType(
            TlsMaterial.InvalidException.class,
            () -> TlsMaterial.read(new GrpcServer.Tls(cert, key, clientCa), now))
        .problems();
  }

  TestCertificates.Issued server(String name, String algorithm, Instant from, Instant to)
      throws Exception {
    return certs.issue(
        name, algorithm, from, to, new GeneralName(GeneralName.dNSName, "localhost"));
  }

  @Test
  void pkcs8EcAndRsaKeys_withTheirCertificates_andAClientCa_areRead() throws Exception {
    TlsMaterial ec =
        TlsMaterial.read(
            new GrpcServer.Tls(certs.serverCert(), certs.serverKey(), certs.caCert()), now);
    assertThat(ec.leaf().getSubjectX500Principal().getName()).isEqualTo("CN=localhost");
    assertThat(ec.clientCa()).hasSize(1);

    TestCertificates.Issued rsa =
        server("rsa", "RSA", now.minus(Duration.ofHours(1)), now.plus(Duration.ofDays(1)));
    assertThat(TlsMaterial.read(new GrpcServer.Tls(rsa.cert(), rsa.key(), null), now).clientCa())
        .isEmpty();
  }

  TlsMaterial read(Path cert, Path key) throws TlsMaterial.InvalidException {
    return TlsMaterial.read(new GrpcServer.Tls(cert, key, null), now);
  }

  /** The secret number of an EC or RSA key (its encodings differ between PEM forms). */
  static java.math.BigInteger secret(java.security.PrivateKey key) {
    return switch (key) {
      case java.security.interfaces.ECPrivateKey ec -> ec.getS();
      case java.security.interfaces.RSAPrivateKey rsa -> rsa.getPrivateExponent();
      default -> throw new AssertionError(key.getAlgorithm());
    };
  }

  /** An RSA server certificate for localhost, valid now, and its PKCS#8 key. */
  TestCertificates.Issued rsaServer(String name) throws Exception {
    return server(name, "RSA", now.minus(Duration.ofHours(1)), now.plus(Duration.ofDays(1)));
  }

  /**
   * Asserts that {@code key} with {@code cert} has one problem, in the key file, reading {@code
   * message} and quoting none of the key file's base64 lines.
   */
  void assertKeyRefused(Path cert, Path key, String message) throws Exception {
    List<Problem> problems = problems(cert, key, null);
    assertThat(problems).as("%s", key).extracting(Problem::part).containsExactly(Part.KEY);
    String got = problems.getFirst().message();
    assertThat(got).isEqualTo(message);
    for (String line : Files.readAllLines(key)) {
      if (!line.startsWith("-----") && !line.contains(":") && line.length() >= 16) {
        assertThat(got).doesNotContain(line.substring(0, 16));
      }
    }
  }

  @Test
  void pkcs1RsaAndSec1EcKeys_areRead_asTheKeyTheirPkcs8FormHolds() throws Exception {
    // cert-manager's default privateKey.encoding (PKCS1) writes these for RSA and ECDSA keys
    Path sec1 = TestCertificates.traditional(certs.serverKey(), tmp.resolve("sec1.key"));
    assertThat(Files.readString(sec1)).startsWith("-----BEGIN EC PRIVATE KEY-----");
    TlsMaterial ec =
        TlsMaterial.read(new GrpcServer.Tls(certs.serverCert(), sec1, certs.caCert()), now);
    assertThat(ec.key().getAlgorithm()).isEqualTo("EC");
    assertThat(secret(ec.key()))
        .isEqualTo(secret(read(certs.serverCert(), certs.serverKey()).key()));
    assertThat(ec.clientCa()).hasSize(1);

    TestCertificates.Issued rsa = rsaServer("rsa");
    Path pkcs1 = TestCertificates.traditional(rsa.key(), tmp.resolve("pkcs1.key"));
    assertThat(Files.readString(pkcs1)).startsWith("-----BEGIN RSA PRIVATE KEY-----");
    TlsMaterial m = read(rsa.cert(), pkcs1);
    assertThat(m.key().getAlgorithm()).isEqualTo("RSA");
    assertThat(secret(m.key())).isEqualTo(secret(read(rsa.cert(), rsa.key()).key()));
  }

  @Test
  void sec1Key_afterAnEcParametersBlock_isRead() throws Exception {
    // what 'openssl ecparam -name prime256v1 -genkey' writes
    java.io.StringWriter params = new java.io.StringWriter();
    try (org.bouncycastle.util.io.pem.PemWriter w =
        new org.bouncycastle.util.io.pem.PemWriter(params)) {
      w.writeObject(
          new org.bouncycastle.util.io.pem.PemObject(
              "EC PARAMETERS",
              org.bouncycastle.asn1.sec.SECObjectIdentifiers.secp256r1.getEncoded()));
    }
    Path sec1 = TestCertificates.traditional(certs.serverKey(), tmp.resolve("sec1.key"));
    Path withParams =
        Files.writeString(tmp.resolve("ecparam.key"), params + Files.readString(sec1));
    assertThat(secret(read(certs.serverCert(), withParams).key()))
        .isEqualTo(secret(read(certs.serverCert(), certs.serverKey()).key()));
  }

  @Test
  void ed25519Pkcs8Key_isRead() throws Exception {
    TestCertificates.Issued ed =
        server("ed", "Ed25519", now.minus(Duration.ofHours(1)), now.plus(Duration.ofDays(1)));
    assertThat(read(ed.cert(), ed.key()).key().getAlgorithm()).isIn("EdDSA", "Ed25519");
  }

  @Test
  void pkcs1OrSec1KeyThatIsNotTheCertificates_isRefused_namingTheFile() throws Exception {
    TestCertificates.Issued rsa = rsaServer("rsa");
    Path pkcs1 = TestCertificates.traditional(rsaServer("other").key(), tmp.resolve("pkcs1.key"));
    assertKeyRefused(
        rsa.cert(),
        pkcs1,
        pkcs1
            + ": the private key does not belong to the certificate 'CN=rsa' in "
            + rsa.cert()
            + " (its public key is another one): give the key that certificate was issued for");

    Path sec1 = TestCertificates.traditional(certs.clientKey(), tmp.resolve("sec1.key"));
    assertKeyRefused(
        certs.serverCert(),
        sec1,
        sec1
            + ": the private key does not belong to the certificate 'CN=localhost' in "
            + certs.serverCert()
            + " (its public key is another one): give the key that certificate was issued for");
  }

  @Test
  void encryptedKeys_traditionalOrPkcs8_areRefused_sayingHowToDecryptThem() throws Exception {
    TestCertificates.Issued rsa = rsaServer("rsa");
    Path pkcs1 = TestCertificates.encryptedTraditional(rsa.key(), tmp.resolve("pkcs1-enc.key"));
    assertThat(Files.readString(pkcs1))
        .startsWith("-----BEGIN RSA PRIVATE KEY-----")
        .contains("Proc-Type: 4,ENCRYPTED");
    assertKeyRefused(
        rsa.cert(), pkcs1, encrypted(pkcs1, "BEGIN RSA PRIVATE KEY with Proc-Type: 4,ENCRYPTED"));

    Path sec1 =
        TestCertificates.encryptedTraditional(certs.serverKey(), tmp.resolve("sec1-enc.key"));
    assertKeyRefused(
        certs.serverCert(),
        sec1,
        encrypted(sec1, "BEGIN EC PRIVATE KEY with Proc-Type: 4,ENCRYPTED"));

    Path pkcs8 = TestCertificates.encryptedPkcs8(certs.serverKey(), tmp.resolve("pkcs8-enc.key"));
    assertThat(Files.readString(pkcs8)).startsWith("-----BEGIN ENCRYPTED PRIVATE KEY-----");
    assertKeyRefused(certs.serverCert(), pkcs8, encrypted(pkcs8, "BEGIN ENCRYPTED PRIVATE KEY"));
  }

  static String encrypted(Path key, String form) {
    return key
        + " is encrypted ("
        + form
        + "): there is no passphrase setting, so give the key unencrypted (decrypt it with"
        + " 'openssl pkey -in "
        + key
        + " -out "
        + key
        + ".plain')";
  }

  @Test
  void keysInOtherFormsOrDamaged_areRefused_namingTheFormsThatAreRead() throws Exception {
    String forms =
        "the gRPC listener reads unencrypted RSA, EC or EdDSA keys in PKCS#8 (BEGIN PRIVATE KEY),"
            + " PKCS#1 (BEGIN RSA PRIVATE KEY) or SEC1 (BEGIN EC PRIVATE KEY) PEM";
    Path openssh =
        Files.writeString(
            tmp.resolve("id_ed25519"),
            "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQ==\n"
                + "-----END OPENSSH PRIVATE KEY-----\n");
    assertKeyRefused(
        certs.serverCert(), openssh, openssh + " is a BEGIN OPENSSH PRIVATE KEY: " + forms);

    // a PKCS#8 body under a PKCS#1 label: not what the label says
    Path mislabelled =
        Files.writeString(
            tmp.resolve("mislabelled.key"),
            Files.readString(certs.serverKey()).replace("PRIVATE KEY", "RSA PRIVATE KEY"));
    assertKeyRefused(
        certs.serverCert(),
        mislabelled,
        mislabelled
            + ": the RSA PRIVATE KEY block cannot be parsed (damaged, or not the form its BEGIN"
            + " line names)");

    // an X25519 key: PKCS#8 that parses, but no key a TLS server can sign with
    byte[] x25519 =
        java.security.KeyPairGenerator.getInstance("X25519")
            .generateKeyPair()
            .getPrivate()
            .getEncoded();
    Path xdh =
        Files.writeString(
            tmp.resolve("x25519.key"),
            "-----BEGIN PRIVATE KEY-----\n"
                + java.util.Base64.getMimeEncoder().encodeToString(x25519)
                + "\n-----END PRIVATE KEY-----\n");
    assertKeyRefused(
        certs.serverCert(),
        xdh,
        xdh
            + " holds no RSA, EC or EdDSA private key that can be parsed (a damaged key, or an"
            + " algorithm or curve this JVM cannot serve TLS with): "
            + forms);
  }

  @Test
  void certAndKeySwapped_isNamedAsSuch() {
    assertThat(problems(certs.serverKey(), certs.serverCert(), null))
        .extracting(Problem::part, Problem::message)
        .containsExactlyInAnyOrder(
            org.assertj.core.groups.Tuple.tuple(
                Part.CERT,
                certs.serverKey()
                    + " holds a private key, not a certificate: are cert and key swapped?"),
            org.assertj.core.groups.Tuple.tuple(
                Part.KEY,
                certs.serverCert()
                    + " holds a certificate, not a private key: are cert and key swapped?"));
  }

  @Test
  void aKeyThatIsNotTheCertificates_isRefused() throws Exception {
    assertThat(problems(certs.serverCert(), certs.clientKey(), null))
        .singleElement()
        .satisfies(
            p -> {
              assertThat(p.part()).isEqualTo(Part.KEY);
              assertThat(p.message())
                  .startsWith(certs.clientKey() + ": the private key does not belong to")
                  .contains("'CN=localhost' in " + certs.serverCert());
            });
    TestCertificates.Issued rsa =
        server("rsa", "RSA", now.minus(Duration.ofHours(1)), now.plus(Duration.ofDays(1)));
    assertThat(problems(certs.serverCert(), rsa.key(), null))
        .as("an RSA key for an EC certificate")
        .extracting(Problem::part)
        .containsExactly(Part.KEY);
  }

  @Test
  void expiredOrNotYetValidLeaf_isRefused_withItsDates() throws Exception {
    TestCertificates.Issued expired =
        server(
            "expired",
            "EC",
            Instant.parse("2020-01-01T00:00:00Z"),
            Instant.parse("2021-01-01T00:00:00Z"));
    assertThat(problems(expired.cert(), expired.key(), null))
        .singleElement()
        .satisfies(
            p -> {
              assertThat(p.part()).isEqualTo(Part.CERT);
              assertThat(p.message())
                  .isEqualTo(
                      expired.cert()
                          + ": the certificate 'CN=expired' expired at 2021-01-01T00:00:00Z"
                          + " (valid from 2020-01-01T00:00:00Z to 2021-01-01T00:00:00Z)");
            });

    Instant from = now.plus(Duration.ofDays(1)).truncatedTo(java.time.temporal.ChronoUnit.SECONDS);
    TestCertificates.Issued future = server("future", "EC", from, from.plus(Duration.ofDays(9)));
    assertThat(problems(future.cert(), future.key(), null))
        .singleElement()
        .satisfies(
            p ->
                assertThat(p.message())
                    .startsWith(
                        future.cert()
                            + ": the certificate 'CN=future' is not valid until "
                            + from));
  }

  @Test
  void clientCaWithoutACertificate_isRefused() throws Exception {
    Path empty = Files.writeString(tmp.resolve("empty.pem"), "not a PEM file\n");
    assertThat(problems(certs.serverCert(), certs.serverKey(), empty))
        .singleElement()
        .satisfies(
            p -> {
              assertThat(p.part()).isEqualTo(Part.CLIENT_CA);
              assertThat(p.message())
                  .isEqualTo(empty + " holds no PEM CA certificate (-----BEGIN CERTIFICATE-----)");
            });
  }

  @Test
  void missingFiles_areNamed() {
    Path none = tmp.resolve("none.pem");
    assertThat(problems(none, certs.serverKey(), none))
        .extracting(Problem::part)
        .containsExactly(Part.CERT, Part.CLIENT_CA);
    assertThat(problems(none, certs.serverKey(), null))
        .singleElement()
        .satisfies(p -> assertThat(p.message()).startsWith("cannot read " + none));
  }
}
