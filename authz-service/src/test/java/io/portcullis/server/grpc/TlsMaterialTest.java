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

  @Test
  void sec1AndPkcs1Keys_areRefused_sayingHowToConvertThem() throws Exception {
    Path sec1 = TestCertificates.traditional(certs.serverKey(), tmp.resolve("sec1.key"));
    assertThat(Files.readString(sec1)).startsWith("-----BEGIN EC PRIVATE KEY-----");
    assertThat(problems(certs.serverCert(), sec1, null))
        .singleElement()
        .satisfies(
            p -> {
              assertThat(p.part()).isEqualTo(Part.KEY);
              assertThat(p.message())
                  .startsWith(sec1 + " is a SEC1 EC key (BEGIN EC PRIVATE KEY)")
                  .contains("PKCS#8")
                  .contains("openssl pkcs8 -topk8 -nocrypt -in " + sec1);
            });

    TestCertificates.Issued rsa =
        server("rsa", "RSA", now.minus(Duration.ofHours(1)), now.plus(Duration.ofDays(1)));
    Path pkcs1 = TestCertificates.traditional(rsa.key(), tmp.resolve("pkcs1.key"));
    assertThat(Files.readString(pkcs1)).startsWith("-----BEGIN RSA PRIVATE KEY-----");
    assertThat(problems(rsa.cert(), pkcs1, null))
        .singleElement()
        .satisfies(
            p ->
                assertThat(p.message())
                    .startsWith(pkcs1 + " is a PKCS#1 RSA key (BEGIN RSA PRIVATE KEY)")
                    .contains("openssl pkcs8 -topk8 -nocrypt"));
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
