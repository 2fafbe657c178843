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
import java.security.interfaces.ECPrivateKey;
import java.security.spec.ECGenParameterSpec;
import java.time.Duration;
import java.time.Instant;
import java.util.Date;
import java.util.List;
import java.util.Locale;
import org.bouncycastle.asn1.ASN1ObjectIdentifier;
import org.bouncycastle.asn1.DERBitString;
import org.bouncycastle.asn1.pkcs.PrivateKeyInfo;
import org.bouncycastle.asn1.x500.X500Name;
import org.bouncycastle.asn1.x509.BasicConstraints;
import org.bouncycastle.asn1.x509.Extension;
import org.bouncycastle.asn1.x509.GeneralName;
import org.bouncycastle.asn1.x509.GeneralNames;
import org.bouncycastle.asn1.x509.KeyUsage;
import org.bouncycastle.asn1.x9.ECNamedCurveTable;
import org.bouncycastle.asn1.x9.X9ECParameters;
import org.bouncycastle.cert.X509CertificateHolder;
import org.bouncycastle.cert.X509v3CertificateBuilder;
import org.bouncycastle.cert.jcajce.JcaX509CertificateConverter;
import org.bouncycastle.cert.jcajce.JcaX509v3CertificateBuilder;
import org.bouncycastle.jce.provider.BouncyCastleProvider;
import org.bouncycastle.openssl.PEMEncryptor;
import org.bouncycastle.openssl.PEMParser;
import org.bouncycastle.openssl.PKCS8Generator;
import org.bouncycastle.openssl.jcajce.JcaPEMKeyConverter;
import org.bouncycastle.openssl.jcajce.JcaPEMWriter;
import org.bouncycastle.openssl.jcajce.JcaPKCS8Generator;
import org.bouncycastle.openssl.jcajce.JceOpenSSLPKCS8EncryptorBuilder;
import org.bouncycastle.openssl.jcajce.JcePEMEncryptorBuilder;
import org.bouncycastle.operator.jcajce.JcaContentSignerBuilder;
import org.bouncycastle.util.encoders.Hex;
import org.bouncycastle.util.io.pem.PemHeader;
import org.bouncycastle.util.io.pem.PemObject;
import org.bouncycastle.util.io.pem.PemWriter;

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
   * @param keyAlgorithm {@code EC} (P-256), {@code RSA} (2048 bits) or {@code Ed25519}
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
   * {@code pkcs8Key} rewritten in OpenSSL's traditional form, as {@code openssl rsa -traditional} /
   * {@code openssl ec} and cert-manager's default {@code privateKey.encoding: PKCS1} write it:
   * PKCS#1 ({@code BEGIN RSA PRIVATE KEY}) for RSA, SEC1 ({@code BEGIN EC PRIVATE KEY}, with the
   * curve and the public point) for EC; into {@code out}.
   */
  public static Path traditional(Path pkcs8Key, Path out) throws Exception {
    write(out, traditionalPem(readKey(pkcs8Key)));
    return out;
  }

  /** The passphrase of {@link #encryptedTraditional} and {@link #encryptedPkcs8} keys. */
  public static final String PASSPHRASE = "correct horse battery staple";

  // The encryptors below need BouncyCastle's provider for OpenSSL's key derivations: it is handed
  // to them, never registered.

  /**
   * {@code pkcs8Key} in OpenSSL's traditional form encrypted with {@link #PASSPHRASE}, as {@code
   * openssl rsa -aes256 -traditional} writes it: {@code BEGIN RSA PRIVATE KEY} (or {@code EC}) with
   * {@code Proc-Type: 4,ENCRYPTED} and {@code DEK-Info} headers; into {@code out}.
   */
  public static Path encryptedTraditional(Path pkcs8Key, Path out) throws Exception {
    PemObject plain = traditionalPem(readKey(pkcs8Key));
    PEMEncryptor encryptor =
        new JcePEMEncryptorBuilder("AES-256-CBC")
            .setProvider(new BouncyCastleProvider())
            .build(PASSPHRASE.toCharArray());
    write(
        out,
        new PemObject(
            plain.getType(),
            List.of(
                new PemHeader("Proc-Type", "4,ENCRYPTED"),
                new PemHeader(
                    "DEK-Info",
                    encryptor.getAlgorithm()
                        + ","
                        + Hex.toHexString(encryptor.getIV()).toUpperCase(Locale.ROOT))),
            encryptor.encrypt(plain.getContent())));
    return out;
  }

  /**
   * {@code pkcs8Key} as encrypted PKCS#8 ({@code BEGIN ENCRYPTED PRIVATE KEY}, PBES2 with
   * AES-256-CBC and {@link #PASSPHRASE}), as {@code openssl pkcs8 -topk8} writes it; into {@code
   * out}.
   */
  public static Path encryptedPkcs8(Path pkcs8Key, Path out) throws Exception {
    write(
        out,
        new JcaPKCS8Generator(
                readKey(pkcs8Key),
                new JceOpenSSLPKCS8EncryptorBuilder(PKCS8Generator.AES_256_CBC)
                    .setProvider(new BouncyCastleProvider())
                    .setPassword(PASSPHRASE.toCharArray())
                    .build())
            .generate());
    return out;
  }

  /** {@code key} as PKCS#1 (RSA) or SEC1 (EC) DER, in a PEM object of the matching type. */
  private static PemObject traditionalPem(PrivateKey key) throws IOException {
    PrivateKeyInfo info = PrivateKeyInfo.getInstance(key.getEncoded());
    if (key instanceof ECPrivateKey ec) {
      // The JDK's PKCS#8 encoding keeps the curve outside the inner key, which is therefore no
      // SEC1 file by itself: OpenSSL writes the curve and the public point inside.
      ASN1ObjectIdentifier curve =
          ASN1ObjectIdentifier.getInstance(info.getPrivateKeyAlgorithm().getParameters());
      X9ECParameters x9 = ECNamedCurveTable.getByOID(curve);
      byte[] point = x9.getG().multiply(ec.getS()).normalize().getEncoded(false);
      return new PemObject(
          "EC PRIVATE KEY",
          new org.bouncycastle.asn1.sec.ECPrivateKey(
                  x9.getN().bitLength(), ec.getS(), new DERBitString(point), curve)
              .getEncoded());
    }
    return new PemObject("RSA PRIVATE KEY", info.parsePrivateKey().toASN1Primitive().getEncoded());
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
    switch (algorithm) {
      case "EC" -> g.initialize(new ECGenParameterSpec("secp256r1"), new SecureRandom());
      case "RSA" -> g.initialize(2048, new SecureRandom());
      default -> {} // Ed25519: nothing to choose
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

  private static void write(Path file, PemObject pem) throws IOException {
    StringWriter s = new StringWriter();
    try (PemWriter w = new PemWriter(s)) {
      w.writeObject(pem);
    }
    Files.writeString(file, s.toString());
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
