package io.portcullis.server.grpc;

import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.StringReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.GeneralSecurityException;
import java.security.PrivateKey;
import java.security.PublicKey;
import java.security.SecureRandom;
import java.security.Signature;
import java.security.cert.CertificateException;
import java.security.cert.CertificateFactory;
import java.security.cert.X509Certificate;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Collectors;
import org.bouncycastle.asn1.pkcs.PrivateKeyInfo;
import org.bouncycastle.openssl.PEMEncryptedKeyPair;
import org.bouncycastle.openssl.PEMKeyPair;
import org.bouncycastle.openssl.PEMParser;
import org.bouncycastle.openssl.jcajce.JcaPEMKeyConverter;
import org.bouncycastle.pkcs.PKCS8EncryptedPrivateKeyInfo;
import org.jspecify.annotations.Nullable;

/**
 * The gRPC listener's TLS material, read from PEM files and checked before it is used, so that a
 * bad file stops the start (or a reload) with a message naming the file and the problem instead of
 * a listener whose every handshake fails.
 *
 * <p>Checked: the certificate file holds at least one certificate (the leaf first, then
 * intermediates) and the leaf is valid now; the key file holds an unencrypted RSA, EC or EdDSA
 * private key whose public half is the leaf's; the client CA file holds at least one certificate.
 * The key is read in each form OpenSSL and cert-manager write: PKCS#8 ({@code BEGIN PRIVATE KEY}),
 * PKCS#1 ({@code BEGIN RSA PRIVATE KEY}, cert-manager's default {@code privateKey.encoding} for
 * RSA) and SEC1 ({@code BEGIN EC PRIVATE KEY}, its default for ECDSA, also after an {@code EC
 * PARAMETERS} block as {@code openssl ecparam -genkey} writes). An encrypted key, PKCS#8 ({@code
 * BEGIN ENCRYPTED PRIVATE KEY}) or traditional ({@code Proc-Type: 4,ENCRYPTED}), is refused with
 * the command that decrypts it: there is no passphrase setting. Key files are never quoted in
 * messages.
 *
 * <p>BouncyCastle's {@link PEMParser} reads the PEM structure; the key itself is built by the JDK's
 * own {@link java.security.KeyFactory} ({@link JcaPEMKeyConverter} without a provider), so what the
 * listener serves is a plain JDK key whatever the file's form. BouncyCastle is never registered as
 * a JCA provider.
 *
 * @param chain the server certificate chain, leaf first
 * @param key the leaf certificate's private key
 * @param clientCa the CA certificates a client certificate must chain to; empty for TLS without
 *     client authentication
 */
public record TlsMaterial(
    List<X509Certificate> chain, PrivateKey key, List<X509Certificate> clientCa) {

  public TlsMaterial {
    chain = List.copyOf(chain);
    clientCa = List.copyOf(clientCa);
    if (chain.isEmpty()) {
      throw new IllegalArgumentException("no certificate");
    }
  }

  /** The server's own certificate. */
  public X509Certificate leaf() {
    return chain.getFirst();
  }

  /** Which file a {@link Problem} is in. */
  public enum Part {
    CERT,
    KEY,
    CLIENT_CA
  }

  /**
   * One problem with the material.
   *
   * @param part the file it is in
   * @param message what is wrong, naming the file, and what to do
   */
  public record Problem(Part part, String message) {}

  /** The files cannot serve; lists every problem found. */
  public static final class InvalidException extends Exception {
    private static final long serialVersionUID = 1L;

    private final transient List<Problem> problems;

    InvalidException(List<Problem> problems) {
      super(problems.stream().map(Problem::message).collect(Collectors.joining("; ")));
      this.problems = List.copyOf(problems);
    }

    public List<Problem> problems() {
      return problems;
    }
  }

  /**
   * Reads and checks the files.
   *
   * @param now the instant the leaf certificate must be valid at, or {@code null} not to check its
   *     validity window (commands that open no listener)
   * @throws InvalidException with every problem found
   */
  public static TlsMaterial read(GrpcServer.Tls files, @Nullable Instant now)
      throws InvalidException {
    List<Problem> problems = new ArrayList<>();
    List<X509Certificate> chain = certificates(files.certChain(), Part.CERT, problems);
    PrivateKey key = privateKey(files.privateKey(), problems);
    List<X509Certificate> clientCa =
        files.clientCa() == null
            ? List.of()
            : certificates(files.clientCa(), Part.CLIENT_CA, problems);
    if (!chain.isEmpty() && now != null) {
      X509Certificate leaf = chain.getFirst();
      Instant notBefore = leaf.getNotBefore().toInstant();
      Instant notAfter = leaf.getNotAfter().toInstant();
      String outside =
          now.isAfter(notAfter)
              ? "expired at " + notAfter
              : now.isBefore(notBefore) ? "is not valid until " + notBefore : null;
      if (outside != null) {
        problems.add(
            new Problem(
                Part.CERT,
                files.certChain()
                    + ": the certificate "
                    + subject(leaf)
                    + " "
                    + outside
                    + " (valid from "
                    + notBefore
                    + " to "
                    + notAfter
                    + ")"));
      }
      if (key != null && !belongTogether(key, leaf.getPublicKey())) {
        problems.add(
            new Problem(
                Part.KEY,
                files.privateKey()
                    + ": the private key does not belong to the certificate "
                    + subject(leaf)
                    + " in "
                    + files.certChain()
                    + " (its public key is another one): give the key that certificate was issued"
                    + " for"));
      }
    }
    if (!problems.isEmpty() || key == null) {
      throw new InvalidException(problems);
    }
    return new TlsMaterial(chain, key, clientCa);
  }

  /** A PEM block: its type ({@code BEGIN <type>}), its decoded body, and its whole text. */
  private record Block(String type, byte[] der, String pem) {}

  private static final Pattern PEM =
      Pattern.compile("-----BEGIN ([A-Z0-9 ]+)-----(.*?)-----END \\1-----", Pattern.DOTALL);

  /** The PEM blocks of {@code file}, or {@code null} (reported) if it cannot be read. */
  private static @Nullable List<Block> blocks(Path file, Part part, List<Problem> problems) {
    String text;
    try {
      text = Files.readString(file, StandardCharsets.ISO_8859_1);
    } catch (IOException e) {
      problems.add(new Problem(part, "cannot read " + file + ": " + e.getMessage()));
      return null;
    }
    List<Block> blocks = new ArrayList<>();
    Matcher m = PEM.matcher(text);
    while (m.find()) {
      byte[] der;
      try {
        der = Base64.getMimeDecoder().decode(m.group(2).trim());
      } catch (IllegalArgumentException e) {
        der = new byte[0]; // a broken block: its parser reports it
      }
      blocks.add(new Block(m.group(1), der, m.group()));
    }
    return blocks;
  }

  private static List<X509Certificate> certificates(Path file, Part part, List<Problem> problems) {
    List<Block> blocks = blocks(file, part, problems);
    if (blocks == null) {
      return List.of();
    }
    List<X509Certificate> certs = new ArrayList<>();
    CertificateFactory factory;
    try {
      factory = CertificateFactory.getInstance("X.509");
    } catch (CertificateException e) {
      throw new IllegalStateException("no X.509 support in this JVM", e);
    }
    int n = 0;
    for (Block b : blocks) {
      if (!b.type().equals("CERTIFICATE")) {
        continue;
      }
      n++;
      try {
        certs.add((X509Certificate) factory.generateCertificate(new ByteArrayInputStream(b.der())));
      } catch (CertificateException e) {
        problems.add(
            new Problem(
                part, file + ": certificate " + n + " cannot be parsed: " + e.getMessage()));
        return List.of();
      }
    }
    if (n == 0) {
      String what = part == Part.CLIENT_CA ? "CA certificate" : "certificate";
      problems.add(
          new Problem(
              part,
              blocks.stream().anyMatch(b -> b.type().endsWith("PRIVATE KEY"))
                  ? file
                      + " holds a private key, not a "
                      + what
                      + (part == Part.CERT ? ": are cert and key swapped?" : "")
                  : file + " holds no PEM " + what + " (-----BEGIN CERTIFICATE-----)"));
    }
    return certs;
  }

  /** The key forms {@link #privateKey} reads, or refuses as encrypted, by their PEM type. */
  private static final List<String> KEY_TYPES =
      List.of("PRIVATE KEY", "RSA PRIVATE KEY", "EC PRIVATE KEY", "ENCRYPTED PRIVATE KEY");

  /** The algorithms a TLS server key can have ({@link PrivateKey#getAlgorithm()}). */
  private static final List<String> KEY_ALGORITHMS =
      List.of("RSA", "EC", "EdDSA", "Ed25519", "Ed448");

  private static final String FORMS =
      "the gRPC listener reads unencrypted RSA, EC or EdDSA keys in PKCS#8 (BEGIN PRIVATE KEY),"
          + " PKCS#1 (BEGIN RSA PRIVATE KEY) or SEC1 (BEGIN EC PRIVATE KEY) PEM";

  private static @Nullable PrivateKey privateKey(Path file, List<Problem> problems) {
    List<Block> blocks = blocks(file, Part.KEY, problems);
    if (blocks == null) {
      return null;
    }
    // the first key block: an "EC PARAMETERS" block before it (openssl ecparam -genkey) is skipped
    Block key =
        blocks.stream().filter(b -> b.type().endsWith("PRIVATE KEY")).findFirst().orElse(null);
    if (key == null) {
      problems.add(
          new Problem(
              Part.KEY,
              blocks.stream().anyMatch(b -> b.type().equals("CERTIFICATE"))
                  ? file + " holds a certificate, not a private key: are cert and key swapped?"
                  : file + " holds no PEM private key (-----BEGIN PRIVATE KEY-----)"));
      return null;
    }
    if (!KEY_TYPES.contains(key.type())) {
      problems.add(new Problem(Part.KEY, file + " is a BEGIN " + key.type() + ": " + FORMS));
      return null;
    }
    Object parsed;
    try (PEMParser parser = new PEMParser(new StringReader(key.pem()))) {
      parsed = parser.readObject();
    } catch (IOException | RuntimeException e) {
      parsed = null; // the message could quote the key's bytes: not passed on
    }
    String decrypt =
        ": there is no passphrase setting, so give the key unencrypted (decrypt it with 'openssl"
            + " pkey -in "
            + file
            + " -out "
            + file
            + ".plain')";
    PrivateKeyInfo info =
        switch (parsed) {
          case PrivateKeyInfo pkcs8 -> pkcs8;
          case PEMKeyPair traditional -> traditional.getPrivateKeyInfo(); // PKCS#1 or SEC1
          case PKCS8EncryptedPrivateKeyInfo encrypted -> {
            problems.add(
                new Problem(
                    Part.KEY, file + " is encrypted (BEGIN ENCRYPTED PRIVATE KEY)" + decrypt));
            yield null;
          }
          case PEMEncryptedKeyPair encrypted -> {
            problems.add(
                new Problem(
                    Part.KEY,
                    file
                        + " is encrypted (BEGIN "
                        + key.type()
                        + " with Proc-Type: 4,ENCRYPTED)"
                        + decrypt));
            yield null;
          }
          case null, default -> {
            problems.add(
                new Problem(
                    Part.KEY,
                    file
                        + ": the "
                        + key.type()
                        + " block cannot be parsed (damaged, or not the form its BEGIN line"
                        + " names)"));
            yield null;
          }
        };
    if (info == null) {
      return null;
    }
    PrivateKey parsedKey;
    try {
      parsedKey = new JcaPEMKeyConverter().getPrivateKey(info);
    } catch (IOException | RuntimeException e) {
      parsedKey = null; // as above: the message is not passed on
    }
    if (parsedKey == null || !KEY_ALGORITHMS.contains(parsedKey.getAlgorithm())) {
      problems.add(
          new Problem(
              Part.KEY,
              file
                  + " holds no RSA, EC or EdDSA private key that can be parsed (a damaged key, or"
                  + " an algorithm or curve this JVM cannot serve TLS with): "
                  + FORMS));
      return null;
    }
    return parsedKey;
  }

  /**
   * Whether {@code key} is the private half of {@code pub}: a signature made with it verifies with
   * {@code pub}, which works alike for every key algorithm.
   */
  private static boolean belongTogether(PrivateKey key, PublicKey pub) {
    if (!key.getAlgorithm().equals(pub.getAlgorithm())) {
      return false;
    }
    String algorithm =
        switch (key.getAlgorithm()) {
          case "RSA" -> "SHA256withRSA";
          case "EC" -> "SHA256withECDSA";
          default -> key.getAlgorithm(); // Ed25519, Ed448
        };
    try {
      byte[] challenge = new byte[32];
      new SecureRandom().nextBytes(challenge);
      Signature signer = Signature.getInstance(algorithm);
      signer.initSign(key);
      signer.update(challenge);
      byte[] signature = signer.sign();
      Signature verifier = Signature.getInstance(algorithm);
      verifier.initVerify(pub);
      verifier.update(challenge);
      return verifier.verify(signature);
    } catch (GeneralSecurityException e) {
      return false;
    }
  }

  private static String subject(X509Certificate cert) {
    return "'" + cert.getSubjectX500Principal().getName() + "'";
  }
}
