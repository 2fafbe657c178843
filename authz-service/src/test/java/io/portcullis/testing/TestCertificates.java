package io.portcullis.testing;

import java.io.IOException;
import java.io.StringWriter;
import java.math.BigInteger;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.KeyPair;
import java.security.KeyPairGenerator;
import java.security.PrivateKey;
import java.security.SecureRandom;
import java.security.cert.X509Certificate;
import java.security.spec.ECGenParameterSpec;
import java.time.Duration;
import java.time.Instant;
import java.util.Date;
import org.bouncycastle.asn1.pkcs.PrivateKeyInfo;
import org.bouncycastle.asn1.x500.X500Name;
import org.bouncycastle.asn1.x509.BasicConstraints;
import org.bouncycastle.asn1.x509.Extension;
import org.bouncycastle.asn1.x509.GeneralName;
import org.bouncycastle.asn1.x509.GeneralNames;
import org.bouncycastle.asn1.x509.KeyUsage;
import org.bouncycastle.cert.X509CertificateHolder;
import org.bouncycastle.cert.X509v3CertificateBuilder;
import org.bouncycastle.cert.jcajce.JcaX509CertificateConverter;
import org.bouncycastle.cert.jcajce.JcaX509v3CertificateBuilder;
import org.bouncycastle.openssl.PEMParser;
import org.bouncycastle.openssl.jcajce.JcaPEMKeyConverter;
import org.bouncycastle.openssl.jcajce.JcaPEMWriter;
import org.bouncycastle.openssl.jcajce.JcaPKCS8Generator;
import org.bouncycastle.operator.jcajce.JcaContentSignerBuilder;

/**
 * A throwaway PKI for TLS tests: a CA, a server certificate for {@code localhost}/127.0.0.1 and a
 * client certificate with a SPIFFE URI SAN, written as PEM files into a directory.
 *
 * @param dir where the files are
 */
public record TestCertificates(Path dir) {

  public Path caCert() {
    return dir.resolve("ca.pem");
  }

  public Path serverCert() {
    return dir.resolve("server.pem");
  }

  public Path serverKey() {
    return dir.resolve("server.key");
  }

  public Path clientCert() {
    return dir.resolve("client.pem");
  }

  public Path clientKey() {
    return dir.resolve("client.key");
  }

  /** Another CA's client certificate: must be refused by a server trusting {@link #caCert()}. */
  public Path strangerCert() {
    return dir.resolve("stranger.pem");
  }

  public Path strangerKey() {
    return dir.resolve("stranger.key");
  }

  public Path caKey() {
    return dir.resolve("ca.key");
  }

  /**
   * A certificate and its PKCS#8 key.
   *
   * @param cert PEM certificate
   * @param key PEM private key ({@code BEGIN PRIVATE KEY})
   */
  public record Issued(Path cert, Path key) {}

  /**
   * Issues {@code name.pem} and {@code name.key} from this CA, valid from {@code notBefore} to
   * {@code notAfter}.
   *
   * @param keyAlgorithm {@code EC} (P-256) or {@code RSA} (2048 bits)
   * @param sans subject alternative names, as {@link GeneralName}s (e.g. {@code new
   *     GeneralName(GeneralName.dNSName, "localhost")})
   */
  public Issued issue(
      String name, String keyAlgorithm, Instant notBefore, Instant notAfter, GeneralName... sans)
      throws Exception {
    KeyPair caKeys = new KeyPair(readCertificate(caCert()).getPublicKey(), readKey(caKey()));
    KeyPair keys = keys(keyAlgorithm);
    X509Certificate cert =
        sign(
            "CN=" + name,
            keys,
            "CN=Portcullis Test CA",
            caKeys,
            notBefore,
            notAfter,
            false,
            sans.length == 0 ? null : new GeneralNames(sans));
    Issued issued = new Issued(dir.resolve(name + ".pem"), dir.resolve(name + ".key"));
    write(issued.cert(), cert);
    writeKey(issued.key(), keys);
    return issued;
  }

  /** As {@link #issue(String, String, Instant, Instant, GeneralName...)}: EC, valid for a day. */
  public Issued issue(String name, GeneralName... sans) throws Exception {
    Instant now = Instant.now();
    return issue(name, "EC", now.minus(Duration.ofHours(1)), now.plus(Duration.ofDays(1)), sans);
  }

  /**
   * {@code pkcs8Key} rewritten in OpenSSL's traditional form: PKCS#1 ({@code BEGIN RSA PRIVATE
   * KEY}) for RSA, SEC1 ({@code BEGIN EC PRIVATE KEY}) for EC; into {@code out}.
   */
  public static Path traditional(Path pkcs8Key, Path out) throws Exception {
    write(out, readKey(pkcs8Key));
    return out;
  }

  private static PrivateKey readKey(Path file) throws Exception {
    try (PEMParser p = new PEMParser(Files.newBufferedReader(file))) {
      return new JcaPEMKeyConverter().getPrivateKey((PrivateKeyInfo) p.readObject());
    }
  }

  private static X509Certificate readCertificate(Path file) throws Exception {
    try (PEMParser p = new PEMParser(Files.newBufferedReader(file))) {
      return new JcaX509CertificateConverter()
          .getCertificate((X509CertificateHolder) p.readObject());
    }
  }

  public static TestCertificates create(Path dir, String clientSpiffeId) throws Exception {
    Instant now = Instant.now();
    KeyPair caKeys = keys();
    X509Certificate ca =
        sign("CN=Portcullis Test CA", caKeys, "CN=Portcullis Test CA", caKeys, now, true, null);
    KeyPair serverKeys = keys();
    X509Certificate server =
        sign(
            "CN=localhost",
            serverKeys,
            "CN=Portcullis Test CA",
            caKeys,
            now,
            false,
            new GeneralNames(
                new GeneralName[] {
                  new GeneralName(GeneralName.dNSName, "localhost"),
                  new GeneralName(GeneralName.iPAddress, "127.0.0.1")
                }));
    KeyPair clientKeys = keys();
    X509Certificate client =
        sign(
            "CN=client",
            clientKeys,
            "CN=Portcullis Test CA",
            caKeys,
            now,
            false,
            new GeneralNames(
                new GeneralName(GeneralName.uniformResourceIdentifier, clientSpiffeId)));
    KeyPair strangerCaKeys = keys();
    KeyPair strangerKeys = keys();
    X509Certificate stranger =
        sign("CN=stranger", strangerKeys, "CN=Other CA", strangerCaKeys, now, false, null);
    Files.createDirectories(dir);
    write(dir.resolve("ca.pem"), ca);
    writeKey(dir.resolve("ca.key"), caKeys);
    write(dir.resolve("server.pem"), server);
    writeKey(dir.resolve("server.key"), serverKeys);
    write(dir.resolve("client.pem"), client);
    writeKey(dir.resolve("client.key"), clientKeys);
    write(dir.resolve("stranger.pem"), stranger);
    writeKey(dir.resolve("stranger.key"), strangerKeys);
    return new TestCertificates(dir);
  }

  private static KeyPair keys() throws Exception {
    return keys("EC");
  }

  private static KeyPair keys(String algorithm) throws Exception {
    KeyPairGenerator g = KeyPairGenerator.getInstance(algorithm);
    if (algorithm.equals("EC")) {
      g.initialize(new ECGenParameterSpec("secp256r1"), new SecureRandom());
    } else {
      g.initialize(2048, new SecureRandom());
    }
    return g.generateKeyPair();
  }

  private static X509Certificate sign(
      String subject,
      KeyPair subjectKeys,
      String issuer,
      KeyPair issuerKeys,
      Instant now,
      boolean isCa,
      GeneralNames san)
      throws Exception {
    return sign(
        subject,
        subjectKeys,
        issuer,
        issuerKeys,
        now.minus(Duration.ofHours(1)),
        now.plus(Duration.ofDays(2)),
        isCa,
        san);
  }

  private static X509Certificate sign(
      String subject,
      KeyPair subjectKeys,
      String issuer,
      KeyPair issuerKeys,
      Instant notBefore,
      Instant notAfter,
      boolean isCa,
      GeneralNames san)
      throws Exception {
    X509v3CertificateBuilder b =
        new JcaX509v3CertificateBuilder(
            new X500Name(issuer),
            new BigInteger(64, new SecureRandom()),
            Date.from(notBefore),
            Date.from(notAfter),
            new X500Name(subject),
            subjectKeys.getPublic());
    b.addExtension(Extension.basicConstraints, true, new BasicConstraints(isCa));
    b.addExtension(
        Extension.keyUsage,
        true,
        new KeyUsage(
            isCa
                ? KeyUsage.keyCertSign | KeyUsage.cRLSign
                : KeyUsage.digitalSignature | KeyUsage.keyEncipherment));
    if (san != null) {
      b.addExtension(Extension.subjectAlternativeName, false, san);
    }
    return new JcaX509CertificateConverter()
        .getCertificate(
            b.build(new JcaContentSignerBuilder("SHA256withECDSA").build(issuerKeys.getPrivate())));
  }

  private static void write(Path file, Object pem) throws IOException {
    StringWriter s = new StringWriter();
    try (JcaPEMWriter w = new JcaPEMWriter(s)) {
      w.writeObject(pem);
    }
    Files.writeString(file, s.toString());
  }

  private static void writeKey(Path file, KeyPair keys) throws Exception {
    write(file, new JcaPKCS8Generator(keys.getPrivate(), null).generate());
  }
}
